"""Late binding and shared sessions seen from the campaign's page (issue 11 "Done when"):
Playwright drives Debian's Chromium against the live server while the worker thread
(``campaigns.tasks.drive_campaign``, tests.browsing.Worker) sends; each step saves a screenshot
under ``test-results/<test>/``.

- A campaign on three sessions, one of them in a FloodWait, finishes: the two healthy sessions
  send the rows the flooded one cannot, neither stands idle while rows are pending, and the page's
  "Sent by session" shows it.
- Two campaigns on the same sessions both make progress: both pages show messages sent before
  either finishes, and each says which campaign it shares its sessions with.

Simulated sessions with no latency, paced (a few messages a second) so the campaigns run long
enough to be watched. Every wait is for a state of the page, never a fixed sleep.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
from django.db.models import Max

# Playwright's sync API runs an event loop in this thread (see tests/test_browser.py).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from campaigns import engine  # noqa: E402
from campaigns.models import Campaign, CampaignStatus, DeliveryAttempt  # noqa: E402
from sessions_app.models import SimulatedDelivery, TelegramSession  # noqa: E402
from tests.conftest import make_campaign, make_list, make_session  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SENT_BETWEEN = """(bounds) => {
    const text = document.querySelector('#tgc-progress .tgc-summary').innerText;
    const sent = /Sent (\\d+)/.exec(text);
    return sent && Number(sent[1]) >= bounds[0] && Number(sent[1]) < bounds[1];
}"""


def crowd(name: str, n: int):
    return make_list(name, [(f"@{name}_{i:03d}", {"first_name": f"M{i}"}) for i in range(n)])


def sent_by(campaign: Campaign) -> dict[str, int]:
    return dict(Counter(campaign.results.filter(status="sent").values_list("session__name", flat=True)))


def session_row(page, name: str) -> list[str]:
    """The cells of ``name``'s row in the page's "Sent by session" table."""
    row = page.locator("#tgc-progress table.tgc-sessions tbody tr", has_text=name)
    return [c.strip() for c in row.locator("td").all_inner_texts()]


# A campaign with one session in a FloodWait -------------------------------------------------------
@pytest.fixture
def storm_campaign(db):
    """Thirty recipients on three user sessions paced 4 messages a second; "Sim flooded" gets a
    FloodWait of an hour on its first request. Launched before the browser starts (the engine
    runs its own event loop)."""
    healthy = [make_session(name, send_delay=0.25) for name in ("Sim one", "Sim two")]
    flooded = make_session(
        "Sim flooded", send_delay=0.25, simulator_config={"flood_rate": 1.0, "flood_seconds": [3600, 3600]}
    )
    campaign = make_campaign("Spring storm", [crowd("storm", 30)], [*healthy, flooded])
    engine.launch(campaign, enqueue=False)
    return campaign


def test_a_campaign_with_a_session_in_flood_wait_finishes_on_the_others_with_none_idle(
    storm_campaign, browser, mark, worker
):
    page, campaign = browser.page, storm_campaign
    worker.enqueue(campaign.pk)
    browser.login("mark")
    browser.go(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    page.wait_for_selector(".tgc-badge.tgc-running")
    browser.shot("launched")
    worker.start()

    # Mid-run: the flooded session shows its FloodWait and the others keep sending.
    page.wait_for_function(SENT_BETWEEN, arg=[6, 30])
    page.wait_for_function(
        "() => /FloodWait/.test(document.querySelector('#tgc-progress table.tgc-sessions').innerText)"
    )
    assert "FloodWait" in session_row(page, "Sim flooded")[1]
    browser.shot("running-one-session-in-flood-wait")

    page.wait_for_selector(".tgc-badge.tgc-completed")
    assert "100.0% done" in page.inner_text("#tgc-done")
    cells = {name: session_row(page, name) for name in ("Sim one", "Sim two", "Sim flooded")}
    browser.shot("completed-sent-by-session")

    # The page's "Sent by session": the healthy sessions sent all thirty, the flooded one none.
    assert cells["Sim flooded"][2] == "0"
    assert int(cells["Sim one"][2]) + int(cells["Sim two"][2]) == 30
    assert sent_by(campaign) == {"Sim one": int(cells["Sim one"][2]), "Sim two": int(cells["Sim two"][2])}
    assert abs(int(cells["Sim one"][2]) - int(cells["Sim two"][2])) <= 2  # round robin: even shares
    # Nobody sat idle while rows were pending: each healthy session sent until the last quarter
    # second of the campaign (its own pace), not stopping early with its launch-time share.
    last = {
        name: DeliveryAttempt.objects.filter(session__name=name, outcome="sent")
        .latest("started_at")
        .started_at
        for name in ("Sim one", "Sim two")
    }
    gap = abs((last["Sim one"] - last["Sim two"]).total_seconds())
    assert gap <= 0.5, last
    flooded = TelegramSession.objects.get(name="Sim flooded")
    assert flooded.flood_wait_left() > 0 and DeliveryAttempt.objects.filter(session=flooded).count() >= 1
    assert SimulatedDelivery.objects.filter(session=flooded).count() == 0
    assert SimulatedDelivery.objects.count() == 30


# Two campaigns on the same sessions ---------------------------------------------------------------
@pytest.fixture
def two_campaigns(db):
    """A long campaign and a short one launched after it, on the same two sessions paced 4 a
    second. Launched before the browser starts (the engine runs its own event loop)."""
    shared = [make_session(name, send_delay=0.25) for name in ("Sim one", "Sim two")]
    first = make_campaign("Big newsletter", [crowd("big", 120)], shared)
    second = make_campaign("Flash sale", [crowd("flash", 40)], shared)
    engine.launch(first, enqueue=False)
    engine.launch(second, enqueue=False)
    return first, second


def test_two_campaigns_on_the_same_sessions_both_make_progress(two_campaigns, browser, mark, worker):
    first, second = two_campaigns
    worker.enqueue(first.pk)
    worker.enqueue(second.pk)
    browser.login("mark")
    pages = {first.pk: browser.page, second.pk: browser.page.context.new_page()}
    for campaign in (first, second):
        page = pages[campaign.pk]
        page.goto(f"{browser.base}/admin/campaigns/campaign/{campaign.pk}/change/")
        page.wait_for_selector(".tgc-badge.tgc-running")
    # Each page says which campaign it shares its sessions with.
    waits = {pk: page.inner_text("#tgc-waits") for pk, page in pages.items()}
    assert "“Flash sale”" in waits[first.pk] and "“Big newsletter”" in waits[second.pk]
    browser.shot("first-campaign-before-the-worker")
    worker.start()

    # The campaign launched second shows messages sent while the first, sending too, runs on.
    pages[second.pk].wait_for_function(SENT_BETWEEN, arg=[4, 40])
    pages[second.pk].screenshot(path=str(browser.folder / "02-second-campaign-sending.png"), full_page=True)
    assert first.results.filter(status="sent").exists()
    first.refresh_from_db()
    assert first.status == CampaignStatus.RUNNING
    assert "also sends “Big newsletter”" in pages[second.pk].inner_text("#tgc-waits")
    pages[first.pk].wait_for_function(SENT_BETWEEN, arg=[4, 120])
    browser.steps = 2
    browser.shot("first-campaign-sending")

    pages[second.pk].wait_for_selector(".tgc-badge.tgc-completed")
    pages[second.pk].screenshot(path=str(browser.folder / "04-second-campaign-completed.png"), full_page=True)
    pages[first.pk].wait_for_selector(".tgc-badge.tgc-completed", timeout=60_000)
    browser.steps = 4
    browser.shot("first-campaign-completed")
    assert sum(sent_by(first).values()) == 120 and sum(sent_by(second).values()) == 40
    assert set(sent_by(second)) == {"Sim one", "Sim two"}
    # Served in turn, the short campaign, launched second, was done long before the long one.
    done = {c.name: c.results.aggregate(last=Max("sent_at"))["last"] for c in (first, second)}
    assert done["Flash sale"] < done["Big newsletter"]
    assert SimulatedDelivery.objects.count() == 160
