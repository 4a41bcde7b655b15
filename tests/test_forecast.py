"""Issue 9, "the campaign while it runs": an ETA from the sessions' pace and *why it waits* in plain
words (FloodWait on B for 6 min; daily cap reached, resumes 00:00 UTC; sessions that cannot send;
sessions shared with another campaign), and a progress block that explains itself (a cancelled
campaign is never "100% done")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import engine
from campaigns.models import AttemptTally, CampaignStatus, MessageResult
from campaigns.reporting import forecast
from campaigns.reporting.progress import progress_snapshot
from sessions_app.models import SessionStatus
from tests.conftest import make_campaign, make_list, make_session

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def pace(**fields) -> forecast.SessionPace:
    values = dict(
        id=1, name="A", simulated=True, status=SessionStatus.ACTIVE, status_display="Active", interval=1.0,
        per_minute=0, daily_cap=0, requests_today=0, available_at=NOON,
    )  # fmt: skip
    return forecast.SessionPace(**(values | fields))


def test_the_finish_time_is_the_rows_left_at_the_sessions_combined_pace():
    paces = [pace(interval=2.0), pace(id=2, name="B", interval=2.0)]

    assert forecast.finish_at(60, paces, NOON) == NOON + timedelta(seconds=60)


def test_a_session_in_floodwait_joins_when_its_wait_ends():
    paces = [pace(interval=1.0, available_at=NOON + timedelta(seconds=30)), pace(id=2, interval=1.0)]

    # B sends alone for 30 s, then both: 30 + 2 × t = 90 → t = 30 s.
    assert forecast.finish_at(90, paces, NOON) == NOON + timedelta(seconds=60)


def test_daily_caps_move_the_rest_to_the_next_utc_days():
    paces = [pace(interval=1.0, daily_cap=40, requests_today=30)]

    finish = forecast.finish_at(100, paces, NOON)

    # 10 today, 40 tomorrow, 40 the day after, the last 10 on the third day at 00:00:10.
    assert finish == datetime(2026, 12, 2, 0, 0, 10, tzinfo=UTC)


def test_a_shared_session_gives_this_campaign_its_priority_share():
    assert forecast.finish_at(10, [pace(interval=1.0, share=0.5)], NOON) == NOON + timedelta(seconds=20)


def test_no_session_that_can_send_means_no_estimate():
    assert forecast.finish_at(10, [pace(status=SessionStatus.QUARANTINED)], NOON) is None


def running(campaign):
    engine.launch(campaign, enqueue=False)
    campaign.refresh_from_db()
    return campaign


def test_why_it_waits_names_a_floodwait_a_daily_cap_and_sessions_that_cannot_send(people):
    flooded = make_session("B", flood_wait_until=timezone.now() + timedelta(minutes=6, seconds=20))
    capped = make_session("A", daily_cap=1)
    AttemptTally.objects.create(
        campaign_id=0, session_id=capped.pk, requests=1, first_started_at=timezone.now()
    )
    quarantined = make_session("C", status=SessionStatus.QUARANTINED)
    new = make_session("D", status=SessionStatus.NEW)
    campaign = running(make_campaign("Waiting", [people], [flooded, capped, quarantined, new]))

    waits = forecast.waits(campaign, forecast.session_paces(campaign))

    text = " | ".join(waits)
    assert "FloodWait on B for 6 min" in text
    assert "A reached its daily cap (1 requests per UTC day): resumes 00:00 UTC" in text
    assert "C is quarantined" in text and "D is not logged in" in text


def test_why_it_waits_names_the_campaign_sharing_its_sessions_and_the_share(people, alpha):
    busy = running(make_campaign("Big sale", [people], [alpha], priority=8))
    mine = running(make_campaign("Newsletter", [make_list("more", [("@zed_user", {})])], [alpha], priority=2))

    waits = forecast.waits(mine, forecast.session_paces(mine))

    assert busy.status == CampaignStatus.RUNNING
    assert (
        "alpha also sends “Big sale” (priority 8): this campaign (priority 2) gets 20% of its turns." in waits
    )


def test_a_running_campaign_no_worker_drives_says_so(people, alpha):
    campaign = running(make_campaign("Stuck", [people], [alpha]))
    campaign.launched_at = timezone.now() - timedelta(minutes=10)
    campaign.save()

    assert any(
        "is the worker (manage.py qcluster) running?" in w
        for w in forecast.waits(campaign, forecast.session_paces(campaign))
    )


def test_the_progress_block_shows_the_eta_and_the_rate_allowed(client, mark, people):
    slow = make_session("slow", send_delay=20.0)
    campaign = running(make_campaign("Slow", [people], [slow]))
    client.force_login(mark)

    data = client.get(reverse("campaigns:progress", args=[campaign.pk])).json()

    assert data["pace"]["allowed_per_minute"] == 3.0
    assert data["pace"]["eta"].startswith("5 messages to go: about 2 min, done by ")  # one per 20 s
    assert 'id="tgc-eta"' in data["html"] and "ETA" in data["html"]


def test_a_cancelled_campaign_is_never_shown_as_done(client, mark, people, alpha):
    campaign = make_campaign("Stopped", [people], [alpha], status=CampaignStatus.CANCELLED)
    for key, status in [("@a", "sent"), ("@b", "cancelled"), ("@c", "cancelled"), ("@d", "skipped")]:
        MessageResult.objects.create(campaign=campaign, key=key, status=status, session=alpha)
    client.force_login(mark)

    data = client.get(reverse("campaigns:progress", args=[campaign.pk])).json()

    assert data["percent_done"] is None
    assert "% done" not in data["html"]
    assert "1 of 3 deliverable messages were sent; 2 were never sent" in data["html"]


def test_the_progress_block_calls_rows_not_sent_yet_waiting(people, alpha):
    campaign = running(make_campaign("Fresh", [people], [alpha]))
    MessageResult.objects.filter(campaign=campaign, key="@alice_user").update(status="claimed")

    snapshot = progress_snapshot(campaign)

    labels = {s["label"]: s["count"] for s in snapshot["segments"] if s["count"]}
    assert labels == {"Waiting": 5} and snapshot["waiting"] == 5


def test_a_draft_says_before_launch_what_would_hold_it_back_and_how_long_it_would_take(client, mark, people):
    slow = make_session("slow", send_delay=20.0)
    fresh = make_session("fresh", status=SessionStatus.NEW, backend="telethon")
    campaign = make_campaign("Draft", [people], [slow, fresh])
    client.force_login(mark)

    html = client.get(reverse("campaigns:progress", args=[campaign.pk])).json()["html"]

    assert "Before you launch" in html and "fresh is not logged in" in html
    assert "Estimate</strong>: once launched, about 2 min at its sessions" in html


def test_a_short_draft_estimate_reads_as_english(client, mark, people, alpha):
    """Found in the demo: "once launched, about under a minute"."""
    client.force_login(mark)
    campaign = make_campaign("Quick", [people], [alpha])

    eta = client.get(reverse("campaigns:progress", args=[campaign.pk])).json()["pace"]["eta"]

    assert eta == "once launched, under a minute at its sessions' pace"
