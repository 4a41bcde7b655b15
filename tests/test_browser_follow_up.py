"""Marketing follows a campaign up in the browser (issue 20): import a list, send a campaign from a
simulated user session whose seeded audience reads and replies, build "did not read within 1 h"
from the campaign's page, see the count and a sample on the segment's page, and launch the
follow-up to exactly those people, then find on one person's page both messages, their read and
their reply."""

from __future__ import annotations

import os
import threading

import pytest

from campaigns.audience.followups import follow_up_counts
from campaigns.engine import engagement
from campaigns.models import Campaign, Reply, Segment
from sessions_app.models import SessionKind
from tests.conftest import make_session

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop runs in this thread (see test_browser)
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AUDIENCE = {"seed": 7, "read_rate": 0.5, "read_after_s": [0, 0], "reply_rate": 0.5, "reply_after_s": [0, 0]}


def import_list(browser, folder) -> None:
    """40 people: enough that the seeded audience surely reads some and not others, and replies
    (each message's fate is drawn from the seed and its message id, which follows the clock)."""
    page = browser.page
    csv = folder / "store.csv"
    csv.write_text("username,first_name\n" + "".join(f"@shopper_{i:02d},Name{i}\n" for i in range(40)))
    browser.go("/admin/campaigns/recipientlist/add/")
    page.fill("#id_name", "Store openings")
    page.set_input_files("#id_file", str(csv))
    page.select_option("#id_consent_basis", "opt_in")
    page.click("text=Upload and preview")
    page.wait_for_selector("#tgc-preview")
    page.click("input[name=_import]")
    page.wait_for_selector(".tgc-report")


def compose_and_launch(browser, name: str, message: str, *, list_name: str | None) -> None:
    page = browser.page
    if list_name:
        browser.go("/admin/campaigns/campaign/add/")
        page.fill("#id_name", name)
        page.check(f"label:has-text('{list_name}') input")
        page.check("label:has-text('Sim user') input")
        page.fill("#id_delay_seconds", "0")
    page.fill("#id_message", message)
    page.click("input[name=_continue]")
    page.wait_for_selector("#tgc-operations")
    page.click("button:has-text('Launch…')")
    page.wait_for_selector("#tgc-confirm-launch")
    browser.shot(f"launch-summary-{name[:20]}")
    page.click("#tgc-confirm-launch")
    page.wait_for_selector(".tgc-badge.tgc-completed", timeout=60_000)


def catch_up() -> None:
    """The seeded audience's reads and replies, fetched as the workers' schedule does, in a thread
    of its own (Playwright's event loop runs in this one)."""
    from django.db import connection

    def run():
        try:
            engagement.catch_up()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)


def test_marketing_follows_up_those_who_did_not_read_within_an_hour(browser, mark, tmp_path, worker):
    page = browser.page
    make_session("Sim user", kind=SessionKind.USER, simulator_config=AUDIENCE)
    browser.login("mark")
    import_list(browser, tmp_path)
    worker.start()

    compose_and_launch(
        browser,
        "Store opening",
        "Hi {{ first_name }}, our store opens on Friday.",
        list_name="Store openings",
    )
    first = Campaign.objects.get(name="Store opening")
    catch_up()
    read = set(first.results.filter(read_at__isnull=False).values_list("key", flat=True))
    unread = set(first.results.filter(status="sent", read_at__isnull=True).values_list("key", flat=True))
    assert read and unread, "the seeded audience reads some messages and not others"
    assert first.results.filter(replied_at__isnull=False).exists()

    # Follow up… from the campaign's page: "did not read within 1 h", counted.
    browser.go(f"/admin/campaigns/campaign/{first.pk}/change/")
    page.click("#tgc-follow-up")
    page.fill("#tgc-within-get", "1")
    page.click("text=Count again")
    page.wait_for_selector("#tgc-count-not_read")
    assert (
        int(page.inner_text("#tgc-count-not_read")) == len(unread) == follow_up_counts(first, 1)["not_read"]
    )
    assert "looks unread for ever" in page.inner_text("#tgc-follow-up-honest")
    browser.doc_shot("follow-up-who")
    page.check("#tgc-kind-not_read")
    page.click("#tgc-create-follow-up")
    page.wait_for_selector("#tgc-follows-up, #tgc-operations")
    assert "created as a draft" in browser.messages()

    # The segment's page: the count, a sample, why each person is in.
    segment = Segment.objects.get(follow_up_of=first)
    browser.go(f"/admin/campaigns/segment/{segment.pk}/change/")
    assert int(page.inner_text("#tgc-segment-count")) == len(unread)
    shown = set(page.locator("#tgc-segment-sample .tgc-sample-row td:first-child").all_inner_texts())
    assert shown <= unread and len(shown) == min(20, len(unread))
    page.click("#tgc-segment-sample details summary >> nth=0")
    assert "did not read “Store opening” within 1 h of the send" in page.inner_text("#tgc-segment-sample")
    browser.doc_shot("segment-count-sample-why")

    # Write the follow-up and launch it: it goes to exactly those who had not read.
    follow_up = Campaign.objects.get(segments=segment)
    browser.go(f"/admin/campaigns/campaign/{follow_up.pk}/change/")
    compose_and_launch(
        browser, follow_up.name, "Hi {{ first_name }}, a reminder: we open on Friday.", list_name=None
    )
    assert set(follow_up.results.filter(status="sent").values_list("key", flat=True)) == unread
    browser.shot("follow-up-sent")

    # One person's page: both messages, the follow-up's read, and a reply.
    catch_up()
    # A "STOP" (one of the seeded replies) shows on the timeline as the opt-out it is, not a reply.
    replied = set(
        Reply.objects.filter(campaign__in=[first, follow_up], is_opt_out=False).values_list(
            "result__key", flat=True
        )
    )
    read_again = set(follow_up.results.filter(read_at__isnull=False).values_list("key", flat=True))
    someone = sorted(read_again & replied)
    assert someone, "the seeded audience reads and answers some follow-ups"
    browser.go("/admin/campaigns/person/")
    page.fill("#searchbar", someone[0])
    page.click("#tgc-person-search input[type=submit]")
    page.wait_for_selector("#tgc-person-timeline, #tgc-person-matches")
    if page.locator("#tgc-person-matches").count():
        page.click("#tgc-person-matches a >> nth=0")
        page.wait_for_selector("#tgc-person-timeline")
    assert page.inner_text("#tgc-person-keys") == someone[0]
    rows = page.locator("#tgc-person-timeline tbody tr")
    events = [
        (row.locator("td").nth(1).inner_text(), row.locator("td").nth(2).inner_text()) for row in rows.all()
    ]
    assert ("sent", "Store opening") in events and ("sent", follow_up.name) in events, events
    assert ("read", follow_up.name) in events, events
    assert any(what == "reply" for what, _ in events), events
    browser.shot("person-with-both-messages")
