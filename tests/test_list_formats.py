"""Issue 17, how recipient files are read: vCard, Telegram Desktop's result.json, XLSX/XLS/ODS
workbooks (sheet and header row found, numbers as digits), formats refused with the formats that
work; short single-byte files decoded right (item 8)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from campaigns.lists.columns import names_recipients
from campaigns.lists.formats import formats_text
from campaigns.lists.importing import ImportRefused, import_recipient_list
from campaigns.lists.mapping import Mapping
from campaigns.lists.reading import open_table
from campaigns.models import Recipient, RecipientIdentity, RecipientList

DATA = Path(__file__).resolve().parent / "data"
RECIPIENTS = DATA / "cases" / "recipients"
FORMATS = DATA / "formats"


def table_of(data: bytes | Path, name: str = ""):
    """The file opened as the import opens it: (table, rows as lists)."""
    stream = io.BytesIO(data.read_bytes() if isinstance(data, Path) else data)
    stream.name = name or (data.name if isinstance(data, Path) else "")
    table = open_table(stream, stream, None, names_recipients)
    return table, [(n, list(cells), getattr(cells, "reason", "")) for n, cells in table.rows]


def imported(source, **kwargs) -> RecipientList:
    recipient_list = RecipientList.objects.create(name="Formats", consent_basis="opt_in")
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    import_recipient_list(recipient_list, source, **kwargs)
    return recipient_list


def valid_rows(recipient_list: RecipientList) -> dict[str, dict]:
    rows = recipient_list.recipients.filter(status=Recipient.Status.VALID)
    return {r.key: r.fields for r in rows}


# vCard ------------------------------------------------------------------------------------------


def test_a_vcard_file_gives_one_row_per_contact_with_names_from_n_and_fn():
    table, rows = table_of(RECIPIENTS / "phone_contacts.vcf")
    header = rows[0][1]
    by_name = {cells[2]: dict(zip(header, cells)) for _n, cells, _r in rows[1:]}

    assert table.file_format == "vcard"
    assert header[:4] == ["first_name", "last_name", "full_name", "phone_1"]
    ivan = by_name["Иван Иванович Иванов"]  # 2.1, quoted-printable over three lines each
    assert (ivan["first_name"], ivan["last_name"], ivan["phone_1"]) == ("Иван", "Иванов", "+7 912 345-67-02")
    otto = by_name["Prof. Dr. Dr. h. c. Otto Normalverbraucher-Mustermann von Beispielhausen"]
    assert (otto["first_name"], otto["last_name"]) == (
        "Otto",
        "Normalverbraucher-Mustermann von Beispielhausen",
    )
    assert otto["note"].endswith("nicht über die Zentrale. Newsletter nur auf Deutsch.")
    assert by_name["Juan Pérez"]["company"] == "Pérez, Hijos y Cía."
    assert by_name["Juan Pérez"]["note"] == "Cliente desde 2019\nPrefiere Telegram"


def test_a_vcards_phones_are_ordered_preferred_then_mobile_then_the_others():
    _table, rows = table_of(RECIPIENTS / "phone_contacts.vcf")
    header = rows[0][1]
    joe = next(dict(zip(header, cells)) for _n, cells, _r in rows if cells[2] == "Joe Bloggs")

    assert (joe["phone_1"], joe["phone_2"]) == ("+44 7400 123471", "+44 20 7946 0234")


@pytest.mark.django_db
def test_a_vcards_other_phones_are_kept_as_the_recipients_other_identities():
    recipient_list = imported(RECIPIENTS / "phone_contacts.vcf", default_region="DE")

    joe = recipient_list.recipients.get(key="+447400123471")
    assert set(RecipientIdentity.objects.filter(recipient=joe).values_list("key", flat=True)) >= {
        "+442079460234"
    }
    assert valid_rows(recipient_list)["+79123456702"]["first_name"] == "Иван"


@pytest.mark.django_db
def test_a_vcard_contact_without_a_phone_is_reported_no_phone_number():
    recipient_list = imported(RECIPIENTS / "phone_contacts.vcf", default_region="DE")

    fred = recipient_list.recipients.get(status=Recipient.Status.INVALID)
    assert fred.error.startswith("no phone number")


VCARD_4 = (
    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Anna\r\n  Beispiel\r\nN:Beispiel;Anna;;;\r\n"
    'TEL;VALUE=uri;TYPE="voice,home":tel:+49-30-1234567\r\n'
    'TEL;VALUE=uri;PREF=1;TYPE="voice,cell":tel:+49-1512-3456790\r\n'
    "END:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=WINDOWS-1251;QUOTED-PRINTABLE:=CF=E5=F2=F0=EE=E2;=C8=E2=E0=ED\r\n"
    "TEL;HOME:+7 495 123-45-67\r\nTEL;CELL:+7 912 345-67-10\r\nEND:VCARD\r\n"
)


def test_vcard_4_uris_and_pref_and_2_1_charsets_are_read():
    _table, rows = table_of(VCARD_4.encode("utf-8"), "contacts.vcf")
    header = rows[0][1]
    anna, ivan = (dict(zip(header, cells)) for _n, cells, _r in rows[1:])

    assert anna["full_name"] == "Anna Beispiel"  # folded with a second space kept
    assert (anna["phone_1"], anna["phone_2"]) == ("+49-1512-3456790", "+49-30-1234567")
    assert (ivan["first_name"], ivan["last_name"]) == ("Иван", "Петров")
    assert (ivan["phone_1"], ivan["phone_2"]) == ("+7 912 345-67-10", "+7 495 123-45-67")


# Telegram Desktop -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_telegram_desktops_export_imports_only_its_contacts_list():
    recipient_list = imported(RECIPIENTS / "telegram_export.json")

    keys = set(recipient_list.recipients.values_list("key", flat=True))
    identities = set(RecipientIdentity.objects.values_list("key", flat=True))
    assert "+4915123456799" not in keys | identities  # the exporting account
    assert not {"6000000001", "6000000199", "1900000001"} & (keys | identities)  # itself, frequent
    assert recipient_list.total_rows == 10


@pytest.mark.django_db
def test_telegram_contacts_are_keyed_by_phone_with_the_user_id_as_second_identity():
    recipient_list = imported(RECIPIENTS / "telegram_export.json")

    anna = recipient_list.recipients.get(key="+4915123456731")
    assert "6000000101" in set(RecipientIdentity.objects.filter(recipient=anna).values_list("key", flat=True))
    assert anna.fields == {"first_name": "Anna", "last_name": "Beispiel"}
    assert valid_rows(recipient_list)["+4915123456733"]["last_name"] == "Beispiel 🚲"


@pytest.mark.django_db
def test_a_telegram_contact_without_phone_is_reported_and_never_keyed_by_an_empty_phone():
    recipient_list = imported(RECIPIENTS / "telegram_export.json")

    invalid = dict(recipient_list.recipients.filter(status="invalid").values_list("row_number", "error"))
    assert invalid[8].startswith("no phone number") and "6000000107" in invalid[8]
    assert invalid[9] == "no phone number or user id in this contact of the export"
    assert not recipient_list.recipients.filter(key="").exclude(status="invalid").exists()


@pytest.mark.parametrize(
    "document",
    [b'{"chats": {"list": []}}', b'[{"phone": "+4915123456701"}]', b'{"contacts": {"about": "x"}}'],
)
def test_json_of_another_shape_is_refused_naming_the_formats_that_work(document):
    with pytest.raises(ImportRefused) as refused:
        table_of(document, "export.json")
    assert "JSON that is not Telegram Desktop's contacts export" in str(refused.value)
    assert formats_text() in str(refused.value)


# Workbooks --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_workbooks_cover_sheet_is_passed_over_for_the_sheet_holding_recipients():
    recipient_list = imported(RECIPIENTS / "workbook_cover_sheet.xlsx")

    report = recipient_list.report
    assert (report["sheet"], report["file_format"]) == ("Contacts", "xlsx")
    keys = set(recipient_list.recipients.values_list("key", flat=True))
    assert not {"@exported", "@contacts", "@owner", "@summary"} & keys
    assert recipient_list.mapping["header_row"] == 3


@pytest.mark.django_db
def test_the_header_row_is_found_below_a_merged_title_and_an_empty_row_of_the_chosen_sheet():
    recipient_list = imported(RECIPIENTS / "workbook_cover_sheet.xlsx")
    rows = {r.row_number: r for r in recipient_list.recipients.all()}

    assert min(rows) == 4  # rows 1–3: title, empty row, header
    assert rows[4].fields == {"first_name": "Max", "last_name": "Mustermann"}  # canonical field names
    assert not recipient_list.recipients.filter(key__in=["@lukas", "@max", "@first_name"]).exists()
    assert rows[10].status == Recipient.Status.DUPLICATE and rows[10].error.startswith("duplicate of row 4")


@pytest.mark.django_db
def test_the_header_row_is_the_column_names_under_grouped_titles_merged_over_them():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Person", None, "Contact", None])
    sheet.merge_cells("A1:B1")
    sheet.merge_cells("C1:D1")
    sheet.append(["First name", "Last name", "Mobile", "Telegram"])
    sheet.append(["Anna", "Schmidt", "+4915123456701", "@anna_example"])
    sheet.append(["Bob", "Meier", "+4915123456702", None])
    buffer = io.BytesIO()
    workbook.save(buffer)

    recipient_list = imported(buffer.getvalue())

    rows = list(recipient_list.recipients.order_by("row_number"))
    assert [(r.row_number, r.status, r.key) for r in rows] == [
        (3, "valid", "@anna_example"),
        (4, "valid", "+4915123456702"),
    ]
    assert rows[0].fields == {"first_name": "Anna", "last_name": "Schmidt"}


@pytest.mark.django_db
def test_numbers_stored_in_cells_become_their_digits_never_floats(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Mobile", "Customer number", "Amount"])
    sheet.append([4915123456751, 7012345670001, 12.5])
    workbook.save(tmp_path / "numbers.xlsx")

    recipient_list = imported(tmp_path / "numbers.xlsx")

    row = recipient_list.recipients.get()
    assert row.key == "+4915123456751"
    assert row.fields == {"Customer number": "7012345670001", "Amount": "12.5"}


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "file_format"), [("legacy_contacts.xls", "xls"), ("customers.ods", "ods")])
def test_legacy_xls_and_ods_workbooks_are_read_like_xlsx(name, file_format):
    recipient_list = imported(FORMATS / name)

    assert recipient_list.report["file_format"] == file_format
    assert recipient_list.report["sheet"] in ("People", "Customers")  # not the cover sheet
    rows = valid_rows(recipient_list)
    assert set(rows) == {"+4915123456791", "+447400123521", "+79123456709"}
    assert rows["+4915123456791"]["Name"] == "Jürgen Groß"
    assert rows["+79123456709"]["Name"] == "Иван Петров"


@pytest.mark.django_db
def test_the_sheet_and_header_row_given_are_used_whatever_the_content():
    summary = imported(
        RECIPIENTS / "workbook_cover_sheet.xlsx",
        mapping=Mapping(sheet="Summary", header_row=3, roles=("username", "field")),
    )
    assert summary.report["sheet"] == "Summary"
    assert summary.recipients.filter(row_number=3).count() == 0  # row 3 ("Owner", …) is the header
    # Unchosen, its labels ("Source", "Contacts") are never read as usernames.
    with pytest.raises(ImportRefused, match="no column is headed"):
        imported(RECIPIENTS / "workbook_cover_sheet.xlsx", mapping=Mapping(sheet="Summary", header_row=3))

    contacts = imported(
        RECIPIENTS / "workbook_cover_sheet.xlsx", mapping=Mapping(sheet="Contacts", header_row=3)
    )
    assert contacts.valid_count == 9


@pytest.mark.django_db
def test_a_sheet_that_does_not_exist_is_refused_naming_the_sheets():
    with pytest.raises(
        ImportRefused, match='no sheet named "Leads" \\(the sheets are "Summary", "Contacts"\\)'
    ):
        imported(RECIPIENTS / "workbook_cover_sheet.xlsx", mapping=Mapping(sheet="Leads"))


# Refused formats --------------------------------------------------------------------------------


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "what", "fix"),
    [
        (
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
            "list.pdf",
            "a PDF document",
            "Export the list as CSV or Excel",
        ),
        (
            _zip({"Index/Document.iwa": b"x", "Metadata/Properties.plist": b"x"}),
            "list.numbers",
            "an Apple Numbers file",
            "File › Export To › CSV",
        ),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024),
            "letter.doc",
            "an Office file that is no Excel workbook",
            "save it as .xlsx or CSV",
        ),
        (_zip({"contacts.csv": b"phone\n+4915123456701\n"}), "list.zip", "a zip archive", "Unpack it"),
        (
            _zip({"word/document.xml": b"<w/>", "[Content_Types].xml": b"<x/>"}),
            "list.docx",
            "a text document",
            "Copy its table into a spreadsheet",
        ),
    ],
)
def test_a_format_that_is_not_read_is_refused_with_what_it_is_and_the_fix(data, name, what, fix):
    with pytest.raises(ImportRefused) as refused:
        table_of(data, name)
    message = str(refused.value)
    assert message.startswith(f"{what}: recipients are not read from it.")
    assert fix in message and message.endswith(f"Upload {formats_text()}")


# Short single-byte files (item 8) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("name,phone\nИван Петров,+79123456701\n", "cp1251"),
        ("name;phone\nИван Петров;+79123456701\nМария Иванова;+79123456702\n", "cp1251"),
        ("name;phone\nИван Петров;+79123456701\nМария Иванова;+79123456702\n", "koi8_r"),
        ("name;phone\nИван Петров;+79123456701\nМария Иванова;+79123456702\n", "cp866"),
        ("ім'я,телефон\nОлена Шевченко,+380501234567\n", "cp1251"),
        ("име,телефон\nГеорги Димитров,+359881234567\n", "cp1251"),
        ("name,phone\nJürgen Groß,+4915123456701\n", "cp1252"),
        ("name,phone\nŁukasz Wróbel,+48601123456\n", "cp1250"),
        ("name,phone\nNúria Muñoz,+34612345671\n", "cp1252"),
    ],
)
def test_a_short_file_in_a_single_byte_code_page_is_decoded_in_it(text, encoding):
    table, rows = table_of(text.encode(encoding), "short.csv")

    assert [cells for _n, cells, _r in rows] == [line.split(table.delimiter) for line in text.splitlines()]


@pytest.mark.django_db
def test_a_vcards_national_number_without_a_default_region_is_reported_no_country_code():
    recipient_list = imported(RECIPIENTS / "phone_contacts.vcf")

    assert recipient_list.valid_count == 8
    lieschen = recipient_list.recipients.get(fields__first_name="Lieschen")
    assert lieschen.status == Recipient.Status.INVALID and "no country code" in lieschen.error


@pytest.mark.django_db
def test_a_csv_files_header_row_can_be_given_below_its_title_lines(tmp_path):
    path = tmp_path / "titled.csv"
    path.write_text("Customer export\n\nname,phone\nMax,+4915123456701\nErika,+4915123456702\n")

    recipient_list = imported(path, mapping=Mapping(header_row=3))

    assert valid_rows(recipient_list) == {
        "+4915123456701": {"name": "Max"},
        "+4915123456702": {"name": "Erika"},
    }
    assert sorted(recipient_list.recipients.values_list("row_number", flat=True)) == [4, 5]
