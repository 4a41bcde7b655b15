"""Bad and tricky recipient files (issue 17's rule: every row carries its own evidence; where it is
missing or contradicts itself the row is reported with a reason that names the fix; nothing is
coerced; a broken row never sinks the upload; when in doubt, do not send).

Each test is an input that once went wrong: a traceback, a row lost, a value read as something
it is not, or a reason that sent staff the wrong way."""

from __future__ import annotations

import codecs
import datetime
import io
import json
import zipfile
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from campaigns.lists.file_preview import preview_file
from campaigns.lists.importing import ImportRefused, import_recipient_list
from campaigns.lists.mapping import Mapping
from campaigns.models import Recipient, RecipientList

pytestmark = pytest.mark.django_db


def _import(data: bytes, **kwargs) -> RecipientList:
    recipient_list = RecipientList.objects.create(name="breaking", consent_basis="opt_in")
    import_recipient_list(recipient_list, io.BytesIO(data), **kwargs)
    return recipient_list


def _rows(recipient_list: RecipientList) -> list[tuple[int, str, str, str]]:
    """(row, status, key, error) of every recipient, in file order."""
    return list(
        recipient_list.recipients.order_by("row_number").values_list("row_number", "status", "key", "error")
    )


def _vcard(*lines: str, end: bool = True) -> str:
    return "\r\n".join(["BEGIN:VCARD", "VERSION:3.0", *lines, *(["END:VCARD"] if end else [])]) + "\r\n"


def _workbook(*rows: list) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# vCard -------------------------------------------------------------------------------------------
def test_a_vcard_contact_without_end_at_the_end_of_the_file_is_reported_not_lost():
    data = _vcard("FN:Anna", "TEL:+4915123456701") + _vcard("FN:Bob", "TEL:+4915123456702", end=False)

    rows = _rows(_import(data.encode()))

    assert [(r[1], r[2]) for r in rows] == [("valid", "+4915123456701"), ("invalid", "")]
    assert "no END:VCARD" in rows[1][3] and "“Bob”" in rows[1][3]


def test_a_vcard_contact_whose_end_is_missing_before_the_next_begin_is_reported_not_lost():
    data = _vcard("FN:Anna", "TEL:+4915123456701", end=False) + _vcard("FN:Bob", "TEL:+4915123456702")

    rows = _rows(_import(data.encode()))

    assert sorted((r[1], r[2]) for r in rows) == [("invalid", ""), ("valid", "+4915123456702")]
    assert any("no END:VCARD" in r[3] and "“Anna”" in r[3] for r in rows)


def test_a_nested_vcard_keeps_the_outer_contacts_numbers_with_the_outer_contact():
    inner = _vcard("FN:Inner", "TEL:+4915123456704")
    data = "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Outer\r\nTEL:+4915123456703\r\n" + inner
    data += "TEL:+4915123456705\r\nEND:VCARD\r\n"

    recipient_list = _import(data.encode())

    keys = {r.key: r for r in recipient_list.recipients.all()}
    assert set(keys) == {"+4915123456703", "+4915123456704"}
    assert keys["+4915123456703"].fields["full_name"] == "Outer"
    assert list(keys["+4915123456703"].other_identities.values_list("key", flat=True)) == ["+4915123456705"]


def test_a_vcards_fax_number_is_never_a_recipient():
    data = _vcard("FN:Office", "TEL;TYPE=FAX:+4930123456") + _vcard(
        "FN:Anna", "TEL;TYPE=WORK,FAX:+4930123457", "TEL;TYPE=CELL:+4915123456706"
    )

    rows = _rows(_import(data.encode()))

    assert [(r[1], r[2]) for r in rows] == [("invalid", ""), ("valid", "+4915123456706")]
    assert "only numbers are fax" in rows[0][3]
    assert not Recipient.objects.filter(other_identities__key="+4930123457").exists()


def test_a_vcard_saved_as_utf16_is_read_as_a_vcard():
    data = _vcard("FN:Jürgen", "TEL:+4915123456710").encode("utf-16")

    recipient_list = _import(data)

    recipient = recipient_list.recipients.get()
    assert (recipient.key, recipient.fields["full_name"]) == ("+4915123456710", "Jürgen")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16-be", "utf-32"])
def test_a_vcard_starting_with_any_byte_order_mark_is_read_as_a_vcard(encoding):
    data = (_vcard("FN:Jürgen", "TEL:+4915123456710") + _vcard("FN:Zoë", "TEL:+4915123456711")).encode(
        encoding
    )
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data

    recipient_list = _import(data)

    assert [(r.key, r.fields["full_name"]) for r in recipient_list.recipients.order_by("row_number")] == [
        ("+4915123456710", "Jürgen"),
        ("+4915123456711", "Zoë"),
    ]


def test_a_quoted_printable_value_ending_in_a_stray_equals_sign_does_not_swallow_the_next_line():
    data = "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;Hans=\r\n"
    data += "TEL;CELL:+4915123456708\r\nEND:VCARD\r\n"

    recipient = _import(data.encode()).recipients.get()

    assert (recipient.status, recipient.key, recipient.fields["last_name"]) == (
        "valid",
        "+4915123456708",
        "Müller",
    )


def test_a_vcard_contact_with_thousands_of_numbers_is_reported_as_not_one_person():
    data = _vcard("FN:Many", *[f"TEL:+49151{i:08d}" for i in range(5000)]) + _vcard(
        "FN:Anna", "TEL:+4915123456701"
    )

    rows = _rows(_import(data.encode()))

    assert [(r[1], r[2]) for r in rows] == [("invalid", ""), ("valid", "+4915123456701")]
    assert "5000 TEL lines in one contact" in rows[0][3] and "split the contact" in rows[0][3]


# Telegram Desktop's result.json ----------------------------------------------------------------------
def _export(contacts) -> bytes:
    return json.dumps({"contacts": {"list": contacts}}).encode()


@pytest.mark.parametrize("depth", [5_000, 200_000])
def test_deeply_nested_json_is_refused_with_a_message_not_a_traceback(depth):
    data = ('{"contacts": {"list": [' + "[" * depth + "]" * depth + "]}}").encode()

    with pytest.raises(ImportRefused, match="nested deeper"):
        _import(data)


def test_a_telegram_export_saved_as_utf16_is_read():
    data = _export([{"user_id": 5, "phone_number": "+4915123456722"}]).decode().encode("utf-16")

    assert _import(data).recipients.get().key == "+4915123456722"


@pytest.mark.parametrize(
    "phone, kind",
    [(4.9151234567e12, "a decimal number"), (True, "true/false"), (["+4915123456718"], "a list")],
)
def test_a_telegram_export_contact_whose_phone_telegram_never_writes_so_is_reported(phone, kind):
    data = _export([{"user_id": 5, "phone_number": phone}, {"user_id": 6, "phone_number": "+4915123456719"}])

    rows = _rows(_import(data))

    assert [(r[1], r[2]) for r in rows] == [("invalid", ""), ("valid", "+4915123456719")]
    assert f"phone_number is {kind}" in rows[0][3] and "export the contacts again" in rows[0][3]


def test_deeply_nested_json_uploaded_in_the_admin_is_refused_on_the_add_page(client, mark):
    client.force_login(mark)
    data = ('{"contacts": {"list": [' + "[" * 100_000 + "]" * 100_000 + "]}}").encode()
    upload = SimpleUploadedFile("result.json", data)

    response = client.post(
        reverse("admin:campaigns_recipientlist_add"),
        {"name": "deep", "consent_basis": "opt_in", "consent_note": "", "file": upload},
        follow=True,
    )

    assert response.status_code == 200
    assert "nested deeper" in response.content.decode()


# CSV ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_excels_sep_line_names_the_delimiter_and_is_not_the_header(bom):
    data = f"{bom}sep=;\r\nName;Phone\r\nAnna;+4915123456750\r\nBob;+4915123456751\r\n".encode()

    rows = _rows(_import(data))

    assert [(r[0], r[1], r[2]) for r in rows] == [
        (2, "valid", "+4915123456750"),
        (3, "valid", "+4915123456751"),
    ]


def test_the_command_reads_a_csv_with_excels_sep_line(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffsep=;\r\nName;Phone\r\nAnna;+4915123456752\r\n".encode())
    out = io.StringIO()

    call_command("importrecipients", str(path), "--name", "sep", "--consent-basis", "opt_in", stdout=out)

    assert "1 valid, 0 invalid" in out.getvalue()


# Several numbers in one row ------------------------------------------------------------------------
def test_a_cell_of_fifty_phone_numbers_is_reported_not_read_as_one_person():
    fifty = " ::: ".join(f"+49151234567{i:02d}" for i in range(50))
    data = f'Name,Phone\r\nA,"{fifty}"\r\nB,+4915123456701\r\n'.encode()

    rows = _rows(_import(data))

    assert [(r[1], r[2]) for r in rows] == [("invalid", ""), ("valid", "+4915123456701")]
    assert "50 phone numbers" in rows[0][3] and "each person on a row of their own" in rows[0][3]


@pytest.mark.parametrize("separator", [", ", " / "])
def test_phone_numbers_separated_by_commas_or_slashes_are_several_numbers(separator):
    data = f'Name,Phone\r\nA,"+4915123456823{separator}+4915123456824"\r\n'.encode()

    recipient = _import(data).recipients.get()

    assert (recipient.status, recipient.key) == ("valid", "+4915123456823")
    assert list(recipient.other_identities.values_list("key", flat=True)) == ["+4915123456824"]


# Country evidence ----------------------------------------------------------------------------------
def test_a_row_naming_two_different_countries_is_reported_not_read_in_the_first():
    data = b"Phone,Country,Land\r\n01512 3456819,DE,FR\r\n01512 3456820,DE,Deutschland\r\n"

    rows = _rows(_import(data))

    assert [(r[1], r[2]) for r in rows] == [("invalid", ""), ("valid", "+4915123456820")]
    assert "names two countries" in rows[0][3] and "Country" in rows[0][3] and "Land" in rows[0][3]


@pytest.mark.parametrize(
    "country, phone, key",
    [("+1-684", "684 733 1234", "+16847331234"), ("🇩🇪", "01512 3456766", "+4915123456766")],
)
def test_a_country_written_as_a_north_american_dialling_code_or_a_flag_is_read(country, phone, key):
    data = f"Phone,Country\r\n{phone},{country}\r\n".encode()

    assert _rows(_import(data))[0][1:3] == ("valid", key)


def test_a_country_name_too_long_to_read_is_quoted_whole_in_the_reason():
    data = b"Phone,Country\r\n07400 123456,The Republic of Somewhere Over the Rainbow and Beyond\r\n"

    error = _rows(_import(data))[0][3]

    assert "“The Republic of Somewhere Over the Rainbow and Beyond”" in error


@pytest.mark.parametrize(
    "country, phone, key",
    [
        ("United Kingdom of Great Britain and Northern Ireland", "07400 123456", "+447400123456"),
        ("United States of America", "(415) 555-0132", "+14155550132"),
        ("Russian Federation", "8 912 345 6701", "+79123456701"),
    ],
)
def test_a_country_written_as_its_official_iso_name_is_read(country, phone, key):
    data = f'Phone,Country\r\n{phone},"{country}"\r\n'.encode()

    assert _rows(_import(data))[0][1:3] == ("valid", key)


# Workbooks -----------------------------------------------------------------------------------------
def test_a_workbook_holding_only_a_cover_sheet_is_refused_not_read_as_usernames():
    data = _workbook(["Customer list"], ["Owner", "Jane Doe"], ["Exported on", "2026-11-01"], ["Count", 3])

    with pytest.raises(ImportRefused, match="cover sheet"):
        _import(data)
    assert not Recipient.objects.exists()


def test_a_cover_sheet_is_read_when_staff_choose_its_column_role():
    data = _workbook(["Customers"], ["alice_example"], ["bobby_example"])

    recipient_list = RecipientList.objects.create(name="chosen", consent_basis="opt_in")
    import_recipient_list(recipient_list, io.BytesIO(data), column="Customers")

    assert recipient_list.valid_count == 2


@pytest.mark.parametrize(
    "cell, words",
    [
        (datetime.date(2026, 1, 2), "is a date or time"),
        (datetime.datetime(2015, 12, 3, 4, 5), "is a date or time"),
        (1512345673.8, "is a decimal number"),
        (True, "true/false"),
    ],
)
def test_a_date_decimal_or_boolean_in_a_phone_column_is_reported_as_such(cell, words):
    data = _workbook(["Name", "Phone"], ["A", cell], ["B", "+4915123456734"])

    rows = _rows(_import(data, default_region="DE"))

    assert [(r[1], r[2]) for r in rows] == [("invalid", ""), ("valid", "+4915123456734")]
    assert words in rows[0][3] and "no country code" not in rows[0][3]


def test_a_number_whose_digits_name_another_country_than_the_rows_is_reported_not_read_abroad():
    # Excel drops the leading 0 of 015123456737; the rest reads as +1 512… too.
    data = _workbook(["Name", "Phone", "Country"], ["A", 15123456737, "DE"], ["B", 4915123456738, "DE"])

    rows = _rows(_import(data))

    assert [(r[1], r[2]) for r in rows] == [("invalid", ""), ("valid", "+4915123456738")]
    assert "+15123456737" in rows[0][3] and "+4915123456737" in rows[0][3]
    assert "write it with +" in rows[0][3]


MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
    'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    '<manifest:file-entry manifest:full-path="/" '
    'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)


def _ods(table_xml: str, sheets: int = 1) -> bytes:
    """An OpenDocument spreadsheet of ``sheets`` sheets, each holding ``table_xml`` (rows)."""
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )
    body = "".join(f'<table:table table:name="S{i}">{table_xml}</table:table>' for i in range(sheets))
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.2">'
        f"<office:body><office:spreadsheet>{body}</office:spreadsheet></office:body></office:document-content>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", MANIFEST)
    return buffer.getvalue()


def _ods_row(*values: str, repeated: int = 1) -> str:
    cells = "".join(
        f'<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>'
        for v in values
    )
    return f'<table:table-row table:number-rows-repeated="{repeated}">{cells}</table:table-row>'


def test_an_ods_of_a_kilobyte_repeating_a_row_past_the_expansion_limit_is_refused_unopened():
    # 1.2 KB: 50 sheets of one row repeated 200,000 times took 2.5 GB in calamine.
    data = _ods(_ods_row("Name", "Phone") + _ods_row("A", "+4915123456744", repeated=200_000), sheets=50)

    with pytest.raises(ImportRefused, match="TGC_IMPORT_MAX_UNCOMPRESSED_BYTES"):
        _import(data)


def test_an_ods_padded_with_repeated_empty_rows_and_cells_is_read():
    padding = (
        '<table:table-row table:number-rows-repeated="1048570">'
        '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
    )
    data = _ods(_ods_row("Name", "Phone") + _ods_row("A", "+4915123456745") + padding, sheets=3)

    assert _rows(_import(data))[0][1:3] == ("valid", "+4915123456745")


def test_a_password_protected_workbook_is_refused_saying_so():
    # Excel's "Encrypt with Password" makes an OLE container with an EncryptedPackage stream.
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    directory = "EncryptionInfo".encode("utf-16-le").ljust(128, b"\x00")
    directory += "EncryptedPackage".encode("utf-16-le").ljust(128, b"\x00")

    with pytest.raises(ImportRefused, match="a password-protected workbook.*clear the password"):
        _import(header + directory + b"\x00" * 4096)


@pytest.mark.parametrize("written", ["2026-01-02", "02.01.2026", "2015-12-03 04:05:00"])
def test_a_phone_cell_written_as_a_date_says_so_not_that_it_lacks_a_country_code(written):
    data = f"Name,Phone\r\nA,{written}\r\n".encode()

    error = _rows(_import(data))[0][3]

    assert "is a date or time" in error and "no country code" not in error


def test_json_holding_a_number_thousands_of_digits_long_is_refused_saying_so():
    data = ('{"contacts": {"list": [{"user_id": ' + "9" * 5000 + ', "phone_number": "+49151"}]}}').encode()

    with pytest.raises(ImportRefused, match="a number thousands of digits long"):
        _import(data)


# Exports of people who withdrew ------------------------------------------------------------------
MAILCHIMP_UNSUBSCRIBED = (
    "Email Address,First Name,Phone Number,MEMBER_RATING,OPTIN_TIME,UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,"
    "UNSUB_REASON,LEID,EUID\r\n"
    "anna@example.com,Anna,+4915123456790,2,2025-01-02 10:00:00,2026-03-04 11:00:00,Spring,"
    "NORMAL,123,abc\r\n"
)


def test_mailchimps_export_of_unsubscribed_members_is_refused_not_messaged():
    with pytest.raises(ImportRefused, match="unsubscribed members: each of them withdrew consent"):
        _import(MAILCHIMP_UNSUBSCRIBED.encode())
    assert not Recipient.objects.exists()


def test_mailchimps_unsubscribed_export_is_refused_even_with_the_columns_chosen(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    path = tmp_path / "unsubscribed_members_export_1.csv"
    path.write_bytes(MAILCHIMP_UNSUBSCRIBED.encode())

    with pytest.raises(Exception, match="withdrew consent"):
        call_command(
            "importrecipients", str(path), "--consent-basis", "opt_in", "--column", "Phone Number=phone"
        )
    assert not Recipient.objects.exists()


# Opt-out columns ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "header", ["Unsubscribed", "Email Opt Out", "Do not contact", "DNC", "Abgemeldet", "Отписан"]
)
def test_a_row_whose_opt_out_column_says_yes_or_gives_a_date_is_never_a_recipient(header):
    data = (
        f"Phone,{header}\r\n+4915123456791,yes\r\n+4915123456792,no\r\n+4915123456793,\r\n"
        "+4915123456794,2026-03-04\r\n+4915123456795,TRUE\r\n"
    ).encode()

    rows = _rows(_import(data))

    assert [(r[1], r[2]) for r in rows] == [
        ("invalid", ""),
        ("valid", "+4915123456792"),
        ("valid", "+4915123456793"),
        ("invalid", ""),
        ("invalid", ""),
    ]
    assert f"opted out (column {header} says 'yes')" in rows[0][3]


def test_staff_can_choose_the_opt_out_role_for_a_column_in_the_mapping_step(client, mark):
    client.force_login(mark)
    upload = SimpleUploadedFile("crm.csv", b"Phone,Status\r\n+4915123456796,left\r\n")
    response = client.post(
        reverse("admin:campaigns_recipientlist_add"),
        {"name": "crm", "consent_basis": "opt_in", "consent_note": "", "file": upload},
        follow=True,
    )

    assert ("opt_out", "Opted out (yes, or a date: never a recipient)") in response.context["form"].fields[
        "role_1"
    ].choices


def test_a_remembered_mapping_never_turns_an_opt_out_column_back_into_a_field(tmp_path, settings):
    # A list imported before the opt-out role existed kept "Unsubscribed" as a field.
    settings.MEDIA_ROOT = str(tmp_path / "media")
    RecipientList.objects.create(
        name="spring",
        consent_basis="opt_in",
        import_status="done",
        mapping={"headers": ["Phone", "Unsubscribed"], "roles": ["phone", "field"]},
    )
    path = tmp_path / "autumn.csv"
    path.write_bytes(b"Phone,Unsubscribed\r\n+4915123456797,yes\r\n+4915123456798,no\r\n")

    call_command(
        "importrecipients", str(path), "--name", "autumn", "--consent-basis", "opt_in", stdout=io.StringIO()
    )

    rows = _rows(RecipientList.objects.get(name="autumn"))
    assert [(r[1], r[2]) for r in rows] == [("invalid", ""), ("valid", "+4915123456798")]


@pytest.mark.parametrize("answer", ["yes\u200b", "\ufeffja", "ＹＥＳ"])
def test_a_consent_with_invisible_or_full_width_characters_is_read_as_it_shows(answer):
    data = f"Phone,Consent,Unsubscribed\r\n+4915123456801,{answer},no\u200b\r\n".encode()

    assert _rows(_import(data))[0][1:3] == ("valid", "+4915123456801")


def test_a_consent_of_only_an_invisible_character_is_an_empty_consent():
    data = "Phone,Consent\r\n+4915123456802,\u200b\r\n".encode()

    assert _rows(_import(data))[0][3] == "no consent (column Consent is empty)"


# Headers that name no identity column --------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        "Vorname,Kontakt\nMaximilian,@max_example\nAlexander,+4915123456701\n",
        "氏名,携帯\nAlexander,+819012345678\nMaximilian,https://t.me/max_example\n",
    ],
)
def test_a_column_of_names_is_never_read_as_usernames_when_another_column_holds_the_recipients(data):
    rows = _rows(_import(data.encode()))

    assert "@maximilian" not in [r[2] for r in rows] and "@alexander" not in [r[2] for r in rows]
    assert {r[2] for r in rows if r[1] == "valid"} & {"@max_example", "+4915123456701", "+819012345678"}


@pytest.mark.parametrize(
    "data",
    [
        "Vorname,Kontakt\nMaximilian,max_example\nAlexander,alex_example\n",
        "Kunde,Nummer\nMaximilian,4915123456701\n",
    ],
)
def test_a_file_whose_headers_and_cells_name_no_recipient_column_is_refused_saying_how_to_name_it(data):
    with pytest.raises(ImportRefused, match="no column is headed") as refused:
        _import(data.encode())

    assert "Username" in str(refused.value) and "Phone" in str(refused.value)
    assert not Recipient.objects.exists()


NAMES_FIRST = b"Vorname,Kontakt\nMaximilian,max_example\nAlexander,alex_example\n"


def test_the_api_refuses_a_file_whose_recipients_column_nothing_names_unless_given_the_roles(mark, api_for):
    api = api_for(mark)
    made = api.post("/api/v1/lists/", {"name": "x", "consent_basis": "opt_in"}, format="json").json()
    url = f"/api/v1/lists/{made['id']}/file/"

    refused = api.post(url, {"file": SimpleUploadedFile("a.csv", NAMES_FIRST)}, format="multipart")
    roles = {"file": SimpleUploadedFile("a.csv", NAMES_FIRST), "roles": ["field", "username"]}
    chosen = api.post(url, roles, format="multipart")

    assert refused.status_code == 422 and "no column is headed" in refused.json()["detail"]
    assert chosen.status_code == 201, chosen.json()
    assert sorted(Recipient.objects.values_list("key", flat=True)) == ["@alex_example", "@max_example"]


def test_the_command_refuses_a_file_whose_recipients_column_nothing_names_unless_given_it(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    path = tmp_path / "names.csv"
    path.write_bytes(NAMES_FIRST)
    command = ["importrecipients", str(path), "--consent-basis", "opt_in"]

    with pytest.raises(CommandError, match="no column is headed.*--column HEADER=ROLE"):
        call_command(*command, stdout=io.StringIO())
    call_command(*command, "--column", "Kontakt=username", stdout=io.StringIO())

    assert sorted(Recipient.objects.values_list("key", flat=True)) == ["@alex_example", "@max_example"]


def test_the_admins_mapping_step_says_the_recipients_column_is_only_a_guess(client, mark):
    client.force_login(mark)
    data = {"name": "names", "consent_basis": "opt_in", "consent_note": ""}
    data["file"] = SimpleUploadedFile("names.csv", NAMES_FIRST)

    response = client.post(reverse("admin:campaigns_recipientlist_add"), data, follow=True)

    assert any("no column is headed" in note for note in response.context["preview"].notes)
    assert "no column is headed" in response.content.decode()


def test_the_mapping_step_shows_a_first_column_chosen_without_evidence_as_a_doubt_to_settle():
    data = b"Vorname,Kontakt\nMaximilian,max_example\n"

    preview = preview_file(io.BytesIO(data), Mapping())

    assert preview.mapping.roles == ("any", "field")
    assert any("no column is headed" in note for note in preview.notes)
    chosen = preview_file(io.BytesIO(data), Mapping(roles=("field", "username")))
    assert [r.key for r in chosen.rows] == ["@max_example"] and chosen.notes == []


# Header rows inside the data ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "repeated"),
    [
        # Two exports joined with `cat`: the second one's header row is row 3.
        (
            "username,phone,name\n@anna_example,+4915123456701,Anna\nusername,phone,name\n@bob_example,,Bob\n",
            "username",
        ),
        ("Telegram,Name\n@anna_example,Anna\nTelegram,Name\n@bob_example,Bob\n", "Telegram"),
        ("Handy;Vorname\n+4915123456701;Anna\nHandy;Vorname\n+4915123456702;Bob\n", "Handy"),
        # A second header row under grouped column titles ("Contact" over "Phone" and "Telegram").
        (
            "Person,,Contact,\nFirst name,Last name,Phone,Telegram\nBob,Meier,+4915123456702,@bob_example\n",
            "Phone",
        ),
    ],
)
def test_a_header_row_inside_the_data_is_reported_never_a_username(data, repeated):
    rows = _rows(_import(data.encode()))

    assert not any(key == "@" + repeated.lower() for _, _, key, _ in rows)
    header_rows = [r for r in rows if r[3] and "column name" in r[3]]
    assert len(header_rows) == 1 and header_rows[0][1] == "invalid" and f"“{repeated}”" in header_rows[0][3]
    assert {"+4915123456702", "@bob_example"} & {key for _, status, key, _ in rows if status == "valid"}


def test_a_username_that_merely_contains_a_column_word_is_still_a_username():
    rows = _rows(_import(b"username\nphone_shop_berlin\ntelegram_fan_club\n"))

    assert [(status, key) for _, status, key, _ in rows] == [
        ("valid", "@phone_shop_berlin"),
        ("valid", "@telegram_fan_club"),
    ]


# Encodings the bytes cannot tell -----------------------------------------------------------------
ENCODINGS = Path(__file__).resolve().parent / "data" / "encodings"
SHORT_IN_OTHER_SCRIPTS = [
    # Simplified Chinese read as Japanese: 侖兆,窮三
    ("姓名,电话\n李娜,+8613812345000\n刘洋,+8613812345001\n", "gb18030", "李娜"),
    ("שם,טלפון\nדוד כהן,+972501234567\n", "cp1255", "דוד כהן"),  # read as Cyrillic: гег лдп
    # Turkish read in the Central European and Baltic code pages: Ţule, Žule (first names alone
    # are Romanian or Lithuanian words too)
    ("name;phone\nŞule;+905321234567\nAyşe;+905321234568\n", "cp1254", "Şule"),
]
UNCERTAIN_HEBREW = "שם,טלפון\nדוד כהן,+972501234567\n".encode("cp1255")


@pytest.mark.parametrize(("text", "encoding", "name"), SHORT_IN_OTHER_SCRIPTS)
def test_a_short_file_whose_bytes_read_as_plausibly_in_two_encodings_is_refused_until_the_encoding_is_given(
    text, encoding, name
):
    data = text.encode(encoding)

    with pytest.raises(ImportRefused, match="encoding is uncertain") as refused:
        _import(data)
    recipient_list = _import(data, encoding=encoding)

    # Each reading is shown by the first line that reads differently (the header row where it
    # does), the right one among them.
    right = next(line for line in text.splitlines() if not line.isascii())
    assert f"“{right}” in {codecs.lookup(encoding).name}" in str(refused.value)
    header = text.splitlines()[0].split(";")[0].split(",")[0]
    assert list(recipient_list.recipients.values_list("fields", flat=True))[0] == {header: name}


def test_the_refusal_names_each_latin_code_pages_reading_of_a_line():
    with pytest.raises(ImportRefused) as refused:
        _import((ENCODINGS / "turkish_cp1254_first_names.csv").read_bytes())

    message = str(refused.value)
    assert "its line 2 reads as" in message
    assert "“Şule;+905321234567” in cp1254" in message and "“Ţule;+905321234567” in cp1250" in message


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("name,phone\nŞule Yılmaz,+905321234567\n", "cp1254"),  # no language writes ţ and ý
        ("ad,telefon\nAyşe,+905321234567\n", "cp1254"),  # ad: a Turkish header
        ("name,phone\nIveta Nováková,+420601123456\nJiří Dvořák,+420601123457\n", "cp1250"),  # not Jiøí
        ("name;phone\nHélène Garçon;+33612345678\n", "cp1252"),  # not Hélčne Garēon
    ],
)
def test_a_short_file_in_a_latin_code_page_is_read_in_it_when_its_letters_or_headers_tell(text, encoding):
    recipient_list = _import(text.encode(encoding))

    names = [line.replace(";", ",").split(",")[0] for line in text.splitlines()[1:]]
    assert recipient_list.encoding == encoding
    assert [next(iter(r.fields.values())) for r in recipient_list.recipients.order_by("row_number")] == names


@pytest.mark.django_db
def test_a_short_turkish_file_is_read_as_windows_1254():
    recipient_list = RecipientList.objects.create(name="tr", consent_basis="opt_in")
    report = import_recipient_list(recipient_list, ENCODINGS / "turkish_cp1254.csv")

    names = [
        (r.fields["first_name"], r.fields["last_name"])
        for r in recipient_list.recipients.order_by("row_number")
    ]
    assert report.encoding == "cp1254"
    assert names == [("Şule", "Yılmaz"), ("Ayşe", "Kılıç"), ("Mehmet", "Doğan"), ("İlker", "Işık")]


@pytest.mark.parametrize(
    ("data", "header", "name"),
    [
        ((ENCODINGS / "japanese_shift_jis.csv").read_bytes(), "お名前", "吉田優子"),  # was read as Korean
        ((ENCODINGS / "chinese_big5.csv").read_bytes(), "姓名", "陳大文"),
        ("名前,電話\n山田太郎,+81312345678\n".encode("shift_jis"), "名前", "山田太郎"),
        ("氏名,電話番号\n田中美咲,+81312345000\n伊藤翔,+81312345001\n".encode("cp932"), "氏名", "田中美咲"),
        ("名前,電話\n山田太郎,+81312345678\n".encode("euc_jp"), "名前", "山田太郎"),
        ("姓名,電話\n王小明,+886912345678\n".encode("big5"), "姓名", "王小明"),
        ("姓名,电话\n张伟,+8613812345678\n".encode("gb18030"), "姓名", "张伟"),
        ("이름,전화\n김민준,+821012345678\n".encode("cp949"), "이름", "김민준"),
    ],
)
def test_a_short_japanese_chinese_or_korean_file_is_read_as_its_language_without_asking(data, header, name):
    recipient_list = _import(data)

    assert list(recipient_list.recipients.values_list("fields", flat=True))[0] == {header: name}


def test_the_api_refuses_an_upload_of_uncertain_encoding_unless_given_it(mark, api_for):
    api = api_for(mark)
    made = api.post("/api/v1/lists/", {"name": "x", "consent_basis": "opt_in"}, format="json").json()
    url = f"/api/v1/lists/{made['id']}/file/"

    refused = api.post(url, {"file": SimpleUploadedFile("a.csv", UNCERTAIN_HEBREW)}, format="multipart")
    given = api.post(
        url, {"file": SimpleUploadedFile("a.csv", UNCERTAIN_HEBREW), "encoding": "cp1255"}, format="multipart"
    )

    assert refused.status_code == 422 and "encoding is uncertain" in refused.json()["detail"]
    assert given.status_code == 201 and Recipient.objects.get().fields == {"שם": "דוד כהן"}


def test_the_command_refuses_a_file_of_uncertain_encoding_until_given_it(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    path = tmp_path / "he.csv"
    path.write_bytes(UNCERTAIN_HEBREW)
    command = ["importrecipients", str(path), "--consent-basis", "opt_in"]

    with pytest.raises(CommandError, match="encoding is uncertain.*--encoding NAME"):
        call_command(*command, stdout=io.StringIO())
    call_command(*command, "--encoding", "cp1255", stdout=io.StringIO())

    assert Recipient.objects.get().fields == {"שם": "דוד כהן"}


def test_the_mapping_step_says_the_encoding_is_only_a_guess(client, mark):
    client.force_login(mark)
    data = {"name": "he", "consent_basis": "opt_in", "consent_note": ""}
    data["file"] = SimpleUploadedFile("he.csv", UNCERTAIN_HEBREW)

    response = client.post(reverse("admin:campaigns_recipientlist_add"), data, follow=True)

    assert any("encoding is uncertain" in note for note in response.context["preview"].notes)


def test_the_mapping_step_offers_every_encoding_a_doubt_can_name():
    from campaigns.admin.recipient_list_forms import ENCODING_CHOICES
    from campaigns.lists.encoding import _FAMILIES, _SINGLE_BYTE_NAMES

    offered = {name for name, _label in ENCODING_CHOICES}

    assert {codecs.lookup(encoding).name for _text, encoding, _name in SHORT_IN_OTHER_SCRIPTS} <= offered
    assert set(_FAMILIES) | _SINGLE_BYTE_NAMES <= offered
    assert {"cp1256", "cp874"} <= offered


def test_a_short_file_in_a_latin_code_page_is_no_doubt():
    data = "name;phone\nŁukasz Wróbel;+48601234567\nJürgen Groß;+4915123456701\n".encode("cp1250")

    recipient_list = _import(data)

    assert recipient_list.valid_count == 2


@pytest.mark.parametrize(
    "data", [UNCERTAIN_HEBREW, "name,phone\nŞen,+905321230000\n".encode("cp1254")], ids=["hebrew", "turkish"]
)
def test_each_encoding_the_mapping_step_names_is_found_by_that_name_in_its_choice(client, mark, data):
    """ "choose the encoding" after readings "in cp1254", "in cp1250": the choice must be findable
    by the name the page gives it (its options once read only "Windows-1254 (Turkish)")."""
    import html
    import re

    client.force_login(mark)
    data = {
        "name": "x",
        "consent_basis": "opt_in",
        "consent_note": "",
        "file": SimpleUploadedFile("x.csv", data),
    }
    page = client.post(reverse("admin:campaigns_recipientlist_add"), data, follow=True).content.decode()

    select = re.search(r'<select name="encoding".*?</select>', page, re.S).group(0)
    options = [html.unescape(text) for text in re.findall(r"<option[^>]*>(.*?)</option>", select, re.S)]
    note = html.unescape(re.search(r'<p class="tgc-warning tgc-note">(.*?)</p>', page, re.S).group(1))
    named = re.findall(r"” in ([\w-]+)", note) + re.findall(r'id="tgc-encoding">([\w-]+)<', page)
    assert len(named) >= 3, note
    missing = [name for name in named if not any(name.lower() in option.lower() for option in options)]
    assert not missing, (missing, options)


def test_the_mapping_step_calls_an_uncertain_encoding_a_guess_under_its_choice_too(client, mark):
    """The note says "Only a guess"; the choice's help must not say "Detected" of the same guess."""
    client.force_login(mark)
    data = {
        "name": "he",
        "consent_basis": "opt_in",
        "consent_note": "",
        "file": SimpleUploadedFile("he.csv", UNCERTAIN_HEBREW),
    }
    response = client.post(reverse("admin:campaigns_recipientlist_add"), data, follow=True)

    help_text = str(response.context["form"].fields["encoding"].help_text)
    assert help_text.startswith("Only a guess"), help_text
