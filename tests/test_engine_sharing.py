"""Sessions shared between campaigns, per-account limits that count requests, and waking up:
the engine's work hand-out (docs/design.md "Delivery contract" 5 and 6)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import engine
from campaigns.engine import sender as sender_module
from campaigns.models import CampaignStatus, DeliveryAttempt, MessageResult
from sessions_app.models import SimulatedDelivery

from .conftest import make_campaign, make_list, make_session

pytestmark = pytest.mark.django_db


def crowd(name: str, n: int):
    return make_list(name, [(f"@{name}_{i:04d}", {}) for i in range(n)])


def sent(campaign) -> int:
    return campaign.results.filter(status="sent").count()


def test_a_campaign_launched_later_on_the_same_session_makes_progress_at_once():
    shared = make_session("shared", send_delay=0.02)
    first = make_campaign("first", [crowd("first", 200)], [shared])
    second = make_campaign("second", [crowd("second", 20)], [shared])
    engine.launch(first, enqueue=False)
    engine.launch(second, enqueue=False)

    # One slice driven for the first campaign serves the second too, in turn.
    engine.drive(first.pk, seconds=1.5, enqueue_next=False)

    assert sent(first) > 0 and sent(second) > 0


def test_a_campaign_waiting_on_shared_sessions_is_served_by_the_driver_that_holds_them():
    shared = make_session("shared", send_delay=0.02)
    first = make_campaign("first", [crowd("first", 50)], [shared])
    second = make_campaign("second", [crowd("second", 10)], [shared])
    engine.launch(first, enqueue=False)
    engine.launch(second, enqueue=False)

    engine.drive(first.pk, seconds=5, enqueue_next=False)

    assert (sent(first), sent(second)) == (50, 10)
    second.refresh_from_db()
    assert second.status == CampaignStatus.COMPLETED


def test_sessions_serve_campaigns_in_turn_by_priority(monkeypatch):
    # Small batches, so a second of sending is many turns.
    monkeypatch.setattr(sender_module, "BATCH_WINDOW_SECONDS", 0.04)
    shared = make_session("shared", send_delay=0.01)
    urgent = make_campaign("urgent", [crowd("urgent", 500)], [shared], priority=10)
    routine = make_campaign("routine", [crowd("routine", 500)], [shared], priority=5)
    engine.launch(urgent, enqueue=False)
    engine.launch(routine, enqueue=False)

    engine.drive(urgent.pk, seconds=2, enqueue_next=False)

    assert sent(routine) > 0
    assert 1.5 <= sent(urgent) / sent(routine) <= 2.5


def test_the_per_minute_ceiling_counts_every_request_across_slices_failed_ones_too():
    # Half the recipients refuse: those requests reached Telegram all the same.
    session = make_session("ten-a-minute", max_per_minute=10, simulator_config={"recipient_error_rate": 0.5})
    campaign = make_campaign("ceiling", [crowd("ceiling", 40)], [session])
    engine.launch(campaign, enqueue=False)

    for _ in range(3):  # three slices inside one minute
        engine.drive(campaign.pk, seconds=1, enqueue_next=False)

    attempts = DeliveryAttempt.objects.filter(session=session)
    assert attempts.filter(outcome="failed").exists()
    assert attempts.count() == 10


def test_the_daily_cap_counts_requests_not_deliveries():
    session = make_session("capped", daily_cap=6, simulator_config={"recipient_error_rate": 0.5, "seed": 3})
    campaign = make_campaign("cap", [crowd("cap", 20)], [session])
    engine.launch(campaign, enqueue=False)

    for _ in range(3):
        engine.drive(campaign.pk, seconds=1, enqueue_next=False)

    assert DeliveryAttempt.objects.filter(session=session).count() == 6
    assert sent(campaign) < 6


def test_a_slice_that_can_send_nothing_sleeps_until_it_can_instead_of_requeueing_at_once():
    session = make_session("two-a-minute", max_per_minute=2)
    campaign = make_campaign("short-slices", [crowd("short", 5)], [session])
    engine.launch(campaign, enqueue=False)

    first = engine.drive(campaign.pk, seconds=1, enqueue_next=False)
    second = engine.drive(campaign.pk, seconds=1, enqueue_next=False)

    campaign.refresh_from_db()
    assert sent(campaign) == 2
    assert (first, second) == ("waiting", "waiting")
    assert campaign.wake_at > timezone.now() + timedelta(seconds=50)


def test_the_reaper_leaves_a_campaign_alone_while_a_driver_holds_one_of_its_sessions(monkeypatch):
    from unittest import mock

    from sessions_app import leases

    shared = make_session("shared")
    first = make_campaign("first", [crowd("first", 5)], [shared])
    second = make_campaign("second", [crowd("second", 5)], [shared])
    for c in (first, second):
        engine.launch(c, enqueue=False)
    assert leases.take(shared, leases.owner_name("drive"))
    with mock.patch("campaigns.engine.queue.enqueue_drive", autospec=True) as enqueue:
        assert engine.reap()["redispatched"] == 0
    enqueue.assert_not_called()


def test_every_row_is_sent_once_by_exactly_one_session_when_campaigns_share_sessions():
    sessions = [make_session(f"s{i}", send_delay=0.005) for i in range(3)]
    campaigns = [
        make_campaign(f"c{i}", [crowd(f"c{i}", 60)], sessions[i:] + sessions[:i], strategy=strategy)
        for i, strategy in enumerate(["round_robin", "weighted", "least_loaded"])
    ]
    for c in campaigns:
        engine.launch(c, enqueue=False)

    for c in campaigns:
        assert engine.run_until_done(c, max_seconds=30) == CampaignStatus.COMPLETED

    assert MessageResult.objects.filter(status="sent").count() == 180
    assert Counter(SimulatedDelivery.objects.values_list("random_id", flat=True)).most_common(1)[0][1] == 1
    by_row = {r.random_id: r.session_id for r in MessageResult.objects.all()}
    assert all(by_row[d.random_id] == d.session_id for d in SimulatedDelivery.objects.all())


def test_a_large_launch_is_prepared_by_a_worker_and_the_request_returns_at_once(
    settings, django_capture_on_commit_callbacks
):
    from unittest import mock

    settings.TGC_INLINE_LAUNCH_ROWS = 10
    session = make_session("s")
    campaign = make_campaign("large", [crowd("large", 25)], [session])

    with mock.patch("campaigns.engine.queue.enqueue_launch", autospec=True) as enqueue:
        engine.launch(campaign)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.LAUNCHING and not campaign.results.exists()
    enqueue.assert_called_once_with(campaign.pk)
    with (
        mock.patch("campaigns.engine.queue.enqueue_drive", autospec=True) as drive,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert engine.start_prepared(campaign.pk) == "started"
        assert engine.start_prepared(campaign.pk) == "not launching"  # a task delivered twice
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING and campaign.counts()["pending"] == 25
    drive.assert_called_once_with(campaign.pk)


def test_a_launch_cancelled_while_being_prepared_writes_nothing(settings):
    from unittest import mock

    settings.TGC_INLINE_LAUNCH_ROWS = 10
    campaign = make_campaign("cancelled", [crowd("cancelled", 25)], [make_session("s")])
    with mock.patch("campaigns.engine.queue.enqueue_launch", autospec=True):
        engine.launch(campaign)
    engine.cancel(campaign)
    assert engine.start_prepared(campaign.pk) == "not launching"
    assert not campaign.results.exists()
