"""Issue 17 in the browser: a workbook whose first sheet is a cover goes through the mapping step
with its recipients' sheet and header row found, every sheet listed, and each row's verdict shown."""

from __future__ import annotations

import os

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop, as in test_browser.py

from campaigns.models import RecipientList  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_marketing_uploads_a_workbook_with_a_cover_sheet_and_the_mapping_step_finds_sheet_and_header(
    browser, mark, cases_dir
):
    page = browser.page
    browser.login("mark")
    browser.go("/admin/campaigns/recipientlist/add/")
    page.fill("#id_name", "Workbook")
    page.set_input_files("#id_file", str(cases_dir / "recipients" / "workbook_cover_sheet.xlsx"))
    page.select_option("#id_consent_basis", "opt_in")
    page.click("text=Upload and preview")
    page.wait_for_selector("#tgc-preview")

    assert page.eval_on_selector_all("#id_sheet option", "options => options.map(o => o.value)") == [
        "Summary",
        "Contacts",
    ]
    assert (page.input_value("#id_sheet"), page.input_value("#id_header_row")) == ("Contacts", "3")
    table = page.text_content("#tgc-preview")  # as written (the headers are shown in capitals)
    assert "First name" in table and "Customer contacts" not in table
    for verdict in ("@max_example", "+4915123456752", "@anna_beispiel", "duplicate of row 4"):
        assert verdict in table
    browser.shot("workbook-sheet-and-header-found")

    page.click("input[name=_import]")
    page.wait_for_selector("text=9 valid")
    assert RecipientList.objects.get(name="Workbook").valid_count == 9
