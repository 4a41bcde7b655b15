"""A campaign from the browser, end to end: Playwright drives Debian's Chromium against the live
server. Log in, upload basic.csv, compose a campaign on two simulated sessions, launch it with the
button, see every result ``sent``, download the CSV.

The worker: django-q2 runs ``async_task`` inline when ``Conf.SYNC`` is set, so the real enqueue path
(launch → on_commit → async_task → drive_campaign → its continuations) runs inside the request.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM refuses to be called from
# a thread with a running loop unless told it is safe (it is: the loop is Playwright's, not ours).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from sessions_app.models import SessionKind  # noqa: E402
from tests.conftest import make_session  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(os.environ.get("TGC_SCREENSHOT_DIR", "/tmp"))
EXPECTED_KEYS = {
    "@alice_w",
    "@bob_marketing",
    "+12125550123",
    "@dave_k2",
    "@erin_shop",
    "123456789",
    "+12025550143",
}


@pytest.fixture
def browser_page():
    if not Path(CHROMIUM).exists():
        # CI installs it (scripts/test), so there a missing browser is a failure, not a skip.
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            "Debian's chromium is not installed (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(30_000)
        yield page
        context.close()
        browser.close()


@pytest.fixture
def inline_worker(monkeypatch):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


def test_a_marketer_sends_a_campaign_from_the_browser_and_downloads_its_results(
    live_server, olga, cases_dir, inline_worker, browser_page
):
    page = browser_page
    for name in ("sim-one", "sim-two"):
        make_session(name, kind=SessionKind.USER)  # user accounts can reach phone numbers

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "olga")
    page.fill("#id_password", "olga-password-1")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")

    # Upload the list and read the validation report.
    page.goto(f"{live_server.url}/admin/campaigns/recipientlist/add/")
    page.fill("#id_name", "Browser list")
    page.set_input_files("#id_file", str(cases_dir / "recipients" / "basic.csv"))
    page.select_option("#id_consent_basis", "opt_in")
    page.click("text=Upload and preview")
    page.wait_for_selector("#tgc-preview")  # the mapping step: the first rows as they will be read
    page.click("input[name=_import]")
    page.wait_for_selector(".tgc-report")
    assert "7 valid, 0 invalid, 0 duplicate of 7 rows" in page.inner_text(".messagelist")

    # Compose the campaign.
    page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")
    page.fill("#id_name", "Browser campaign")
    page.fill("#id_message", "Hi {{ first_name|default:'there' }}, our {{ city }} store opens on Friday.")
    page.check("label:has-text('Browser list') input")
    page.check("label:has-text('sim-one') input")
    page.check("label:has-text('sim-two') input")
    page.fill("#id_delay_seconds", "0")
    page.click("input[name=_continue]")
    page.wait_for_selector(".tgc-preview")
    assert "Hi Alice, our Berlin store opens on Friday." in page.inner_text("#tgc-bubble")
    assert "SIMULATOR — no real messages" in page.inner_text(".tgc-panel")

    # Launch: the inline worker drives it to the end before the redirect comes back.
    page.click("button:has-text('Launch')")
    page.wait_for_selector(".tgc-badge.tgc-completed")
    assert "sent" in page.inner_text("#tgc-progress").lower()
    page.screenshot(path=str(SCREENSHOTS / "tgc-campaign.png"), full_page=True)

    # Every result sent, on the results page.
    page.click(".object-tools >> text=Results")
    page.wait_for_selector("#result_list")
    statuses = page.locator("#result_list td.field-status_badge").all_text_contents()
    assert statuses == ["sent"] * 7
    page.screenshot(path=str(SCREENSHOTS / "tgc-results.png"), full_page=True)

    # Download the CSV of the results on screen.
    with page.expect_download() as download_info:
        page.click(".object-tools >> text=Export these 7 results as CSV")
    body = Path(download_info.value.path()).read_bytes().decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body[1:])))
    assert {r["key"].lstrip("'") for r in rows} == EXPECTED_KEYS
    assert {r["status"] for r in rows} == {"sent"}
    assert {r["session"] for r in rows} == {"sim-one", "sim-two"}
    alice = next(r for r in rows if r["key"] == "@alice_w")
    assert (alice["city"], alice["list"], alice["row"]) == ("Berlin", "Browser list", "2")
