"""Which sessions take a campaign's rows, and moving rows off sessions that cannot send.

Rows are assigned to one session at launch by the campaign's strategy (:mod:`.balancing`);
:func:`rebalance` moves the rows no request of which has left off sessions that can no longer
send. Rows ``in_doubt`` (their request may have arrived) never change session.
"""

from __future__ import annotations

import logging
from datetime import datetime
from itertools import islice

from django.db.models import Count, Q
from django.utils import timezone

from sessions_app.models import SessionStatus, TelegramSession, utc_day_start

from ..models import OPEN_STATUSES, UNSENT_STATUSES, Campaign, CampaignStatus, MessageResult, ResultStatus
from .balancing import Balancer, Candidate

log = logging.getLogger(__name__)


def batched(iterable, n: int):
    """Lists of up to ``n`` items of ``iterable``."""
    it = iter(iterable)
    while chunk := list(islice(it, n)):
        yield chunk


def sent_today(session_ids: list[int], now: datetime | None = None) -> dict[int, int]:
    """Messages each session sent today (UTC), by session id: what the daily cap counts
    (:meth:`campaigns.models.results.ResultQuerySet.sent_since`)."""
    start = utc_day_start(now or timezone.now())
    rows = (
        MessageResult.objects.sent_since(start)
        .filter(session_id__in=session_ids)
        .values_list("session_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(rows)


def assignable_sessions(campaign: Campaign, now: datetime | None = None) -> list[TelegramSession]:
    """The campaign's active sessions that should take rows: those not under a FloodWait longer
    than the campaign's threshold and not at their daily cap. When none is ready, every active
    session (so rows wait on a session that will send later rather than fail); [] when none is
    active."""
    now = now or timezone.now()
    active = list(campaign.sessions.filter(status=SessionStatus.ACTIVE))
    counts = sent_today([s.pk for s in active], now)
    ready = [
        s
        for s in active
        if s.flood_wait_left(now) <= campaign.flood_wait_threshold
        and not (s.daily_cap and counts.get(s.pk, 0) >= s.daily_cap)
    ]
    return ready or active


def balancer_for(campaign: Campaign, sessions: list[TelegramSession]) -> Balancer:
    """The campaign's strategy over ``sessions``, each loaded with its open rows in running
    campaigns plus the requests it has in flight."""
    ids = [s.pk for s in sessions]
    loads = dict(
        MessageResult.objects.open()
        .filter(session_id__in=ids, campaign__status=CampaignStatus.RUNNING)
        .values_list("session_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    candidates = [Candidate(s.pk, s.weight, loads.get(s.pk, 0) + max(0, s.current_load)) for s in sessions]
    return Balancer(campaign.strategy, candidates)


def rebalance(campaign: Campaign) -> int:
    """Move open rows off sessions that cannot send for this campaign onto assignable ones, by
    the campaign's strategy. Rows ``in_doubt`` never move (a resend from another account could
    deliver twice): on a session that is gone they become ``unknown``. Returns rows moved."""
    now = timezone.now()
    healthy = assignable_sessions(campaign, now)
    healthy_ids = {s.pk for s in healthy}
    dead_ids = list(campaign.sessions.exclude(status=SessionStatus.ACTIVE).values_list("id", flat=True))
    campaign.results.open().filter(in_doubt=True).filter(
        Q(session_id__in=dead_ids) | Q(session=None)
    ).exclude(status=ResultStatus.SENDING, claimed_by__gt="", session__lease_expires_at__gt=now).mark_unknown(
        "its session can no longer send"
    )
    stuck = campaign.results.filter(status__in=UNSENT_STATUSES, in_doubt=False).exclude(
        session_id__in=healthy_ids
    )
    ids = list(stuck.values_list("id", flat=True))
    if not ids or not healthy:
        return 0
    balancer = balancer_for(campaign, healthy)
    for chunk in batched(ids, 2000):
        by_session: dict[int, list[int]] = {}
        for row_id in chunk:
            by_session.setdefault(balancer.next(), []).append(row_id)
        for session_id, row_ids in by_session.items():
            MessageResult.objects.filter(id__in=row_ids, status__in=UNSENT_STATUSES).requeue(
                session_id=session_id
            )
    log.info("campaign %s: re-balanced %d rows over %d sessions", campaign.pk, len(ids), len(healthy))
    return len(ids)


def open_session_ids(campaign: Campaign) -> set[int | None]:
    """Sessions holding the campaign's open rows."""
    return set(
        campaign.results.filter(status__in=OPEN_STATUSES).values_list("session_id", flat=True).distinct()
    )
