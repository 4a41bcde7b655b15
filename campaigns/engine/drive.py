"""Driving a campaign: one bounded slice of sending per django-q2 task (DESIGN.md "How the work is
driven"), and :func:`run_until_done` for scripts, commands and tests.

:func:`drive` leases the campaign's sessions (one process per auth key across the cluster),
sends from all of them concurrently for at most ``TGC_SLICE_SECONDS`` (:mod:`.slice`), releases
the leases and enqueues its own continuation, or leaves ``wake_at`` for the reaper when every
session is waiting (a long FloodWait, a daily cap): no worker sleeps for an hour.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync
from django.db.models import Count, Min
from django.utils import timezone

from sessions_app import leases
from sessions_app.models import SessionStatus, TelegramSession, utc_day_start

from ..models import Campaign, CampaignStatus
from . import conf, queue
from .assignment import open_session_ids, rebalance, sent_today
from .control import finish_if_done, pause
from .reaper import reap
from .rows import recover_rows
from .slice import SliceRunner

log = logging.getLogger(__name__)


def next_wake(campaign: Campaign) -> datetime | None:
    """When this campaign next has something to send: the earliest of its open sessions' FloodWait
    ends, the next UTC midnight for capped sessions, and retry times. None: nothing open."""
    now = timezone.now()
    per_session = (
        campaign.results.open()
        .values("session_id")
        .annotate(due=Min("next_attempt_at"), n=Count("id"))
        .order_by()
    )
    sessions = {
        s.pk: s for s in TelegramSession.objects.filter(pk__in=[r["session_id"] for r in per_session])
    }
    counts = sent_today(list(sessions), now)
    times = []
    for r in per_session:
        s = sessions.get(r["session_id"])
        if s is None or s.status != SessionStatus.ACTIVE:
            continue
        t = max(now, s.flood_wait_until or now)
        if s.daily_cap and counts.get(s.pk, 0) >= s.daily_cap:
            t = max(t, utc_day_start(now) + timedelta(days=1))
        times.append(t)
    return min(times) if times else None


def drive(
    campaign_id: int, *, owner: str | None = None, seconds: float | None = None, enqueue_next: bool = True
) -> str:
    """One bounded slice of work on a campaign (the django-q2 task body). Returns what happened:
    ``not running``, ``completed``, ``already driven``, ``paused``, ``continued``, ``waiting``."""
    owner = owner or leases.owner_name("drive")
    seconds = conf.slice_seconds() if seconds is None else seconds
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return "not running"
    if campaign.status == CampaignStatus.CANCELLED:
        campaign.results.cancel_open()
    if campaign.status != CampaignStatus.RUNNING:
        return "not running"
    if finish_if_done(campaign):
        return "completed"
    rebalance(campaign)
    live = leases.live_ids()
    candidates = list(
        TelegramSession.objects.filter(
            pk__in=open_session_ids(campaign), status=SessionStatus.ACTIVE
        ).order_by("pk")
    )
    if not candidates:
        if finish_if_done(campaign):
            return "completed"
        pause(
            campaign,
            "No usable session left for the remaining recipients: log a session in or add one, then resume.",
        )
        return "paused"
    free = [s for s in candidates if s.pk not in live]
    with leases.holding(free, owner, active_only=True, limit=conf.sessions_per_driver()) as leased:
        if not leased:
            return "already driven"
        if enqueue_next and len(leased) < len(free):
            queue.enqueue_drive(campaign_id)  # more sessions than one driver takes: fan out to another worker
        recover_rows(campaign_id, [s.pk for s in leased])
        report = async_to_sync(SliceRunner(campaign, leased, owner, seconds).run)()
    log.info(
        "campaign %s slice by %s: %d sessions, %d sent, %d outcomes%s",
        campaign_id,
        owner,
        report.sessions,
        report.sent,
        report.outcomes,
        f", stopped: {report.stopped_by}" if report.stopped_by else "",
    )
    campaign.refresh_from_db()
    if campaign.status == CampaignStatus.CANCELLED:
        campaign.results.cancel_open()
        return "not running"
    if campaign.status != CampaignStatus.RUNNING:
        return campaign.status
    if finish_if_done(campaign):
        return "completed"
    wake = next_wake(campaign)
    if wake is None or wake <= timezone.now() + timedelta(seconds=max(seconds, 1)):
        if enqueue_next:
            queue.enqueue_drive(campaign_id)
        return "continued"
    Campaign.objects.filter(pk=campaign_id).update(wake_at=wake)
    return "waiting"


def run_until_done(
    campaign: Campaign,
    *,
    max_seconds: float = 60.0,
    slice_seconds: float | None = None,
    should_stop=lambda: False,
) -> str:
    """Drive a campaign in this process until it is finished or paused, ``max_seconds`` pass, or
    ``should_stop()`` is true between slices (scripts, the bulk API, the launchcampaign command,
    tests); each slice lasts at most ``slice_seconds`` (default ``TGC_SLICE_SECONDS``). Waits out
    leases held by dead processes and FloodWaits. Returns the final status."""
    stop_at = time.monotonic() + max_seconds
    while time.monotonic() < stop_at and not should_stop():
        left = stop_at - time.monotonic()
        outcome = drive(
            campaign.pk, seconds=min(slice_seconds or conf.slice_seconds(), left), enqueue_next=False
        )
        campaign.refresh_from_db()
        if campaign.status != CampaignStatus.RUNNING:
            break
        if outcome in ("waiting", "already driven"):
            if outcome == "already driven":
                reap(dispatch=False)  # returns rows of a lease that expired with its dead holder
            wake = campaign.wake_at or timezone.now() + timedelta(seconds=0.2)
            pause_s = max(0.05, (wake - timezone.now()).total_seconds())
            time.sleep(min(pause_s, 1.0, max(0.0, stop_at - time.monotonic())))
    return campaign.status
