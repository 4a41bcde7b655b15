"""A slice fences itself (issue 18, items 7 and 8): it starts requests only while its lease is
surely held by its own monotonic reckoning; a failed renewal stops its sends at once and is
logged; a holder that froze sends nothing more than the requests already on the wire."""

from __future__ import annotations

import logging
import time
from collections import Counter
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError

from campaigns import engine
from campaigns.models import CampaignStatus
from sessions_app import leases
from sessions_app.models import SimulatedDelivery, TelegramSession
from sessions_app.transport.simulator import SimulatorTransport

from .conftest import make_campaign, make_list

pytestmark = pytest.mark.django_db

_real_send = SimulatorTransport.send
_real_monotonic = time.monotonic


def twenty_people():
    return make_list("twenty", [(f"@person{i}", {}) for i in range(20)])


@pytest.fixture
def deliveries(monkeypatch):
    """(monotonic time, key) of every message the simulator delivered, in order."""
    log: list[tuple[float, str]] = []

    async def send(self, key, message, random_id, **kwargs):
        result = await _real_send(self, key, message, random_id, **kwargs)
        log.append((time.monotonic(), key))
        return result

    monkeypatch.setattr(SimulatorTransport, "send", send)
    return log


def test_a_renewal_that_fails_on_a_database_error_stops_the_sends_and_is_logged(
    alpha, monkeypatch, deliveries, caplog
):
    monkeypatch.setattr(leases, "lease_seconds", lambda: 0.6)
    alpha.send_delay = 0.1
    alpha.save()
    campaign = make_campaign("cut off", [twenty_people()], [alpha])
    engine.launch(campaign, enqueue=False)
    real_renew, failed_at = leases.renew, []

    def renew_then_fail(ids, owner):
        if failed_at or len(deliveries) < 2:
            return real_renew(ids, owner)
        failed_at.append(time.monotonic())
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(leases, "renew", renew_then_fail)
    with caplog.at_level(logging.ERROR):
        engine.drive(campaign.pk, seconds=30, enqueue_next=False)
    assert failed_at
    assert [key for at, key in deliveries if at > failed_at[0] + 0.05] == []
    assert len(deliveries) < 20
    assert any("lease renewal" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)


def test_a_holder_that_froze_past_its_lease_sends_nothing_after_it_wakes(alpha, deliveries, settings):
    settings.TGC_MAX_IN_FLIGHT = 4
    alpha.simulator_config["latency_ms"] = [100, 100]
    alpha.save()
    campaign = make_campaign("frozen", [twenty_people()], [alpha])
    engine.launch(campaign, enqueue=False)
    jump = [0.0]
    entered: list[tuple[float, str]] = []
    inner_send = SimulatorTransport.send

    async def send(self, key, message, random_id, **kwargs):
        entered.append((jump[0], key))
        if len(entered) == 6 and not jump[0]:
            # SIGSTOP for longer than the lease: the monotonic clock runs on, and meanwhile
            # another worker took the session over.
            jump[0] = leases.lease_seconds() + leases.take_grace() + 1
            await sync_to_async(TelegramSession.objects.filter(pk=alpha.pk).update)(lease_owner="taker:2:2")
        return await inner_send(self, key, message, random_id, **kwargs)

    with (
        mock.patch.object(SimulatorTransport, "send", send),
        mock.patch("time.monotonic", lambda: _real_monotonic() + jump[0]),
    ):
        engine.drive(campaign.pk, seconds=300, enqueue_next=False)
    on_the_wire = [key for j, key in entered if not j]
    assert len(on_the_wire) <= 6
    assert [key for j, key in entered if j] == []  # not one request started after it woke
    assert {key for _, key in deliveries} <= set(on_the_wire)
    # The taker finishes the campaign: each person gets exactly one message.
    TelegramSession.objects.filter(pk=alpha.pk).update(lease_owner="", lease_expires_at=None)
    campaign.results.filter(status="sending").update(claim_expires_at=None)
    engine.reap(dispatch=False)
    assert engine.run_until_done(campaign, max_seconds=30) == CampaignStatus.COMPLETED
    assert Counter(SimulatedDelivery.objects.values_list("peer_key", flat=True)) == {
        f"@person{i}": 1 for i in range(20)
    }
