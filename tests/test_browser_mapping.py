"""The mapping step fits a screen (issue 17 item 10): at 1,366 px the verdict stands right after
the row number, one line per row, and stays in view while a wide file scrolls sideways."""

from __future__ import annotations

import os

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop, not ours (see test_browser)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 1366


def _upload(browser, cases_dir, name: str, width: int = WIDTH) -> None:
    page = browser.page
    page.set_viewport_size({"width": width, "height": 768})
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
    # The Import button is on the first screen: staff who checked the rows need not hunt for it.
    button = page.locator("input[name=_import]").bounding_box()
    assert button and 0 <= button["y"] and button["y"] + button["height"] <= 768, button
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


def _first_screen(page) -> dict:
    """Where the preview's first data row, its deciding columns' headers and each verdict stand."""
    return page.evaluate(
        """() => {
            const table = document.querySelector('#tgc-preview');
            const first = table.querySelector('tbody tr').getBoundingClientRect();
            const box = document.querySelector('.tgc-preview-table').getBoundingClientRect();
            const heads = [...table.querySelectorAll('thead tr:last-child th')].map(th => {
                const r = th.getBoundingClientRect();
                return {name: th.textContent.trim(), left: r.left, right: r.right};
            });
            const verdicts = [...table.querySelectorAll('tbody td.tgc-verdict')].map(td => {
                const line = td.querySelector('summary') || td;
                return {text: td.innerText.trim(), title: td.getAttribute('title') || '',
                        cut: line.scrollWidth > line.clientWidth + 1};
            });
            return {firstBottom: first.bottom, boxRight: box.right, heads, verdicts,
                    pageWidth: document.documentElement.scrollWidth};
        }"""
    )


@pytest.mark.parametrize("width", [1366, 1024])
@pytest.mark.parametrize("name", ["german_headers.csv", "google_export.csv"])
def test_the_first_screen_shows_rows_with_their_verdicts_and_the_columns_that_decide_them(
    browser, mark, cases_dir, name, width
):
    browser.login("mark")
    _upload(browser, cases_dir, name, width)
    page = browser.page
    browser.shot(f"first-screen-{name.split('.')[0]}-{width}")

    seen = _first_screen(page)
    assert seen["firstBottom"] <= 768, "the first row is below the fold"
    assert seen["pageWidth"] <= width
    deciding = {
        "german_headers.csv": ["Handy", "Land", "Newsletter"],
        "google_export.csv": ["Phone 1 - Value"],
    }
    for head in seen["heads"]:
        if head["name"] in deciding[name]:
            assert head["right"] <= min(width, seen["boxRight"]) + 1, (
                f"{head['name']} needs a sideways scroll"
            )
    assert {h["name"] for h in seen["heads"]} >= set(deciding[name])
    for verdict in seen["verdicts"]:  # the whole reason: in the row, or as its tooltip
        if verdict["cut"]:
            assert verdict["title"] and len(verdict["title"]) >= len(verdict["text"]), verdict


@pytest.mark.parametrize("name", ["phone_contacts.vcf", "telegram_export.json"])
def test_a_format_without_a_header_row_offers_no_header_checkbox(browser, mark, cases_dir, name):
    browser.login("mark")
    _upload(browser, cases_dir, name)

    assert browser.page.locator("#id_header").count() == 0
    assert "first row holds the column names" not in browser.page.inner_text("#content-main")
