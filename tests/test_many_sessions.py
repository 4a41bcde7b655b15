"""Many sessions in one slice (issue 22): their claims and settles gathered into one transaction
(campaigns.engine.coalesce), one claim for many sessions (claiming.claim_many), their paces and
leases read and taken in a few statements, and a drive with no other worker driving them all."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import pytest
from asgiref.sync import async_to_sync
from django.test import override_settings
from django.utils import timezone

from campaigns import engine
from campaigns.engine import claiming, pacing
from campaigns.engine.coalesce import Coalescer
from campaigns.models import CampaignStatus, DeliveryAttempt, ResultStatus, Suppression
from sessions_app import leases
from sessions_app.models import SimulatedDelivery, TelegramSession

from .conftest import make_campaign, make_list, make_session

pytestmark = pytest.mark.django_db

OWNER = "host:1:many"


def crowd(n: int, **fields) -> list[TelegramSession]:
    return [make_session(f"crowd-{i}", **fields) for i in range(n)]


def recipients(n: int):
    return make_list("many", [(f"@many_user_{i:04d}", {"first_name": f"U{i}"}) for i in range(n)])


# The coalescer -------------------------------------------------------------------------------------
def test_calls_made_at_the_same_time_are_one_call_and_each_caller_gets_its_own_result():
    calls: list[list[int]] = []

    def flush(items: list[int]) -> list[int]:
        calls.append(items)
        return [i * 10 for i in items]

    async def main():
        coalescer = Coalescer(flush)
        return await asyncio.gather(*(coalescer.submit(i) for i in range(5)))

    assert async_to_sync(main)() == [0, 10, 20, 30, 40]
    assert calls == [[0, 1, 2, 3, 4]]


def test_a_failing_call_fails_its_own_callers_and_the_next_call_still_runs():
    def flush(items: list[str]) -> list[str]:
        if "bad" in items:
            raise RuntimeError("disk full")
        return [s.upper() for s in items]

    async def main():
        coalescer = Coalescer(flush)
        first = await asyncio.gather(coalescer.submit("bad"), coalescer.submit("x"), return_exceptions=True)
        second = await coalescer.submit("ok")
        return first, second

    first, second = async_to_sync(main)()
    assert [type(r) for r in first] == [RuntimeError, RuntimeError]
    assert second == "OK"


def test_items_submitted_while_a_call_runs_go_to_the_next_call_and_a_later_coalescer_waits_for_it():
    order: list[str] = []
    started, release = threading.Event(), threading.Event()

    def claims(items):
        started.set()
        release.wait(10)
        order.append(f"claims {items}")
        return items

    def settles(items):
        order.append(f"settles {items}")
        return items

    async def main():
        first = Coalescer(claims)
        second = Coalescer(settles, after=first)
        a = asyncio.ensure_future(first.submit(1))
        await asyncio.to_thread(started.wait, 10)  # the first call is running
        b = asyncio.ensure_future(second.submit("s"))
        c = asyncio.ensure_future(first.submit(2))
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(a, b, c)
        return first.calls

    assert async_to_sync(main)() == 2
    # The settle waited for the claim under way, not for every claim after it (no starving).
    assert order[0] == "claims [1]" and sorted(order[1:]) == ["claims [2]", "settles ['s']"]


# One claim for many sessions ------------------------------------------------------------------------
def test_one_claim_for_many_sessions_gives_each_its_own_rows_in_pool_order():
    sessions = crowd(3)
    campaign = make_campaign("claim-many", [recipients(10)], sessions)
    engine.launch(campaign, enqueue=False)
    requests = [
        claiming.ClaimRequest(campaign.pk, s.pk, n, pinned=False) for s, n in zip(sessions, (2, 3, 1))
    ]
    got = claiming.claim_many(OWNER, requests)
    assert [len(rows) for rows in got] == [2, 3, 1]
    ids = [r.id for rows in got for r in rows]
    assert ids == sorted(ids) and len(set(ids)) == 6
    for session, rows in zip(sessions, got):
        assert set(
            campaign.results.filter(session=session, status=ResultStatus.SENDING).values_list("id", flat=True)
        ) == {r.id for r in rows}
    assert campaign.results.filter(status=ResultStatus.PENDING, session=None).count() == 4


def test_one_claim_for_many_sessions_when_the_pool_runs_short_gives_what_there_is_once():
    sessions = crowd(3)
    campaign = make_campaign("short", [recipients(4)], sessions)
    engine.launch(campaign, enqueue=False)
    got = claiming.claim_many(OWNER, [claiming.ClaimRequest(campaign.pk, s.pk, 3, after=2) for s in sessions])
    assert [len(rows) for rows in got] == [3, 1, 0]
    assert Counter(r.id for rows in got for r in rows).most_common(1)[0][1] == 1


def test_one_claim_for_many_sessions_skips_a_person_who_opted_out():
    sessions = crowd(2)
    campaign = make_campaign("opted", [recipients(4)], sessions)
    engine.launch(campaign, enqueue=False)
    Suppression.objects.create(key="@many_user_0002", source=Suppression.Source.MANUAL)
    got = claiming.claim_many(OWNER, [claiming.ClaimRequest(campaign.pk, s.pk, 2) for s in sessions])
    keys = {r.key for rows in got for r in rows}
    assert keys == {"@many_user_0000", "@many_user_0001", "@many_user_0003"}
    assert campaign.results.get(key="@many_user_0002").status == ResultStatus.SKIPPED


def test_nothing_is_claimed_for_many_sessions_once_the_campaign_is_paused():
    sessions = crowd(2)
    campaign = make_campaign("paused", [recipients(4)], sessions)
    engine.launch(campaign, enqueue=False)
    type(campaign).objects.filter(pk=campaign.pk).update(status=CampaignStatus.PAUSED)
    got = claiming.claim_many(OWNER, [claiming.ClaimRequest(campaign.pk, s.pk, 2) for s in sessions])
    assert got == [[], []]
    assert not campaign.results.exclude(status=ResultStatus.PENDING).exists()


# Paces and leases of many sessions ------------------------------------------------------------------
def test_the_paces_of_many_sessions_read_together_are_each_sessions_own_pace():
    sessions = crowd(3, send_delay=2.0)
    ceiling = make_session("ceiling", send_delay=1.0, max_per_minute=5, daily_cap=10)
    campaign = make_campaign("paces", [recipients(6)], [*sessions, ceiling])
    engine.launch(campaign, enqueue=False)
    now = timezone.now()
    for row, session in zip(campaign.results.order_by("id"), [sessions[0], sessions[0], ceiling, ceiling]):
        DeliveryAttempt.objects.create(
            result=row, session=session, started_at=now, finished_at=now, outcome="sent", requested=True
        )
    together = pacing.load_paces([*sessions, ceiling], now)
    for session in [*sessions, ceiling]:
        alone = pacing.load_pace(session, now)
        mine = together[session.pk]
        assert (mine.requests_today, len(mine.recent), mine.per_minute, mine.daily_cap) == (
            alone.requests_today,
            len(alone.recent),
            alone.per_minute,
            alone.daily_cap,
        )
    assert together[sessions[0].pk].requests_today == 2 and together[sessions[1].pk].requests_today == 0
    assert len(together[ceiling.pk].recent) == 2


def test_leases_of_many_sessions_are_taken_up_to_the_limit_skipping_those_held_elsewhere():
    sessions = crowd(5)
    assert leases.take(sessions[1], "elsewhere:1:1")
    taken = leases.take_many(sessions, OWNER, active_only=True, limit=3)
    assert [s.pk for s in taken] == [sessions[0].pk, sessions[2].pk, sessions[3].pk]
    held = dict(TelegramSession.objects.values_list("pk", "lease_owner"))
    assert held[sessions[1].pk] == "elsewhere:1:1" and held[sessions[4].pk] == ""


# A drive with no other worker -------------------------------------------------------------------
@override_settings(TGC_SESSIONS_PER_DRIVER=2)
def test_a_drive_that_enqueues_no_continuation_sends_from_every_session_beyond_the_per_driver_limit():
    sessions = crowd(5)
    campaign = make_campaign("all", [recipients(20)], sessions)
    engine.launch(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=30) == CampaignStatus.COMPLETED
    used = set(campaign.results.values_list("session_id", flat=True))
    assert used == {s.pk for s in sessions}
    assert Counter(SimulatedDelivery.objects.values_list("peer_key", flat=True)) == {
        key: 1 for key in campaign.results.values_list("key", flat=True)
    }
