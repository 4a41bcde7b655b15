"""The workbench from the browser, one flow per role (issue 9 "Tests"): Playwright drives Debian's
Chromium against the live server, and each step saves a screenshot of its page under
``test-results/<test>/`` (``TGC_SCREENSHOT_DIR`` to put them elsewhere).

- Marketing imports a list, composes with a typo (the launch is blocked, then fixed), previews a
  chosen recipient, sends a test, launches through the summary, watches the bar and the ETA move
  without reloading, downloads the results, and clones the campaign.
- Reviewer filters the failures and exports them, and gets 403 on launch.
- Operator disables a session.

The worker: a thread in the test process runs the real task (``campaigns.tasks.drive_campaign``)
for every campaign the app enqueues (launch → on_commit → enqueue → task → its continuations), so
the page watches a campaign a worker sends. Simulated sessions with no latency; where the flow
watches progress the sessions pace themselves (2 s between messages), so the campaign runs long
enough to be seen between refreshes, and the worker starts only when the test says so. Every wait
is for a state of the page, never a fixed sleep.
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

from campaigns import engine  # noqa: E402
from campaigns.models import Campaign, CampaignStatus, MessageResult, TestSend  # noqa: E402
from sessions_app.models import SessionKind, SessionStatus, TelegramSession  # noqa: E402
from tests.browsing import progress_numbers  # noqa: E402
from tests.conftest import make_campaign, make_list, make_session  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXPECTED_KEYS = {
    "@alice_w",
    "@bob_marketing",
    "+12125550123",
    "@dave_k2",
    "@erin_shop",
    "123456789",
    "+12025550143",
}


# Marketing ----------------------------------------------------------------------------------------
def test_marketing_imports_composes_tests_launches_watches_and_clones(browser, mark, cases_dir, worker):
    page = browser.page
    for name in ("Sim one", "Sim two"):
        # User accounts (they reach phone numbers), simulated, paced 2 s apart so the campaign
        # sends for a few seconds while the page watches.
        make_session(name, kind=SessionKind.USER, send_delay=2.0)

    browser.login("mark")
    browser.shot("home")

    # Import the list: upload, the mapping step, the report.
    browser.go("/admin/campaigns/recipientlist/add/")
    page.fill("#id_name", "Store openings")
    page.set_input_files("#id_file", str(cases_dir / "recipients" / "basic.csv"))
    page.select_option("#id_consent_basis", "opt_in")
    page.click("text=Upload and preview")
    page.wait_for_selector("#tgc-preview")
    browser.doc_shot("import-mapping")
    page.click("input[name=_import]")
    page.wait_for_selector(".tgc-report")
    assert "7 valid, 0 invalid, 0 duplicate of 7 rows" in browser.messages()
    browser.doc_shot("import-report")

    # Compose with a typo: the live preview flags it before the first save.
    browser.go("/admin/campaigns/campaign/add/")
    page.fill("#id_name", "Store opening")
    page.check("label:has-text('Store openings') input")
    page.check("label:has-text('Sim one') input")
    page.check("label:has-text('Sim two') input")
    page.fill("#id_delay_seconds", "0")
    page.fill("#id_message", "Hi {{ frist_name }}, our {{ city }} store opens on Friday.")
    page.wait_for_selector("#tgc-problems li:has-text('frist_name')")
    assert "Hi , our Berlin store opens on Friday." in page.inner_text("#tgc-bubble")
    browser.doc_shot("compose-typo-live-preview")
    page.click("input[name=_continue]")
    page.wait_for_selector("#tgc-operations")
    campaign = Campaign.objects.get(name="Store opening")

    # The launch is blocked by the typo: the summary says why and offers no confirmation.
    page.click("button:has-text('Launch…')")
    page.wait_for_selector(".tgc-refused")
    assert "{{ frist_name }} is not a column of the chosen lists" in page.inner_text(".tgc-refused")
    assert page.locator("#tgc-confirm-launch").count() == 0
    browser.shot("launch-blocked-by-typo")
    page.click("text=Fix it on the campaign's page")

    # Fix it: the preview follows the typing, and Launch waits for the save.
    page.fill("#id_message", "Hi {{ first_name }}, our {{ city }} store opens on Friday.")
    page.wait_for_selector("#tgc-bubble:has-text('Hi Alice, our Berlin store opens on Friday.')")
    assert page.locator("#tgc-problems").is_hidden()
    assert page.locator("button:has-text('Launch…')").is_disabled()
    assert page.locator("#tgc-unsaved").is_visible()
    browser.shot("fixed-unsaved-launch-held")
    page.click("input[name=_continue]")
    page.wait_for_selector("#tgc-operations")
    assert page.locator("button:has-text('Launch…')").is_enabled()

    # Preview a chosen recipient.
    page.fill("#tgc-pick-q", "dave")
    page.click("#tgc-pick-results button:has-text('@dave_k2')")
    page.wait_for_selector("#tgc-bubble:has-text('Hi Dave, our Munich store opens on Friday.')")
    assert "row 5 of “Store openings”: @dave_k2" in page.inner_text("#tgc-preview-who")
    browser.doc_shot("preview-chosen-recipient")

    # Send a test, personalised as the recipient chosen, to the marketer's own account.
    page.click("a:has-text('Send test…')")
    page.wait_for_selector("#tgc-send-test")
    assert "Hi Dave" in page.inner_text("#tgc-bubble")
    page.fill("#id_to", "@mark_own")
    page.select_option("#id_session", str(TelegramSession.objects.get(name="Sim one").pk))
    page.click("#tgc-send-test")
    page.wait_for_selector("#tgc-tests")
    assert "Test sent to @mark_own through Sim one" in browser.messages()
    browser.shot("test-sent")
    test = TestSend.objects.get()
    assert (test.to_key, test.status, test.text) == (
        "@mark_own",
        "sent",
        "Hi Dave, our Munich store opens on Friday.",
    )
    assert not MessageResult.objects.exists()

    # Launch through the summary.
    page.click("text=Back to the campaign")
    page.click("button:has-text('Launch…')")
    page.wait_for_selector("#tgc-confirm-launch")
    summary = page.inner_text("#content-main")
    assert "7 to send" in summary.replace("\n", " ")
    assert "Sim one" in summary and "one every 2 s" in summary and "about 3" in summary  # expected split
    assert "done by" in summary and "Hi Alice, our Berlin store opens on Friday." in summary
    browser.doc_shot("launch-summary")
    page.click("#tgc-confirm-launch")
    page.wait_for_selector(".tgc-badge.tgc-running")
    assert "“Store opening” launched: 7 recipients (7 pending)" in browser.messages()

    # Watch it: the worker starts; the bar and the ETA move while the page stays loaded.
    page.evaluate("window.tgcNotReloaded = true")
    first_eta = page.inner_text("#tgc-eta")
    assert progress_numbers(page).get("waiting") == 7 and "ETA" in first_eta
    browser.shot("running-before-the-worker")
    worker.start()
    page.wait_for_function(
        """() => {
            const text = document.querySelector('#tgc-progress .tgc-summary').innerText;
            const sent = /Sent (\\d+)/.exec(text);
            return sent && Number(sent[1]) > 0 && Number(sent[1]) < 7;
        }"""
    )
    page.wait_for_function(
        "(first) => { const eta = document.querySelector('#tgc-eta'); return eta && eta.innerText !== first; }",
        arg=first_eta,
    )
    assert page.evaluate("window.tgcNotReloaded === true"), "the page reloaded to show progress"
    assert page.locator("#tgc-status .tgc-running").count() == 1
    browser.doc_shot("running-bar-and-eta-moving")
    page.wait_for_selector(".tgc-badge.tgc-completed")  # the script reloads once the status changes
    page.wait_for_function("() => Number(document.getElementById('tgc-charts').dataset.drawn) > 0")
    assert "100.0% done" in page.inner_text("#tgc-done")
    assert page.locator("#tgc-no-errors").is_visible() and page.locator("#tgc-chart-errors-box").is_hidden()
    browser.doc_shot("completed-with-charts")

    # The results, downloaded as CSV.
    page.click(".object-tools >> text=Results")
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list td.field-status_badge").all_text_contents() == ["Sent"] * 7
    with page.expect_download() as download:
        page.click(".object-tools >> text=Export these 7 results as CSV")
    body = Path(download.value.path()).read_bytes().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
    assert {r["key"] for r in rows} == EXPECTED_KEYS and {r["status"] for r in rows} == {"sent"}
    assert {r["session"] for r in rows} == {"Sim one", "Sim two"}
    browser.doc_shot("results")

    # Clone it: a new draft with the same message, lists and sessions, no results.
    browser.go(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    page.click("button:has-text('Clone')")
    page.wait_for_selector("text=is a new draft")
    copy = Campaign.objects.get(name="Store opening (copy)")
    campaign.refresh_from_db()
    assert (
        copy.status == CampaignStatus.DRAFT and copy.message == campaign.message and not copy.results.exists()
    )
    assert page.input_value("#id_message") == "Hi {{ first_name }}, our {{ city }} store opens on Friday."
    browser.shot("cloned-draft")


# Reviewer -----------------------------------------------------------------------------------------
@pytest.fixture
def autumn_sale(db):
    """A campaign sent to ten shoppers, two of whom Telegram refused (blocked, private), and a
    draft. Made before the browser starts: the engine runs its own event loop."""
    rows = [(f"@shopper_{i:02d}", {"first_name": f"Shopper {i}"}) for i in range(10)]
    refused = {"@shopper_02": ["USER_IS_BLOCKED"], "@shopper_05": ["USER_PRIVACY_RESTRICTED"]}
    session = make_session("Sim review", simulator_config={"script": refused})
    done = make_campaign("Autumn sale", [make_list("Shoppers", rows)], [session])
    engine.launch(done, enqueue=False)
    engine.run_until_done(done, max_seconds=20)
    assert done.counts()["failed"] == 2
    draft = make_campaign("Winter sale", [make_list("More", rows[:2])], [session])
    return done, draft


def test_reviewer_filters_failures_exports_them_and_may_not_launch(autumn_sale, browser, rita):
    page = browser.page
    done, draft = autumn_sale

    browser.login("rita")
    browser.shot("home")
    browser.go(f"/admin/campaigns/campaign/{done.pk}/change/")
    page.wait_for_function("() => Number(document.getElementById('tgc-charts').dataset.drawn) > 0")
    errors = page.inner_text("#tgc-errors")
    assert "USER_IS_BLOCKED" in errors and "blocked this account" in errors
    assert page.locator("#tgc-chart-errors-box").is_visible() and page.locator("#tgc-no-errors").is_hidden()
    assert page.locator("button:has-text('Launch…')").count() == 0
    browser.shot("campaign-with-charts")

    # Filter the failures (from the errors chart's table: the results of that code, then all failed).
    page.click(".object-tools >> text=Results")
    page.wait_for_selector("#result_list")
    page.click("#changelist-filter a:has-text('Failed')")
    page.wait_for_selector("#result_list")
    assert sorted(page.locator("#result_list td.field-status_badge").all_text_contents()) == [
        "Failed",
        "Failed",
    ]
    browser.doc_shot("failures-filtered")
    with page.expect_download() as download:
        page.click(".object-tools >> text=Export these 2 results as CSV")
    body = Path(download.value.path()).read_bytes().decode("utf-8")
    exported = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
    assert sorted((r["key"], r["error_code"]) for r in exported) == [
        ("@shopper_02", "USER_IS_BLOCKED"),
        ("@shopper_05", "USER_PRIVACY_RESTRICTED"),
    ]

    # No launch for a reviewer: not offered, and 403 by its address.
    browser.go(f"/admin/campaigns/campaign/{draft.pk}/change/")
    assert page.locator("button:has-text('Launch…')").count() == 0
    response = browser.go(f"/admin/campaigns/campaign/{draft.pk}/launch/")
    assert response.status == 403
    browser.shot("launch-forbidden")
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.DRAFT


# After the send -----------------------------------------------------------------------------------
@pytest.fixture
def read_and_replied(db):
    """A campaign sent yesterday by a user account (40 messages: 18 read, 6 replied, spread over
    four hours) and a bot (10 messages, 2 replied): its read and reply facts set as the listener
    records them."""
    from datetime import timedelta

    from django.utils import timezone

    rows = [(f"@reader_{i:02d}", {"first_name": f"Reader {i}"}) for i in range(50)]
    people = make_list("Readers", rows)
    user = make_session("Ann (user account)", kind=SessionKind.USER)
    bot = make_session("Shop bot")
    campaign = make_campaign("Spring newsletter", [people], [user, bot], status="completed")
    start = timezone.now() - timedelta(days=1)
    results = []
    for i, recipient in enumerate(people.recipients.order_by("row_number")):
        session = user if i < 40 else bot
        sent_at = start + timedelta(minutes=6 * i)
        read = session == user and i % 20 < 9
        replied = i % 8 == 0
        results.append(
            MessageResult(
                campaign=campaign, recipient=recipient, key=recipient.key, dedupe_key=recipient.key,
                status="sent", session=session, sent_at=sent_at, telegram_message_id=1000 + i,
                read_at=sent_at + timedelta(minutes=20) if read else None,
                replied_at=sent_at + timedelta(minutes=45) if replied else None, reply_count=int(replied),
            )
        )  # fmt: skip
    MessageResult.objects.bulk_create(results)
    return campaign


def test_the_campaign_page_shows_read_and_reply_rates_and_draws_them_over_time(
    read_and_replied, browser, rita
):
    page = browser.page
    browser.login("rita")
    browser.go(f"/admin/campaigns/campaign/{read_and_replied.pk}/change/")
    page.wait_for_function("() => Number(document.getElementById('tgc-report').dataset.drawn) > 0")
    section = page.locator("#tgc-report-section")
    section.scroll_into_view_if_needed()
    # 18 of the 40 the user account sent were read; 7 of all 50 replied.
    assert page.inner_text("#tgc-report-overall .tgc-read-rate") == "45.0%"
    assert page.inner_text("#tgc-report-overall .tgc-reply-rate") == "14.0%"
    text = section.inner_text()
    assert "read status hidden or not yet read" in text and "not available for bots" in text
    assert "unread" not in text.lower()
    sessions = page.inner_text("#tgc-report-sessions")
    assert "Shop bot" in sessions and "not available for bots" in sessions
    # The chart: drawn on its canvas with the sent, read and replied series, not empty.
    drawn = page.evaluate(
        """() => {
            const chart = window.Chart.getChart(document.getElementById('tgc-chart-report'));
            return chart.data.datasets.map(d => [d.label, d.data.reduce((a, b) => a + b, 0)]);
        }"""
    )
    assert drawn == [["Sent", 50], ["Read", 18], ["Replied", 7]]
    assert int(page.locator("#tgc-report").get_attribute("data-points")) >= 5
    box = page.locator("#tgc-chart-report").bounding_box()
    assert box["width"] > 200 and box["height"] > 100
    browser.doc_shot("after-the-send")


def test_with_one_hour_of_sending_every_series_of_the_chart_is_visible(browser, rita):
    # Found trying the product: read and replied were lines of one point hidden inside the sent bar.
    from django.utils import timezone

    people = make_list("Quick", [(f"@quick_{i:02d}", {}) for i in range(10)])
    user = make_session("Ann (user account)", kind=SessionKind.USER)
    campaign = make_campaign("Quick one", [people], [user], status="completed")
    at = timezone.now().replace(minute=5, second=0, microsecond=0)
    MessageResult.objects.bulk_create(
        MessageResult(
            campaign=campaign, recipient=r, key=r.key, dedupe_key=r.key, status="sent", session=user,
            sent_at=at, telegram_message_id=2000 + i, read_at=at if i < 4 else None,
            replied_at=at if i < 2 else None, reply_count=int(i < 2),
        )
        for i, r in enumerate(people.recipients.order_by("row_number"))
    )  # fmt: skip
    page = browser.page
    browser.login("rita")
    browser.go(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    page.wait_for_function("() => Number(document.getElementById('tgc-report').dataset.drawn) > 0")
    assert page.locator("#tgc-report").get_attribute("data-points") == "1"
    bars = page.evaluate(
        """() => {
            const chart = window.Chart.getChart(document.getElementById('tgc-chart-report'));
            return chart.data.datasets.map((d, i) => {
                const meta = chart.getDatasetMeta(i);
                const p = meta.data[0].getProps(['x', 'y', 'base', 'width'], true);
                return [d.label, meta.type, Math.round(p.x), Math.abs(p.base - p.y), p.width];
            });
        }"""
    )
    assert [b[:2] for b in bars] == [["Sent", "bar"], ["Read", "bar"], ["Replied", "bar"]]
    assert len({b[2] for b in bars}) == 3  # side by side, none drawn over another
    assert all(height > 5 and width > 5 for *_, height, width in bars), bars
    browser.shot("after-the-send-one-hour")


# Operator -----------------------------------------------------------------------------------------
def test_operator_disables_a_session(browser, otto):
    page = browser.page
    make_session("Sim keep")
    target = make_session("Sim retire")

    browser.login("otto")
    browser.shot("home")
    browser.go("/admin/sessions_app/telegramsession/")
    page.check(f"input[name=_selected_action][value='{target.pk}']")
    page.select_option("select[name=action]", "disable_action")
    page.click("button[name=index]")
    page.wait_for_selector("text=1 session(s) disabled")
    browser.shot("session-disabled")
    target.refresh_from_db()
    assert target.status == SessionStatus.PAUSED
    assert TelegramSession.objects.get(name="Sim keep").status == SessionStatus.ACTIVE
    browser.go("/admin/")
    assert "Sim retire" in page.inner_text("#tgc-home-attention")
    browser.doc_shot("home-session-needs-attention")
