"""Issue 17 items 3 and 7, issue 19 item 14: workbooks' sheet and header row changeable by the
command and on the page, columns by position; a remembered mapping carries staff's choices and
nothing about the file, and says so; an oversized upload is a form error, not a 500."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from campaigns.lists.file_preview import preview_file
from campaigns.lists.mapping import Mapping
from campaigns.models import Recipient, RecipientList

pytestmark = pytest.mark.django_db

RECIPIENTS = Path(__file__).resolve().parent / "data" / "cases" / "recipients"
ADD = "admin:campaigns_recipientlist_add"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("importrecipients", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def run_import(path: Path | str, name: str, *options: str) -> str:
    return run(str(path), "--name", name, "--consent-basis", "opt_in", *options)


# The command: sheet, header row, columns by position --------------------------------------------


def test_the_command_reads_the_sheet_and_header_row_it_is_given_and_columns_by_position():
    out = run_import(
        RECIPIENTS / "workbook_cover_sheet.xlsx",
        "Chosen",
        "--sheet",
        "Contacts",
        "--header-row",
        "3",
        "--column",
        "3=phone",
        "--column",
        "4=username",
    )

    recipient_list = RecipientList.objects.get(name="Chosen")
    assert "sheet 'Contacts' of 'Summary', 'Contacts', starting at row 3" in out
    assert "Mobile=phone, Telegram=username" in out
    assert recipient_list.valid_count == 9
    assert not recipient_list.recipients.filter(key__in=["@max", "@lukas", "@first_name"]).exists()


def test_a_file_without_usable_headers_is_mapped_by_column_positions(tmp_path):
    path = tmp_path / "no_header.csv"
    path.write_text("Max,Mustermann,+4915123456701\nErika,Mustermann,+4915123456702\n")

    run_import(path, "Positions", "--no-header", "--column", "3=phone")

    recipient_list = RecipientList.objects.get(name="Positions")
    assert sorted(recipient_list.recipients.values_list("key", flat=True)) == [
        "+4915123456701",
        "+4915123456702",
    ]
    assert recipient_list.recipients.get(key="+4915123456701").fields == {
        "column_1": "Max",
        "column_2": "Mustermann",
    }


# A remembered mapping ---------------------------------------------------------------------------


def test_a_remembered_mapping_says_what_it_reuses_and_detects_how_the_file_is_read():
    run_import(RECIPIENTS / "same_header_cp1252.csv", "Western", "--region", "FR")

    out = run_import(RECIPIENTS / "same_header_utf8.csv", "Again")

    assert "Using the mapping of list “Western” (same header row): roles phone=phone" in out
    assert "region FR" in out and "--region to change the region" in out
    again = RecipientList.objects.get(name="Again")
    assert (again.mapping["encoding"], again.mapping["delimiter"]) == ("utf-8", ",")
    assert again.mapping["reused_from"] == "Western"


def test_a_remembered_mapping_carries_no_sheet_or_header_row_into_the_next_workbook(tmp_path):
    run_import(
        RECIPIENTS / "workbook_cover_sheet.xlsx", "Workbook", "--sheet", "Summary", "--header-row", "1",
        "--column", "Export of contacts=username",
    )  # fmt: skip
    first = RecipientList.objects.get(name="Workbook")
    assert (first.mapping["sheet"], first.mapping["header_row"]) == ("Summary", 1)

    run_import(RECIPIENTS / "workbook_cover_sheet.xlsx", "Again")

    again = RecipientList.objects.get(name="Again")
    assert (again.mapping["sheet"], again.mapping["header_row"]) == ("Contacts", 3)


def test_a_preview_whose_columns_changed_reads_the_file_again_while_it_is_open():
    # The roles were chosen for other columns: the file is read a second time (it used to be read
    # after its "with" block had closed it: "ValueError: read of closed file").
    stale = Mapping(roles=("phone", "field"), headers=("Telefon", "Name"))

    preview = preview_file(str(RECIPIENTS / "same_header_utf8.csv"), stale)

    assert preview.roles_reset
    assert preview.counts == {"valid": 8}
    assert preview.columns == ["name", "phone"]


# The upload page --------------------------------------------------------------------------------


@pytest.fixture
def staff(client, mark):
    client.force_login(mark)
    return client


def start_upload(client, path: Path, name: str = "") -> object:
    data = {"name": name or path.name, "consent_basis": "opt_in", "consent_note": ""}
    data["file"] = SimpleUploadedFile(path.name, path.read_bytes())
    return client.post(reverse(ADD), data, follow=True)


def test_the_mapping_step_lists_every_sheet_and_shows_the_sheet_and_header_row_found(staff):
    response = start_upload(staff, RECIPIENTS / "workbook_cover_sheet.xlsx")

    form = response.context["form"]
    assert [name for name, _label in form.fields["sheet"].choices] == ["Summary", "Contacts"]
    assert (form["sheet"].value(), form["header_row"].value()) == ("Contacts", 3)
    assert [row.number for row in response.context["preview"].rows][:2] == [4, 5]


def test_the_mapping_step_reads_another_sheet_with_its_own_header_row(staff):
    response = start_upload(staff, RECIPIENTS / "workbook_cover_sheet.xlsx")
    form = response.context["form"]
    data = {name: form[name].value() for name in form.fields} | {"sheet": "Summary", "_preview": "1"}
    data = {k: ("on" if v is True else v) for k, v in data.items() if v not in (None, False)}

    response = staff.post(response.request["PATH_INFO"], data)

    preview = response.context["preview"]
    assert (response.context["error"], response.context["form"].errors) == ("", {})
    assert preview.mapping.sheet == "Summary"
    assert preview.mapping.header_row == 1  # found anew, not the other sheet's row 3


def test_the_upload_page_says_whose_mapping_it_reuses(staff):
    run_import(RECIPIENTS / "same_header_cp1252.csv", "Western")

    response = start_upload(staff, RECIPIENTS / "same_header_utf8.csv")

    assert "Using the mapping of list “Western” (same header row)" in response.content.decode()
    assert response.context["preview"].mapping.encoding == "utf-8"


def test_the_upload_form_names_and_accepts_every_format_read(staff):
    page = staff.get(reverse(ADD)).content.decode()

    assert 'accept=".csv,.txt,.tsv,.xlsx,.xlsm,.xls,.ods,.vcf,.vcard,.json"' in page
    assert "vCard (.vcf)" in page and "result.json" in page


def test_a_pdf_uploaded_as_a_list_gets_a_form_error_saying_how_to_fix_it(staff, tmp_path):
    path = tmp_path / "customers.pdf"
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")

    response = start_upload(staff, path)

    error = response.context["form"].errors["file"][0]
    assert error.startswith(
        "a PDF document: recipients are not read from it. Export the list as CSV or Excel"
    )
    assert not RecipientList.objects.exists()


def test_an_upload_whose_size_is_over_the_limit_shows_the_limit_and_its_setting_not_a_500(mark, settings):
    settings.TGC_IMPORT_MAX_BYTES = 1024
    client = Client(enforce_csrf_checks=True)
    client.force_login(mark)
    client.get(reverse(ADD))
    token = client.cookies["csrftoken"].value
    big = SimpleUploadedFile("big.csv", b"phone\n" + b"+4915123456701\n" * 10_000)

    response = client.post(
        reverse(ADD), {"csrfmiddlewaretoken": token, "name": "Big", "file": big, "consent_basis": "opt_in"}
    )

    assert response.status_code == 200
    error = response.context["form"].errors["file"][0]
    assert "a recipient file may be at most 1 KiB (TGC_IMPORT_MAX_BYTES)" in error
    assert not RecipientList.objects.exists() and not Recipient.objects.exists()
