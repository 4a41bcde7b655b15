"""campaigns.lists.importing: the recipient files of shared/cases/recipients and their right outcomes."""

import io
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.lists import importing, reading, writing
from campaigns.lists.importing import ImportRefused, import_recipient_list
from campaigns.lists.mapping import Mapping
from campaigns.lists.normalise import NO_COUNTRY_CODE
from campaigns.lists.reading import NOT_TEXT
from campaigns.models import Recipient, RecipientList

CASES = Path(__file__).resolve().parent / "data" / "cases"
RECIPIENTS = CASES / "recipients"

VALID, INVALID, DUP = Recipient.Status.VALID, Recipient.Status.INVALID, Recipient.Status.DUPLICATE

MESSY_COMMON = {
    2: ("@alice_w", VALID, ""),
    3: ("@alice_w", DUP, "duplicate of row 2"),
    4: ("@alice_w", DUP, "duplicate of row 2"),
    5: ("@henry_l", VALID, ""),
    6: ("", INVALID, "username too short: 3 characters, Telegram needs 5–32"),
    7: ("", INVALID, "username must start with a letter"),
    8: ("", INVALID, "username may contain only a–z, 0–9 and _ (found '-')"),
    9: ("", INVALID, "username cannot end with an underscore"),
    10: ("", INVALID, "username too long: 33 characters, Telegram allows at most 32"),
    14: ("", INVALID, "unknown country code"),
    15: ("", INVALID, "not a valid phone number: +447700900123 is not a number in use in GB"),
    16: ("", INVALID, "no username, phone number or user id"),
    17: ("@kate_m", VALID, ""),
    18: ("@leo_p", VALID, ""),
    19: ("@mia_r", VALID, ""),
    20: ("", INVALID, "a channel, not a user"),
    21: ("", INVALID, "an invite link, not a user"),
    22: ("@nina_q", VALID, ""),
    23: ("5234567890123", VALID, ""),
}


def new_list(**kwargs) -> RecipientList:
    return RecipientList.objects.create(name="Autumn leads", consent_basis="opt_in", **kwargs)


def outcome(recipient_list: RecipientList) -> dict[int, tuple[str, str, str]]:
    return {
        r.row_number: (r.key, r.status, r.error) for r in recipient_list.recipients.order_by("row_number")
    }


def counts(recipient_list: RecipientList) -> tuple[int, int, int, int]:
    recipient_list.refresh_from_db()
    rl = recipient_list
    return rl.total_rows, rl.valid_count, rl.invalid_count, rl.duplicate_count


@pytest.mark.django_db
def test_it_imports_basic_csv_as_seven_valid_recipients_with_their_columns():
    recipient_list = new_list()
    report = import_recipient_list(recipient_list, RECIPIENTS / "basic.csv")

    rows = list(recipient_list.recipients.order_by("row_number"))
    assert [r.key for r in rows] == [
        "@alice_w",
        "@bob_marketing",
        "+12125550123",
        "@dave_k2",
        "@erin_shop",
        "123456789",
        "+12025550143",
    ]
    assert [r.kind for r in rows] == [
        "username",
        "username",
        "phone",
        "username",
        "username",
        "user_id",
        "phone",
    ]
    assert {r.status for r in rows} == {VALID}
    assert rows[0].fields == {"first_name": "Alice", "city": "Berlin"}
    assert rows[3].raw_value == "https://t.me/dave_k2"
    assert counts(recipient_list) == (7, 7, 0, 0)
    assert (report.encoding, report.delimiter, report.recipient_column) == ("utf-8", ",", "recipient")


@pytest.mark.django_db
def test_it_reports_messy_excel_spellings_as_duplicates_with_default_region_de():
    recipient_list = new_list(default_region="DE")
    report = import_recipient_list(recipient_list, RECIPIENTS / "messy_excel.csv")

    assert outcome(recipient_list) == {
        **MESSY_COMMON,
        11: ("+49301234567", VALID, ""),
        12: ("+49301234567", DUP, "duplicate of row 11"),
        13: ("+49301234567", DUP, "duplicate of row 11"),
    }
    assert counts(recipient_list) == (22, 8, 10, 4)
    assert (report.encoding, report.delimiter, report.recipient_column) == ("utf-8-sig", ";", "Telegram")


@pytest.mark.django_db
def test_it_reports_a_national_phone_without_default_region_as_having_no_country_code():
    recipient_list = new_list()
    import_recipient_list(recipient_list, RECIPIENTS / "messy_excel.csv")

    no_code = NO_COUNTRY_CODE
    assert outcome(recipient_list) == {
        **MESSY_COMMON,
        11: ("", INVALID, no_code),
        12: ("+49301234567", VALID, ""),
        13: ("+49301234567", DUP, "duplicate of row 12"),
    }
    assert counts(recipient_list) == (22, 8, 11, 3)


@pytest.mark.django_db
def test_it_keeps_messy_names_exactly_including_newlines_and_formulas():
    recipient_list = new_list(default_region="DE")
    import_recipient_list(recipient_list, RECIPIENTS / "messy_excel.csv")

    fields = {r.key: r.fields for r in recipient_list.recipients.filter(status=VALID)}
    assert fields["@kate_m"] == {"Name": "Kate\nSmith", "Note": "quoted newline in name"}
    assert fields["@leo_p"]["Name"] == '=HYPERLINK("http://example.invalid","x")'
    assert fields["@mia_r"] == {"Name": "Mia", "Note": "", "column_4": "extra column"}


@pytest.mark.django_db
def test_it_skips_blank_rows_without_counting_them():
    recipient_list = new_list(default_region="DE")
    import_recipient_list(recipient_list, RECIPIENTS / "messy_excel.csv")

    # The file's last two lines are an empty line and ";;;".
    assert recipient_list.recipients.count() == 22
    assert max(recipient_list.recipients.values_list("row_number", flat=True)) == 23


@pytest.mark.django_db
def test_it_uses_the_column_staff_chose():
    recipient_list = new_list(default_region="DE")
    report = import_recipient_list(recipient_list, RECIPIENTS / "messy_excel.csv", column="telegram")

    assert report.recipient_column == "Telegram"
    assert counts(recipient_list) == (22, 8, 10, 4)


@pytest.mark.django_db
def test_it_refuses_a_column_the_file_does_not_have():
    recipient_list = new_list()
    with pytest.raises(ImportRefused, match='no column named "Handle"'):
        import_recipient_list(recipient_list, RECIPIENTS / "basic.csv", column="Handle")
    assert not Recipient.objects.exists()


@pytest.mark.django_db
def test_it_keeps_the_first_problems_in_the_list_report():
    recipient_list = new_list(default_region="DE")
    import_recipient_list(recipient_list, RECIPIENTS / "messy_excel.csv")

    recipient_list.refresh_from_db()
    problems = recipient_list.report["problems"]
    assert len(problems) == 14
    assert problems[0] == {"row": 3, "value": "alice_w", "status": "duplicate", "error": "duplicate of row 2"}
    invite = {
        "row": 21,
        "value": "t.me/+AbCdEfGhIjKlMnOp",
        "status": "invalid",
        "error": "an invite link, not a user",
    }
    assert problems[-1] == invite
    assert recipient_list.report["problems_truncated"] is False


@pytest.mark.django_db
@pytest.mark.parametrize("encoding", [None, "cp1251"])
def test_it_reads_windows_1251_cyrillic_names_exactly(encoding):
    recipient_list = new_list()
    report = import_recipient_list(recipient_list, RECIPIENTS / "cyrillic_cp1251.csv", encoding=encoding)

    rows = list(recipient_list.recipients.order_by("row_number"))
    assert [r.key for r in rows] == ["@ivan_petrov", "@olga_s", "+79161234567"]
    names = [f"{r.fields['first_name']} {r.fields['last_name']}" for r in rows]
    assert names == ["Иван Петров", "Ольга Смирнова", "Дмитрий Ёлкин"]
    assert report.encoding == "cp1251"
    assert counts(recipient_list) == (3, 3, 0, 0)


@pytest.mark.django_db
def test_it_reads_excel_unicode_text_as_utf16_tab_separated():
    recipient_list = new_list()
    report = import_recipient_list(recipient_list, RECIPIENTS / "excel_unicode_text.txt")

    rows = list(recipient_list.recipients.order_by("row_number"))
    assert [r.key for r in rows] == ["+13125550101", "+13125550102", "+13125550103"]
    assert rows[2].fields == {"name": "Rosa 🌹"}
    assert (report.encoding, report.delimiter) == ("utf-16", "\t")
    assert counts(recipient_list) == (3, 3, 0, 0)


@pytest.mark.django_db
def test_it_reads_phones_stored_as_numbers_in_an_xlsx_phone_column():
    recipient_list = new_list()
    report = import_recipient_list(recipient_list, RECIPIENTS / "leads.xlsx")

    assert outcome(recipient_list) == {
        2: ("+13125550111", VALID, ""),
        3: ("+13125550112", VALID, ""),
        4: ("+13125550113", VALID, ""),
        5: ("", INVALID, "no phone number"),
    }
    assert recipient_list.recipients.get(row_number=5).fields == {
        "first_name": "Vic (no phone)",
        "Signed up": "2026-10-04",
    }
    assert (report.sheet, report.recipient_column, report.file_format) == ("Leads", "Phone", "xlsx")
    assert counts(recipient_list) == (4, 3, 1, 0)


@pytest.mark.django_db
def test_it_turns_a_float_phone_cell_into_an_e164_phone(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Mobile", "Name"])
    sheet.append([13125550112.0, "Tess"])
    workbook.save(tmp_path / "floats.xlsx")
    recipient_list = new_list()

    import_recipient_list(recipient_list, tmp_path / "floats.xlsx")

    assert outcome(recipient_list) == {2: ("+13125550112", VALID, "")}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.csv", "the file is empty"),
        ("header_only.csv", "no recipient rows"),
        ("binary_named.csv", NOT_TEXT),
    ],
)
def test_it_refuses_a_file_that_is_no_recipient_list_and_creates_nothing(name, message):
    recipient_list = RecipientList(name="Refused", consent_basis="opt_in")
    with pytest.raises(ImportRefused) as refused:
        import_recipient_list(recipient_list, RECIPIENTS / name)

    assert str(refused.value) == message
    assert not RecipientList.objects.exists()
    assert not Recipient.objects.exists()
    assert recipient_list.pk is None


@pytest.mark.django_db
def test_a_refused_reimport_leaves_the_previous_rows_in_place():
    recipient_list = new_list()
    import_recipient_list(recipient_list, RECIPIENTS / "basic.csv")

    with pytest.raises(ImportRefused):
        import_recipient_list(recipient_list, RECIPIENTS / "header_only.csv")

    assert recipient_list.recipients.count() == 7
    assert counts(recipient_list) == (7, 7, 0, 0)


@pytest.mark.django_db
def test_a_reimport_replaces_the_lists_rows():
    recipient_list = new_list()
    import_recipient_list(recipient_list, RECIPIENTS / "basic.csv")
    import_recipient_list(recipient_list, RECIPIENTS / "cyrillic_cp1251.csv")

    assert sorted(recipient_list.recipients.values_list("key", flat=True)) == [
        "+79161234567",
        "@ivan_petrov",
        "@olga_s",
    ]
    assert counts(recipient_list) == (3, 3, 0, 0)


@pytest.mark.django_db
def test_it_imports_an_uploaded_file():
    upload = SimpleUploadedFile("basic.csv", (RECIPIENTS / "basic.csv").read_bytes(), "text/csv")
    recipient_list = new_list()

    import_recipient_list(recipient_list, upload)

    assert counts(recipient_list) == (7, 7, 0, 0)


class _Pipe(io.RawIOBase):
    """A stream that cannot seek, like a socket."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.django_db
def test_it_imports_a_stream_that_cannot_seek():
    recipient_list = new_list(default_region="DE")

    import_recipient_list(recipient_list, _Pipe((RECIPIENTS / "messy_excel.csv").read_bytes()))

    assert counts(recipient_list) == (22, 8, 10, 4)


@pytest.mark.django_db
def test_it_writes_a_large_file_in_batches(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    with path.open("w") as out:
        out.write("username,n\n")
        for n in range(2500):
            out.write(f"user_{n:05d},{n}\n")
        out.write("user_00007,dup\n")
    monkeypatch.setattr(importing, "BATCH_SIZE", 1000)
    sizes = []
    real_flush = writing.RowWriter.flush
    monkeypatch.setattr(writing.RowWriter, "flush", lambda self: sizes.append(len(self)) or real_flush(self))
    recipient_list = new_list()

    import_recipient_list(recipient_list, path)

    assert sizes == [1000, 1000, 501]
    assert counts(recipient_list) == (2501, 2500, 0, 1)
    assert recipient_list.recipients.get(row_number=2502).error == "duplicate of row 9"


@pytest.mark.django_db
def test_a_broken_row_does_not_sink_the_upload(tmp_path):
    path = tmp_path / "broken.csv"
    huge = "x" * 200_000  # beyond csv's field size limit
    path.write_text(f'username,note\nalice_w,ok\nbob_marketing,"{huge}"\ncarol_k,ok\n')
    recipient_list = new_list()

    import_recipient_list(recipient_list, path)

    assert outcome(recipient_list)[2] == ("@alice_w", VALID, "")
    assert outcome(recipient_list)[3] == (
        "",
        INVALID,
        "unreadable row: field larger than field limit (131072)",
    )
    assert outcome(recipient_list)[4] == ("@carol_k", VALID, "")
    assert counts(recipient_list) == (3, 2, 1, 0)


@pytest.mark.django_db
def test_it_imports_a_headerless_list_of_usernames(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("@alice_w\n@bob_marketing\n")
    recipient_list = new_list()

    report = import_recipient_list(recipient_list, path)

    assert outcome(recipient_list) == {1: ("@alice_w", VALID, ""), 2: ("@bob_marketing", VALID, "")}
    assert report.recipient_column == "column_1"


@pytest.mark.django_db
def test_it_imports_the_lists_stored_file():
    from django.core.files.base import ContentFile

    recipient_list = new_list()
    recipient_list.file.save("basic.csv", ContentFile((RECIPIENTS / "basic.csv").read_bytes()))
    recipient_list.file.close()

    import_recipient_list(recipient_list, recipient_list.file)

    assert counts(recipient_list) == (7, 7, 0, 0)
    assert recipient_list.file.closed


@pytest.mark.django_db
def test_it_reads_a_bom_file_when_staff_insist_on_plain_utf8():
    recipient_list = new_list(default_region="DE")

    report = import_recipient_list(recipient_list, RECIPIENTS / "messy_excel.csv", encoding="utf-8")

    assert (report.encoding, report.recipient_column) == ("utf-8", "Telegram")
    assert counts(recipient_list) == (22, 8, 10, 4)


def import_bytes(data: bytes, **kwargs) -> tuple[RecipientList, importing.ImportReport]:
    recipient_list = new_list()
    return recipient_list, import_recipient_list(recipient_list, io.BytesIO(data), **kwargs)


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Customers", "Clients", "Members", "Account"])
def test_a_header_that_would_pass_as_a_username_is_read_as_the_header(header):
    data = f"{header},first_name\n@alice_w,Alice\n@bob_marketing,Bob\n".encode()

    recipient_list, report = import_bytes(data)

    assert outcome(recipient_list) == {2: ("@alice_w", VALID, ""), 3: ("@bob_marketing", VALID, "")}
    assert recipient_list.recipients.get(row_number=2).fields == {"first_name": "Alice"}
    assert report.recipient_column == header


@pytest.mark.django_db
@pytest.mark.parametrize("first", ["+49 30 1234567", "tg://resolve?domain=carol_k", "https://t.me/carol_k"])
def test_a_headerless_file_starting_with_any_explicit_recipient_spelling_keeps_its_first_row(first):
    recipient_list, report = import_bytes(f"{first}\n@alice_w\n".encode(), default_region="DE")

    assert recipient_list.recipients.filter(row_number=1).exists()
    assert report.recipient_column == "column_1"


@pytest.mark.django_db
def test_a_headerless_file_reports_an_invalid_first_line_instead_of_dropping_it():
    recipient_list, report = import_bytes(b"@abc\n@alice_w\n@bob_marketing\n")

    assert outcome(recipient_list) == {
        1: ("", INVALID, "username too short: 3 characters, Telegram needs 5–32"),
        2: ("@alice_w", VALID, ""),
        3: ("@bob_marketing", VALID, ""),
    }
    assert (report.total_rows, report.invalid_count) == (3, 1)
    assert report.problems[0]["value"] == "@abc"


@pytest.mark.django_db
@pytest.mark.parametrize("encoding", [None, "utf-8"])
def test_a_nul_byte_in_a_cell_is_removed_and_noted_instead_of_refusing_the_file(encoding):
    rows = [b"username,first_name"] + [b"@member_%03d,Name%d" % (i, i) for i in range(200)]
    rows[51] = b"@broken_row,Na\x00me\x07"

    recipient_list, report = import_bytes(b"\n".join(rows) + b"\n", encoding=encoding)

    broken = recipient_list.recipients.get(row_number=52)
    assert (broken.key, broken.status, broken.fields) == ("@broken_row", VALID, {"first_name": "Name"})
    assert broken.error == "removed control characters"
    assert (report.total_rows, report.valid_count, report.cleaned_count) == (200, 200, 1)
    assert report.problems == (
        {"row": 52, "value": "@broken_row", "status": "valid", "error": "removed control characters"},
    )


@pytest.mark.django_db
def test_control_characters_are_removed_from_headers_and_recipients_and_kept_after_a_rows_reason():
    data = b"user\x00name,city\x01\n@ab\x00c,Berlin\n@alice_w,Ber\x00lin\n"

    recipient_list, report = import_bytes(data)

    assert report.recipient_column == "username"
    assert outcome(recipient_list) == {
        2: ("", INVALID, "username too short: 3 characters, Telegram needs 5–32; removed control characters"),
        3: ("@alice_w", VALID, "removed control characters"),
    }
    assert recipient_list.recipients.get(row_number=3).fields == {"city": "Berlin"}
    assert recipient_list.recipients.get(row_number=2).raw_value == "@abc"


@pytest.mark.django_db
def test_a_nul_byte_after_the_encoding_sample_is_removed_too(monkeypatch):
    monkeypatch.setattr(reading, "SAMPLE_BYTES", 64)
    head = b"username,first_name\n" + b"".join(b"@member_%03d,Name\n" % i for i in range(20))

    recipient_list, report = import_bytes(head + b"@alice_w,Al\x00ice\n")

    assert recipient_list.recipients.get(key="@alice_w").fields == {"first_name": "Alice"}
    assert (report.total_rows, report.valid_count, report.cleaned_count) == (21, 21, 1)


@pytest.mark.django_db
def test_a_file_that_is_mostly_control_bytes_is_still_refused_as_binary():
    with pytest.raises(ImportRefused, match=re.escape(NOT_TEXT)):
        import_bytes(b"username\n" + b"\x00\x01\x02\x03" * 100)
    assert not Recipient.objects.exists()


@pytest.mark.django_db
def test_a_row_in_another_encoding_after_the_sample_becomes_an_invalid_row_saying_so(monkeypatch):
    monkeypatch.setattr(reading, "SAMPLE_BYTES", 64)
    head = b"username,first_name\n" + b"".join(b"@member_%03d,Name\n" % i for i in range(20))
    tail = "@ivan_petrov,Иван\n".encode("cp1251") + b"@alice_w,Alice\n"

    recipient_list, report = import_bytes(head + tail)

    assert report.encoding == "utf-8"
    reason = "row is not valid utf-8 text; re-save the file as UTF-8 or choose the encoding"
    assert outcome(recipient_list)[22] == ("", INVALID, reason)
    assert outcome(recipient_list)[23] == ("@alice_w", VALID, "")
    assert recipient_list.recipients.get(row_number=22).raw_value == "@ivan_petrov"
    assert not recipient_list.recipients.filter(fields__icontains="\ufffd").exists()
    assert (report.total_rows, report.valid_count, report.invalid_count) == (22, 21, 1)


@pytest.mark.django_db
def test_a_nul_byte_does_not_hide_a_windows_1251_file_from_encoding_detection():
    data = (RECIPIENTS / "cyrillic_cp1251.csv").read_bytes().replace(b"\n", b"\x00\n", 1)

    recipient_list, report = import_bytes(data)

    assert report.encoding == "cp1251"
    names = [r.fields["first_name"] for r in recipient_list.recipients.order_by("row_number")]
    assert names == ["Иван", "Ольга", "Дмитрий"]


@pytest.mark.django_db
def test_a_codec_that_is_not_a_text_encoding_is_refused_by_name():
    from campaigns.lists.importing import ImportRefused, import_recipient_list
    from campaigns.models import RecipientList

    rl = RecipientList(name="rot", consent_basis="opt_in")
    with pytest.raises(ImportRefused, match="not a text encoding"):
        import_recipient_list(rl, io.BytesIO(b"recipient\n@alice_w\n"), encoding="rot13")
    assert not RecipientList.objects.exists()


# Identity columns (issue 8, fault 2) -------------------------------------------------------------
@pytest.mark.django_db
def test_each_row_of_two_id_columns_is_one_recipient_whichever_identity_it_fills():
    recipient_list = new_list()
    report = import_recipient_list(recipient_list, RECIPIENTS / "two_id_columns.csv")

    assert outcome(recipient_list) == {
        2: ("@paula_r", VALID, ""),
        3: ("+13125550132", VALID, ""),
        4: ("@rob_s", VALID, ""),
        5: ("@paula_r", DUP, "duplicate of row 2"),
        6: ("", INVALID, "no username or phone number"),
    }
    paula = recipient_list.recipients.get(row_number=2)
    assert paula.identities() == ["@paula_r", "+13125550131"]
    assert list(paula.other_identities.values_list("key", "kind")) == [("+13125550131", "phone")]
    assert paula.fields == {"Name": "Paula"}
    assert paula.raw_value == "@paula_r / +13125550131"
    assert recipient_list.recipients.get(row_number=3).fields == {"Name": "Quinn"}
    assert report.identity_columns == ("Username", "Mobile")
    assert report.recipient_column == "Username, Mobile"
    assert counts(recipient_list) == (5, 3, 1, 1)


@pytest.mark.django_db
def test_with_the_phone_first_in_the_identity_order_the_phone_is_the_key_and_duplicates_still_match():
    recipient_list = new_list()
    mapping = Mapping(identity_order=("phone", "username", "user_id"))

    import_recipient_list(recipient_list, RECIPIENTS / "two_id_columns.csv", mapping=mapping)

    assert outcome(recipient_list)[2] == ("+13125550131", VALID, "")
    assert recipient_list.recipients.get(row_number=2).identities() == ["+13125550131", "@paula_r"]
    assert outcome(recipient_list)[5] == ("@paula_r", DUP, "duplicate of row 2")
    recipient_list.refresh_from_db()
    assert recipient_list.mapping["identity_order"] == ["phone", "username", "user_id"]


@pytest.mark.django_db
def test_an_invalid_identity_beside_a_valid_one_is_noted_on_the_row():
    data = b"Username,Mobile\n@abc,+13125550131\n"

    recipient_list, _ = import_bytes(data)

    assert outcome(recipient_list)[2] == (
        "+13125550131",
        VALID,
        "Username: username too short: 3 characters, Telegram needs 5–32",
    )


@pytest.mark.django_db
def test_a_row_whose_identities_are_all_invalid_names_each_columns_reason():
    recipient_list, _ = import_bytes(b"Username,Mobile\n@abc,12\n")

    assert outcome(recipient_list)[2] == (
        "",
        INVALID,
        "Username: username too short: 3 characters, Telegram needs 5–32; Mobile: too short for a phone number: 2 digits",
    )


@pytest.mark.django_db
def test_a_later_row_sharing_any_identity_is_a_duplicate_of_the_first():
    data = b"Username,Mobile\n@paula_r,+13125550131\n@other_p,+13125550131\n,+13125550131\n@other_p,\n"

    recipient_list, _ = import_bytes(data)

    assert outcome(recipient_list) == {
        2: ("@paula_r", VALID, ""),
        3: ("@other_p", DUP, "duplicate of row 2"),
        4: ("+13125550131", DUP, "duplicate of row 2"),
        5: ("@other_p", DUP, "duplicate of row 2"),
    }


# An unclosed quote (fault 3) ---------------------------------------------------------------------
@pytest.mark.django_db
def test_an_unclosed_quote_does_not_swallow_the_rows_after_it():
    recipient_list = new_list()
    report = import_recipient_list(recipient_list, RECIPIENTS / "unclosed_quote.csv")

    note = "unclosed quote on line 3: its cell ends at the end of that line"
    assert outcome(recipient_list) == {
        2: ("@tom_a", VALID, ""),
        3: ("@uma_b", VALID, note),
        4: ("@vic_c", VALID, ""),
        5: ("@wes_d", VALID, ""),
        6: ("@xia_e", VALID, ""),
    }
    names = {r.key: r.fields["first_name"] for r in recipient_list.recipients.all()}
    assert names == {"@tom_a": "Tom", "@uma_b": "Uma", "@vic_c": "Vic", "@wes_d": "Wes", "@xia_e": "Xia"}
    assert report.problems == ({"row": 3, "value": "@uma_b", "status": "valid", "error": note},)


@pytest.mark.django_db
def test_a_quote_closed_lines_later_does_not_merge_the_lines_between():
    data = b'username,first_name\n@tom_a,"Tom\n@vic_c,Vic\n@wes_d,"Wes"\n@xia_e,Xia\n'

    recipient_list, _ = import_bytes(data)

    assert [k for k, _s, _e in outcome(recipient_list).values()] == ["@tom_a", "@vic_c", "@wes_d", "@xia_e"]
    assert outcome(recipient_list)[2][2].startswith("unclosed quote on line 2")


@pytest.mark.django_db
def test_a_well_formed_quoted_cell_over_several_lines_stays_one_cell():
    data = b'username,note\n@kate_m,"line one\nline two, with a comma"\n@leo_p,ok\n'

    recipient_list, _ = import_bytes(data)

    assert outcome(recipient_list) == {2: ("@kate_m", VALID, ""), 3: ("@leo_p", VALID, "")}
    assert recipient_list.recipients.get(row_number=2).fields == {"note": "line one\nline two, with a comma"}


@pytest.mark.django_db
def test_an_unclosed_quote_that_grows_past_the_field_limit_gives_back_the_lines_it_took(tmp_path):
    rows = "".join(f"@member_{i:05d},{'x' * 60}\n" for i in range(3000))  # ~200 KB after the quote
    path = tmp_path / "long.csv"
    path.write_text(f'username,note\n@uma_b,"Uma\n{rows}')
    recipient_list = new_list()

    import_recipient_list(recipient_list, path)

    assert counts(recipient_list) == (3001, 3001, 0, 0)
    assert outcome(recipient_list)[2][2].startswith("unclosed quote on line 2")


# Encodings (fault 4) -----------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_short_windows_1252_file_is_read_as_windows_1252():
    recipient_list = new_list()
    report = import_recipient_list(recipient_list, RECIPIENTS / "western_cp1252.csv")

    names = [r.fields["name"] for r in recipient_list.recipients.order_by("row_number")]
    assert names == ["Carmen Muñoz", "João Sá", "Bjørn Østergaard", "Zoë Çelik"]
    notes = [r.fields["note"] for r in recipient_list.recipients.order_by("row_number")]
    assert notes == ["", "São Paulo", "", "voucher € 5"]
    assert (report.encoding, report.delimiter) == ("cp1252", ";")


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Łódź;Żółć;Wrocław", "cp1250"),
        ("Příliš žluťoučký kůň", "cp1250"),
        ("Carmen Muñoz;São Paulo", "cp1252"),
        ("Straße;Größe", "cp1252"),
    ],
)
def test_the_latin_code_page_is_chosen_by_how_the_decoded_words_look(text, encoding):
    from campaigns.lists.encoding import detect_encoding

    assert detect_encoding(f"name;city\n{text}\n".encode(encoding), True) == encoding


# Spreadsheet damage (fault 5) and digits without a region (fault 6) ------------------------------
SCIENTIFIC_PHONE = (
    "4.91511E+12 is a number in scientific notation: the spreadsheet kept only 6 significant digits and "
    "the others are lost. Format the column as text in the spreadsheet, enter the numbers again and export again"
)


@pytest.mark.django_db
def test_excel_mangled_phones_keep_their_digits_or_say_they_were_lost():
    recipient_list = new_list()
    report = import_recipient_list(recipient_list, RECIPIENTS / "excel_mangled_phones.csv")

    assert outcome(recipient_list) == {
        2: ("+4915112345678", VALID, ""),
        3: ("", INVALID, SCIENTIFIC_PHONE),
        4: ("+4915112345679", VALID, ""),
        5: ("+4915112345670", VALID, ""),
        6: ("+4915112345671", VALID, ""),
    }
    assert report.recipient_column == "phone"


@pytest.mark.django_db
@pytest.mark.parametrize("roles", [(), ("user_id",)])
def test_excel_mangled_ids_keep_their_digits_or_say_what_is_wrong(roles):
    recipient_list = new_list()
    import_recipient_list(recipient_list, RECIPIENTS / "excel_mangled_ids.csv", mapping=Mapping(roles=roles))

    result = outcome(recipient_list)
    assert result[2] == ("123456789", VALID, "")
    assert result[3][:2] == ("", INVALID)
    assert result[3][2].startswith("1.23457E+11 is a number in scientific notation")
    assert result[4] == ("1234567", VALID, "")
    assert result[5][:2] == ("", INVALID) and result[5][2].startswith("0 is not a user id")
    assert result[6] == ("987654321", VALID, "")


@pytest.mark.django_db
def test_national_digits_without_a_region_are_not_stored_as_a_user_id():
    recipient_list = new_list()
    import_recipient_list(recipient_list, RECIPIENTS / "digits_no_region.csv")

    result = outcome(recipient_list)
    assert result[2][:2] == ("", INVALID)
    assert "default region" in result[2][2] and "RU" in result[2][2]
    assert result[3] == ("+79161230001", VALID, "")
    assert result[4] == ("@olga_t", VALID, "")
    assert not recipient_list.recipients.filter(kind="user_id").exists()


@pytest.mark.django_db
def test_with_region_ru_national_digits_are_the_phone_and_the_international_form_its_duplicate():
    recipient_list = new_list(default_region="RU")
    import_recipient_list(recipient_list, RECIPIENTS / "digits_no_region.csv")

    assert outcome(recipient_list) == {
        2: ("+79161230001", VALID, ""),
        3: ("+79161230001", DUP, "duplicate of row 2"),
        4: ("@olga_t", VALID, ""),
    }


@pytest.mark.django_db
def test_a_us_number_in_a_phone_column_with_region_us_stays_in_the_us():
    recipient_list, _ = import_bytes(
        b"Mobile,Name\n(646) 555-0140,Ann\n6465550140,Ann again\n", default_region="US"
    )

    assert outcome(recipient_list) == {
        2: ("+16465550140", VALID, ""),
        3: ("+16465550140", DUP, "duplicate of row 2"),
    }


# Limits (fault 8) --------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_workbook_with_a_huge_cell_is_refused_naming_the_limit_before_it_is_decompressed():
    import tracemalloc

    recipient_list = RecipientList(name="Huge", consent_basis="opt_in")
    tracemalloc.start()
    try:
        with pytest.raises(ImportRefused) as refused:
            import_recipient_list(recipient_list, RECIPIENTS / "huge_cell.xlsx")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert str(refused.value) == (
        "a cell holds more than 10,000 characters, the most one cell may hold (TGC_IMPORT_MAX_CELL_CHARS)"
    )
    assert peak < 20 * 1024 * 1024  # the cell expands to 50,000,000 characters
    assert not RecipientList.objects.exists()


def _workbook_with_shared_strings(path, count: int) -> None:
    """A two-cell workbook whose shared-strings table lists ``count`` strings."""
    import zipfile

    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["username"])
    workbook.active.append(["@alice_w"])
    base = path.with_suffix(".base.xlsx")
    workbook.save(base)
    table = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    table += b"<si><t>a</t></si>" * count + b"</sst>"
    kind = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
    relation = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
    with zipfile.ZipFile(base) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for member in source.infolist():
            data = source.read(member.filename)
            if member.filename == "[Content_Types].xml":
                data = data.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="' + kind + b'"/></Types>',
                )
            if member.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdS" Type="'
                    + relation
                    + b'" Target="sharedStrings.xml"/></Relationships>',
                )
            out.writestr(member, data)
        out.writestr("xl/sharedStrings.xml", table)


@pytest.mark.django_db
def test_a_workbook_with_more_shared_strings_than_cells_is_refused_before_openpyxl_reads_them(tmp_path):
    path = tmp_path / "strings.xlsx"
    _workbook_with_shared_strings(path, 200_000)

    with pytest.raises(ImportRefused, match="more shared texts than its 2 cells could use"):
        import_recipient_list(RecipientList(name="Bomb", consent_basis="opt_in"), path)


@pytest.mark.django_db
def test_a_workbook_that_expands_beyond_the_limit_is_refused_from_its_zip_directory(settings):
    settings.TGC_IMPORT_MAX_UNCOMPRESSED_BYTES = 10_000

    with pytest.raises(ImportRefused) as refused:
        import_recipient_list(RecipientList(name="Big", consent_basis="opt_in"), RECIPIENTS / "leads.xlsx")

    assert str(refused.value) == (
        "the workbook expands to 17 KiB; an XLSX file may expand to at most 10 KiB "
        "(TGC_IMPORT_MAX_UNCOMPRESSED_BYTES): save it as CSV"
    )


@pytest.mark.django_db
def test_a_file_over_the_size_limit_is_refused_before_it_is_read(settings):
    settings.TGC_IMPORT_MAX_BYTES = 100

    with pytest.raises(ImportRefused) as refused:
        import_recipient_list(RecipientList(name="Big", consent_basis="opt_in"), RECIPIENTS / "basic.csv")

    assert str(refused.value) == (
        "the file is 223 bytes; a recipient file may be at most 100 bytes (TGC_IMPORT_MAX_BYTES): "
        "split it, or save it as CSV, which is smaller"
    )


@pytest.mark.django_db
def test_a_file_over_the_row_limit_is_refused_and_nothing_is_kept(settings):
    settings.TGC_IMPORT_MAX_ROWS = 5
    recipient_list = RecipientList(name="Long", consent_basis="opt_in")

    with pytest.raises(
        ImportRefused,
        match=r"the file has more than 5 rows; one list may hold at most 5 \(TGC_IMPORT_MAX_ROWS\)",
    ):
        import_recipient_list(recipient_list, RECIPIENTS / "basic.csv")

    assert not Recipient.objects.exists()


@pytest.mark.django_db
def test_a_cell_over_the_length_limit_makes_its_row_invalid_naming_the_limit(settings):
    settings.TGC_IMPORT_MAX_CELL_CHARS = 10

    recipient_list, _ = import_bytes(b"username,note\n@alice_w,short\n@bob_marketing," + b"x" * 11 + b"\n")

    assert outcome(recipient_list)[2] == ("@alice_w", VALID, "")
    assert outcome(recipient_list)[3] == (
        "",
        INVALID,
        "a cell holds 14 characters; one cell may hold at most 10 (TGC_IMPORT_MAX_CELL_CHARS)",
    )


def test_the_first_rows_table_answers_like_a_dict_through_its_growth():
    from campaigns.lists.rows import FirstRows

    table, reference = FirstRows(capacity=4), {}
    keys = [f"@member_{i:06d}" for i in range(5000)] + [f"+49151{i:08d}" for i in range(5000)]
    for row, key in enumerate(keys * 2, start=2):
        assert table.setdefault(key, row) == reference.setdefault(key, row)
    assert len(table) == len(reference) == 10_000
    assert all(table.get(k) == reference[k] for k in keys)
    assert table.get("@nobody_here") is None


@pytest.mark.django_db
def test_a_timezone_column_that_names_no_zone_leaves_a_note_on_the_valid_row():
    data = (
        b"username,first_name,Time Zone\n"
        b"@alice_w,Alice,Europe/Berlin\n"
        b"@bob_marketing,Bob,Mars/Olympus\n"
        b"@carol_k,Carol,\n"
        b"@dave_user,Dave,UTC+3\n"
    )

    recipient_list, report = import_bytes(data)

    note = "unknown time zone “Mars/Olympus” in column “Time Zone” (use an IANA name such as Europe/Berlin)"
    assert outcome(recipient_list) == {
        2: ("@alice_w", VALID, ""),
        3: ("@bob_marketing", VALID, note),
        4: ("@carol_k", VALID, ""),
        5: ("@dave_user", VALID, note.replace("Mars/Olympus", "UTC+3")),
    }
    # The column is the row's time zone, kept under one name: where each recipient's zone is read.
    assert recipient_list.recipients.get(row_number=3).fields["time_zone"] == "Mars/Olympus"
    assert [p["row"] for p in report.problems] == [3, 5] and report.valid_count == 4
