"""Pages that stay true, in Chromium (issue 19 items 4, 7, 8, 9): the home page's tables read at a
laptop's width, Back to a launch summary after the launch says what happened, "Why it waits" and
the progress block agree with the campaign's state. Screenshots per step under
``test-results/<test>/`` (tests.browsing)."""

from __future__ import annotations

import os
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

# Playwright's sync API runs an event loop in this thread (see tests/test_browser.py).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from campaigns import engine  # noqa: E402
from campaigns.models import Campaign, CampaignStatus  # noqa: E402
from tests.conftest import make_campaign, make_list  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# How a table's layout is measured: the tallest header cell, and how far any table of a home
# section reaches beyond its section's box (px).
MEASURE_HOME = """() => {
  const sections = [...document.querySelectorAll('.tgc-home-section')];
  let tallest = 0, overflow = 0, words = [];
  for (const section of sections) {
    const box = section.getBoundingClientRect();
    for (const th of section.querySelectorAll('th')) {
      const line = parseFloat(getComputedStyle(th).lineHeight) || 16;
      const h = th.getBoundingClientRect().height;
      if (h > tallest) tallest = h;
      if (h > 2.6 * line) words.push(th.innerText);
    }
    for (const table of section.querySelectorAll('table')) {
      const r = table.getBoundingClientRect();
      overflow = Math.max(overflow, r.right - box.right, table.scrollWidth - table.clientWidth);
    }
  }
  return {tallest, overflow, words};
}"""


def _finished_campaigns(people, alpha, n: int) -> None:
    now = timezone.now()
    for i in range(n):
        make_campaign(
            f"Spring sale reminder for our loyal customers {i}",
            [people],
            [alpha],
            status=CampaignStatus.COMPLETED,
            launched_at=now - timedelta(hours=2),
            finished_at=now - timedelta(hours=1),
        )


@pytest.mark.parametrize("width", [1366, 1024])
def test_the_home_pages_tables_keep_their_headers_on_a_line_or_two_inside_their_boxes(
    browser, mark, people, alpha, width
):
    _finished_campaigns(people, alpha, 3)
    make_campaign("A draft with a rather long name to see how it wraps", [people], [alpha])
    make_campaign(
        "Scheduled",
        [people],
        [alpha],
        status=CampaignStatus.SCHEDULED,
        scheduled_at=timezone.now() + timedelta(days=1),
    )
    browser.page.set_viewport_size({"width": width, "height": 900})
    browser.login("mark")
    browser.go("/admin/")
    browser.page.wait_for_selector("#tgc-home-finished table")
    browser.shot(f"home-{width}")
    found = browser.page.evaluate(MEASURE_HOME)
    assert not found["words"], f"headers broken over more than two lines: {found}"
    assert found["overflow"] <= 1, f"a table overflows its box by {found['overflow']} px"


def change_path(campaign: Campaign) -> str:
    return f"/admin/campaigns/campaign/{campaign.pk}/change/"


def test_back_to_the_launch_summary_of_a_finished_campaign_says_what_happened_and_offers_no_launch(
    browser, mark, people, alpha, worker
):
    campaign = make_campaign("Winter sale", [people], [alpha])
    page = browser.page
    browser.login("mark")
    browser.go(change_path(campaign))
    page.click("button:has-text('Launch…')")
    page.wait_for_selector("#tgc-confirm-launch")
    browser.shot("summary")
    page.click("#tgc-confirm-launch")
    page.wait_for_selector(".messagelist")
    worker.start()
    page.wait_for_selector("#tgc-done:has-text('100.0% done')")  # the page reloads once it completes
    browser.shot("finished")

    response = page.go_back()
    page.wait_for_selector(f"#tgc-summary-{campaign.pk}")
    browser.shot("back-to-the-summary")
    assert "no-store" in (response.headers.get("cache-control", "") if response else "")
    said = page.inner_text(f"#tgc-summary-{campaign.pk}")
    assert "“Winter sale” was launched at" in said and "by mark" in said
    assert "finished" in said and "5 sent" in said
    assert "cannot be launched" not in said and "to send" not in said
    assert page.locator("#tgc-confirm-launch").count() == 0
    assert page.locator(f"#tgc-summary-{campaign.pk} a[href$='{change_path(campaign)}']").count() == 1


# How much of the progress bar its coloured segments fill (0–1), per bar on the page.
BAR_FILL = """() => [...document.querySelectorAll('#tgc-progress .tgc-bar')].map(bar => {
  const used = [...bar.children].reduce((sum, span) => sum + span.getBoundingClientRect().width, 0);
  return used / bar.getBoundingClientRect().width;
})"""


def run_until_done(campaign: Campaign) -> str:
    """The engine's driving loop in a thread of its own (Playwright's event loop runs in this
    one, and the engine's slices are async), as a worker would run it; its final status."""
    found = []

    def run() -> None:
        from django.db import connection

        try:
            found.append(engine.run_until_done(campaign, max_seconds=20))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    return found[0] if found else "still running"


def test_a_finished_campaign_with_skipped_rows_shows_full_bars_beside_100_percent_done(browser, mark, alpha):
    twice = make_list("twice", [("@anna", {}), ("@anna", {}), ("@ben", {}), ("@ben", {})])
    campaign = make_campaign("Dups", [twice], [alpha])
    engine.launch(campaign, enqueue=False)
    assert run_until_done(campaign) == CampaignStatus.COMPLETED
    browser.login("mark")
    browser.go(change_path(campaign))
    browser.page.wait_for_selector("#tgc-done")
    browser.shot("finished")

    assert "100.0% done" in browser.page.inner_text("#tgc-done")
    fills = browser.page.evaluate(BAR_FILL)
    assert fills and all(f > 0.99 for f in fills), fills  # the top bar and the session's
    table = browser.page.inner_text("#tgc-progress .tgc-sessions")
    assert "(waiting for a session)" not in table


def test_why_it_waits_follows_the_state_and_the_winner_is_asked_for_once_the_test_is_settled(
    browser, mark, alpha
):
    crowd = make_list("crowd", [(f"@member_{i:04d}", {}) for i in range(8)])
    campaign = make_campaign("AB", [crowd], [alpha], variants=["B"], split={"A": 25, "B": 25, "hold": 50})
    engine.launch(campaign, enqueue=False)
    # A wake-up time left from quiet hours cleared since: the session may send now.
    Campaign.objects.filter(pk=campaign.pk).update(wake_at=timezone.now() + timedelta(hours=3))
    page = browser.page
    browser.login("mark")
    browser.go(change_path(campaign))
    page.wait_for_selector("#tgc-eta")
    browser.shot("running")
    waits = page.inner_text("#tgc-waits") if page.locator("#tgc-waits").count() else ""
    assert "Every session is waiting" not in waits
    assert page.locator(".tgc-op-choose_winner").count() == 0  # the test still sends

    assert run_until_done(campaign) == CampaignStatus.PAUSED
    browser.go(change_path(campaign))
    page.wait_for_selector("#tgc-eta")
    browser.shot("waiting-for-the-winner")
    assert "choose the winner" in page.inner_text("#tgc-eta")
    assert "resumed" not in page.inner_text("#tgc-eta")
    assert page.locator(".tgc-op-choose_winner").count() == 1

    # On the winner page, clicking a variant's wording (or anywhere on its row) chooses it.
    page.click(".tgc-op-choose_winner")
    page.wait_for_selector("#tgc-variants")
    page.click("#tgc-variants tbody tr:nth-child(2) .tgc-variant-text")
    assert page.is_checked("#tgc-variant-B")
    page.click("#tgc-variants tbody tr:nth-child(1) td:nth-child(4)")
    assert page.is_checked("#tgc-variant-A") and not page.is_checked("#tgc-variant-B")


def test_an_ab_campaign_with_quiet_hours_says_what_blocks_it_how_long_it_takes_and_what_waits(browser, mark):
    from zoneinfo import ZoneInfo

    from tests.conftest import make_session

    berlin_now = timezone.localtime(timezone.now(), timezone=ZoneInfo("Europe/Berlin"))
    opens = (berlin_now + timedelta(hours=3)).time().replace(second=0, microsecond=0)
    closes = (berlin_now + timedelta(hours=5)).time().replace(second=0, microsecond=0)
    rows = [("+79123456789", {})] + [(f"+4915112345{i:03d}", {"timezone": "Europe/Berlin"}) for i in range(7)]
    export = make_list("Google export", rows)
    campaign = make_campaign(
        "Quiet AB",
        [export],
        [make_session("user", kind="user")],
        variants=["B"],
        split={"A": 25, "B": 25, "hold": 50},
        send_window_start=opens,
        send_window_end=closes,
    )
    page = browser.page
    browser.login("mark")
    browser.go(change_path(campaign))
    page.wait_for_selector("#tgc-waits")
    browser.shot("draft")
    assert "several time zones" in page.inner_text("#tgc-waits")
    assert page.locator("#tgc-waits .tgc-fix-list").count() == 1
    assert "send window" in page.inner_text("#tgc-eta")

    browser.go(f"/admin/campaigns/campaign/{campaign.pk}/launch/")
    page.wait_for_selector(".tgc-summary-zones")
    browser.shot("summary")
    assert "guessed" in page.inner_text(".tgc-zone-guessed")
    refusal = page.inner_text(".tgc-refused")
    assert "Fix it on the list's page (linked above), then launch again" in refusal
    assert "campaign's page" not in refusal

    export.default_time_zone = "Europe/Berlin"  # as the list's page would set it
    export.save()
    engine.launch(campaign, enqueue=False)
    browser.go(change_path(campaign))
    page.wait_for_selector("#tgc-progress .tgc-sessions")
    browser.shot("waiting-for-the-window")
    table = page.inner_text("#tgc-progress .tgc-sessions")
    assert "(waiting for their send window)" in table
    assert "(waiting for a session)" not in table
    assert page.inner_text("#tgc-eta").startswith("Not sending now: ")
