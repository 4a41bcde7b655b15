"""Leases, claims and the engine's times follow the database's clock, not a worker's (issue 18,
item 9): a worker whose clock runs minutes fast neither takes a live lease nor stalls a campaign."""

from __future__ import annotations

import logging
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from campaigns import engine
from campaigns.engine.pacing import next_request_at
from campaigns.models import CampaignStatus, DeliveryAttempt
from sessions_app import clock, leases
from sessions_app.models import SimulatedDelivery, TelegramSession

from .conftest import make_campaign, make_list

pytestmark = pytest.mark.django_db

_real_now = timezone.now


@pytest.fixture
def worker_clock():
    """Set this worker's clock ``seconds`` off the database's (``timezone.now``, which every module
    reads at call time); the database's own clock is left alone. Undone after the test."""
    patches = []

    def skew(seconds: float):
        patch = mock.patch("django.utils.timezone.now", lambda: _real_now() + timedelta(seconds=seconds))
        patch.start()
        patches.append(patch)
        clock.sync()

    yield skew
    for patch in reversed(patches):
        patch.stop()
    clock.sync()


def test_a_worker_five_minutes_fast_does_not_take_a_lease_that_is_live_by_the_database(alpha, worker_clock):
    assert leases.take(alpha, "steady:1:1")
    worker_clock(300)
    assert not leases.take(alpha, "fast:2:2")
    assert alpha.pk in leases.live_ids()


def test_a_worker_five_minutes_fast_writes_lease_expiries_on_the_database_clock(alpha, worker_clock):
    worker_clock(300)
    assert leases.take(alpha, "fast:2:2")
    expires = TelegramSession.objects.get(pk=alpha.pk).lease_expires_at
    db_now = clock.database_now()
    assert db_now < expires <= db_now + timedelta(seconds=leases.lease_seconds() + 1)


def test_a_worker_five_minutes_fast_writes_attempt_times_that_do_not_stall_the_others(alpha, worker_clock):
    alpha.send_delay = 0.05
    alpha.save()
    people = make_list("many", [(f"@person{i}", {}) for i in range(8)])
    campaign = make_campaign("skewed", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    worker_clock(300)
    engine.drive(campaign.pk, seconds=0.3, enqueue_next=False)
    worker_clock(0)
    latest = DeliveryAttempt.objects.order_by("-started_at").values_list("started_at", flat=True).first()
    assert latest is not None and latest <= clock.database_now() + timedelta(seconds=1)
    # A worker on the right time may send from alpha at once, not five minutes later.
    assert next_request_at(alpha) <= timezone.now() + timedelta(seconds=1)
    assert engine.run_until_done(campaign, max_seconds=30) == CampaignStatus.COMPLETED
    assert SimulatedDelivery.objects.count() == 8


def test_a_worker_clock_more_than_two_seconds_off_is_logged_at_warning(worker_clock, caplog):
    with caplog.at_level(logging.WARNING, logger="sessions_app.clock"):
        worker_clock(1)
        assert not caplog.records
        worker_clock(300)
    assert any("ahead of the database" in r.getMessage() for r in caplog.records)


def test_the_engine_clock_reads_the_database_time_when_the_worker_is_off(worker_clock):
    worker_clock(-300)
    assert abs((clock.now() - _real_now()).total_seconds()) < 2


@pytest.mark.parametrize("skew", [-300, 300])
def test_a_floodwait_lasts_what_telegram_said_whatever_the_worker_clock(alpha, worker_clock, skew):
    worker_clock(skew)
    alpha.set_flood_wait(5)
    until = TelegramSession.objects.get(pk=alpha.pk).flood_wait_until
    assert 4 < (until - clock.database_now()).total_seconds() <= 5.5
    assert 4 < alpha.flood_wait_left() <= 5.5


def test_a_worker_five_minutes_slow_finishes_a_campaign_with_a_floodwait(alpha, worker_clock):
    people = make_list("waited", [(f"@waited{i}", {}) for i in range(4)])
    alpha.simulator_config["script"] = {"@waited1": ["FLOOD_WAIT_1"]}
    alpha.save()
    campaign = make_campaign("flooded", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    worker_clock(-300)
    assert engine.run_until_done(campaign, max_seconds=30) == CampaignStatus.COMPLETED
    assert SimulatedDelivery.objects.count() == 4
