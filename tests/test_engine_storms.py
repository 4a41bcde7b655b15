"""The engine under load and interference: FloodWait storms, pause and cancel mid-run, racing
launches. Drives run in a thread against the committed database, as a worker would."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from campaigns import engine
from campaigns.engine import slice as sender
from campaigns.models import CampaignStatus, DeliveryAttempt, ResultStatus
from sessions_app.models import SimulatedDelivery

from .conftest import make_campaign, make_list, make_session

pytestmark = pytest.mark.django_db(transaction=True)


def crowd(n: int):
    return make_list("crowd", [(f"@storm_member_{i:04d}", {"first_name": f"M{i}"}) for i in range(n)])


def in_thread(fn, *args, **kwargs) -> threading.Thread:
    def run():
        try:
            fn(*args, **kwargs)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_in_a_flood_wait_storm_no_request_leaves_a_session_before_its_wait_ends():
    sessions = [
        make_session(
            f"storm{i}",
            simulator_config={"seed": i, "latency_ms": [1, 5], "flood_rate": 0.3, "flood_seconds": [1, 2]},
        )
        for i in range(3)
    ]
    campaign = make_campaign("storm", [crowd(60)], sessions)
    engine.launch(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=120) == CampaignStatus.COMPLETED
    floods = DeliveryAttempt.objects.filter(outcome="flood")
    assert floods.count() >= 5, "the storm should have produced FloodWaits"
    for flood in floods:
        seconds = int(re.search(r"(\d+) s", flood.error_text)[1])
        too_early = DeliveryAttempt.objects.filter(
            session=flood.session_id,
            started_at__gt=flood.finished_at,
            started_at__lt=flood.finished_at + timedelta(seconds=seconds),
        )
        assert not too_early.exists(), (
            flood.error_text,
            list(too_early.values_list("started_at", flat=True)),
        )
    assert max(Counter(SimulatedDelivery.objects.values_list("peer_key", flat=True)).values()) == 1
    assert not campaign.results.exclude(status=ResultStatus.SENT).exists()


def test_pause_mid_run_stops_every_session_and_resume_finishes_without_duplicates():
    sessions = [
        make_session(f"p{i}", send_delay=0.1, simulator_config={"latency_ms": [1, 3]}) for i in range(3)
    ]
    campaign = make_campaign("pause-mid", [crowd(60)], sessions)
    engine.launch(campaign, enqueue=False)
    worker = in_thread(engine.drive, campaign.pk, seconds=30, enqueue_next=False)
    time.sleep(1.0)
    engine.pause(campaign)
    paused_at = timezone.now()
    worker.join(timeout=30)
    late = DeliveryAttempt.objects.filter(
        started_at__gt=paused_at + timedelta(seconds=sender.CONTROL_POLL_SECONDS + 0.1)
    )
    assert not late.exists()
    sent_before = SimulatedDelivery.objects.count()
    assert 0 < sent_before < 60
    assert set(campaign.results.values_list("status", flat=True)) <= {ResultStatus.SENT, ResultStatus.PENDING}
    assert engine.resume(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=60) == CampaignStatus.COMPLETED
    assert Counter(SimulatedDelivery.objects.values_list("peer_key", flat=True)) == Counter(
        {k: 1 for k in campaign.results.values_list("key", flat=True)}
    )


def test_cancel_mid_run_cancels_the_rest_and_counts_add_up():
    sessions = [
        make_session(f"c{i}", send_delay=0.1, simulator_config={"latency_ms": [1, 3]}) for i in range(2)
    ]
    campaign = make_campaign("cancel-mid", [crowd(40)], sessions)
    engine.launch(campaign, enqueue=False)
    worker = in_thread(engine.drive, campaign.pk, seconds=30, enqueue_next=False)
    time.sleep(0.8)
    engine.cancel(campaign)
    worker.join(timeout=30)
    counts = campaign.counts()
    assert counts["sent"] + counts["cancelled"] == counts["total"] == 40
    assert counts["cancelled"] > 0 and counts["sent"] == SimulatedDelivery.objects.count()


def test_two_racing_launches_materialise_the_rows_once():
    sessions = [make_session("r1")]
    campaign = make_campaign("race", [crowd(200)], sessions)
    errors = []

    def launch():
        try:
            engine.launch(campaign.__class__.objects.get(pk=campaign.pk), enqueue=False)
        except engine.LaunchError as exc:
            errors.append(exc)

    threads = [in_thread(launch) for _ in range(2)]
    for t in threads:
        t.join(timeout=60)
    assert campaign.results.count() == 200
    assert len(errors) <= 1
