"""campaigns.lists.importing: the recipient files of shared/cases/recipients and their right outcomes."""

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.lists import importing, reading
from campaigns.lists.importing import ImportRefused, import_recipient_list
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
    16: ("", INVALID, "empty recipient"),
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

    no_code = "no country code: write the phone as +… or set the list's default region"
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
    names = [f"{r.fields['имя']} {r.fields['фамилия']}" for r in rows]
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
        5: ("", INVALID, "empty recipient"),
    }
    assert recipient_list.recipients.get(row_number=5).fields == {
        "First name": "Vic (no phone)",
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
        ("binary_named.csv", "not a text/CSV file"),
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
    real_bulk_create = Recipient.objects.bulk_create
    monkeypatch.setattr(
        Recipient.objects, "bulk_create", lambda objs: sizes.append(len(objs)) or real_bulk_create(objs)
    )
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
    with pytest.raises(ImportRefused, match="^not a text/CSV file$"):
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
    names = [r.fields["имя"] for r in recipient_list.recipients.order_by("row_number")]
    assert names == ["Иван", "Ольга", "Дмитрий"]


@pytest.mark.django_db
def test_a_codec_that_is_not_a_text_encoding_is_refused_by_name():
    from campaigns.lists.importing import ImportRefused, import_recipient_list
    from campaigns.models import RecipientList

    rl = RecipientList(name="rot", consent_basis="opt_in")
    with pytest.raises(ImportRefused, match="not a text encoding"):
        import_recipient_list(rl, io.BytesIO(b"recipient\n@alice_w\n"), encoding="rot13")
    assert not RecipientList.objects.exists()
