"""The mapping step fits a screen (issue 17 item 10): at 1,366 px the verdict stands right after
the row number, one line per row, and stays in view while a wide file scrolls sideways."""

from __future__ import annotations

import os

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop, not ours (see test_browser)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 1366


def _upload(browser, cases_dir, name: str) -> None:
    page = browser.page
    page.set_viewport_size({"width": WIDTH, "height": 768})
    browser.go("/admin/campaigns/recipientlist/add/")
    page.fill("#id_name", name)
    page.set_input_files("#id_file", str(cases_dir / "recipients" / name))
    page.select_option("#id_consent_basis", "opt_in")
    page.click("text=Upload and preview")
    page.wait_for_selector("#tgc-preview")


def _verdicts_in_view(page) -> list[dict]:
    """Each data row's verdict cell: its text, its box on the screen, its row's height."""
    return page.eval_on_selector_all(
        "#tgc-preview tbody tr",
        """rows => rows.map(tr => {
            const cell = tr.querySelector('.tgc-verdict').getBoundingClientRect();
            const number = tr.querySelector('.tgc-row').getBoundingClientRect();
            return {text: tr.querySelector('.tgc-verdict').innerText.trim(), left: cell.left,
                    right: cell.right, after: cell.left >= number.right - 1, height: tr.getBoundingClientRect().height};
        })""",
    )


def test_the_mapping_step_of_a_google_export_shows_every_verdict_without_scrolling_sideways(
    browser, mark, cases_dir
):
    browser.login("mark")
    _upload(browser, cases_dir, "google_export.csv")
    page = browser.page
    browser.shot("google-mapping")

    assert "Recognised: Google Contacts export" in page.inner_text("#tgc-recognised")
    # Each row's country reads its national number: no call for a default region.
    assert "have no country code" not in page.inner_text("#content-main")
    verdicts = _verdicts_in_view(page)
    assert len(verdicts) == 10  # the first ten rows are shown
    assert all(v["after"] and 0 <= v["left"] and v["right"] <= WIDTH for v in verdicts)
    assert [v["text"] for v in verdicts][:4] == [
        "+4915123456701",
        "+4915123456702",
        "+447400123456",
        "+14155550132",
    ]
    assert "no phone number" in verdicts[5]["text"]
    single_line = min(v["height"] for v in verdicts)
    assert all(v["height"] <= single_line + 2 for v in verdicts)  # one line per row, a multi-line address too
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH  # the page itself does not overflow


def test_a_61_column_outlook_file_scrolls_inside_its_table_with_row_number_and_verdict_kept(
    browser, mark, cases_dir
):
    browser.login("mark")
    _upload(browser, cases_dir, "outlook_export.csv")
    page = browser.page

    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    page.eval_on_selector(".tgc-preview-table", "box => { box.scrollLeft = box.scrollWidth; }")
    browser.shot("outlook-scrolled-right")
    verdicts = _verdicts_in_view(page)
    assert len(verdicts) == 10
    assert all(v["after"] and 0 <= v["left"] and v["right"] <= WIDTH for v in verdicts)
    assert "+493012345672" in [v["text"] for v in verdicts]
    # A long reason is one line until asked for: its details open on a click.
    renee = page.locator("#tgc-preview tbody tr", has_text="no phone number").first
    renee.locator("summary").click()
    assert renee.locator("details").get_attribute("open") is not None
