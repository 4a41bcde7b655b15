"""Which sessions serve a campaign, and rows stranded on sessions that can no longer send.

With late binding (:mod:`.balancing`) a pending row belongs to no session until one claims it;
only rows ``in_doubt`` (their request may have arrived) stay pinned to their session, because only
it can re-send them with the same random_id. :func:`recover_stranded_rows` settles the rows of a
session that was disabled or quarantined.
"""

from __future__ import annotations

import logging
from datetime import datetime
from itertools import islice

from django.db.models import Count, Q

from sessions_app import clock
from sessions_app.models import TelegramSession, utc_day_start

from ..models import UNSENT_STATUSES, Campaign, DeliveryAttempt, ResultStatus, TestSend
from .balancing import expected_split

log = logging.getLogger(__name__)


def batched(iterable, n: int):
    """Lists of up to ``n`` items of ``iterable``."""
    it = iter(iterable)
    while chunk := list(islice(it, n)):
        yield chunk


def requests_today(session_ids: list[int], now: datetime | None = None) -> dict[int, int]:
    """Requests each session made today (UTC) in every campaign, by session id: what its daily
    cap counts (:meth:`DeliveryAttemptQuerySet.requests_since`)."""
    start = utc_day_start(now or clock.now())
    rows = (
        DeliveryAttempt.objects.requests_since(start)
        .filter(session_id__in=session_ids)
        .values_list("session_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = dict(rows)
    tests = (
        TestSend.objects.filter(session_id__in=session_ids, requested=True, created_at__gte=start)
        .values_list("session_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for session_id, n in tests:  # test sends are requests too (campaigns.engine.testsending)
        counts[session_id] = counts.get(session_id, 0) + n
    return counts


def active_sessions(campaign: Campaign) -> list[TelegramSession]:
    """The campaign's sessions that may send (active, of the configured MTProto server:
    ``TelegramSession.objects.usable()``), FloodWait and daily cap included: they send again later."""
    return list(campaign.sessions.usable().order_by("pk"))


def recover_stranded_rows(campaign: Campaign) -> int:
    """Rows pinned to sessions of this campaign that can no longer send (disabled, quarantined,
    deleted): rows not yet sent go back to the pool; rows in doubt become ``unknown`` (a resend
    from another account could deliver twice), unless a live worker is sending them right now.
    Returns the rows changed."""
    now = clock.now()
    active = set(campaign.sessions.usable().values_list("id", flat=True))
    stranded = campaign.results.open().exclude(session_id__in=active).exclude(session=None)
    unknown = (
        stranded.filter(in_doubt=True)
        .exclude(status=ResultStatus.SENDING, claimed_by__gt="", session__lease_expires_at__gt=now)
        .mark_unknown("its session can no longer send")
    )
    pooled = stranded.filter(in_doubt=False, status__in=UNSENT_STATUSES).exclude(
        Q(claimed_by__gt="") & Q(session__lease_expires_at__gt=now)
    )
    moved = pooled.requeue(session=None)
    if unknown or moved:
        log.info("campaign %s: %d rows back to the pool, %d unknown", campaign.pk, moved, unknown)
    return unknown + moved


def split_estimate(campaign: Campaign, rows: int) -> dict[int, int]:
    """Session id → rows each active session is expected to send (for the launch summary)."""
    sessions = {s.pk: (s.held("weight"), 1.0 / max(s.interval(), 1e-3)) for s in active_sessions(campaign)}
    return expected_split(campaign.strategy, sessions, rows)
