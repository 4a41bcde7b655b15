"""The reaper: recovery after crashes, scheduled starts, re-dispatch (docs/design.md "How the work
is driven", reaper).

A django-q2 schedule runs it every minute, and every worker process runs it as it starts.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import Now
from django.utils.timesince import timesince

from sessions_app import clock, leases
from sessions_app.models import SessionStatus, TelegramSession
from tgcampaigns import conf, counters

from ..models import (
    UNSENT_STATUSES,
    AttemptTally,
    Campaign,
    CampaignStatus,
    MessageResult,
    ResultStatus,
    ResultTally,
)
from . import queue
from .control import finish_if_done, pause
from .launcher import AlreadyLaunched, LaunchError, launch
from .readiness import DRIVE_PURPOSE

# A campaign's tally is folded once it has more delta rows than this (a minute of sending at
# a few hundred batches).
TALLY_ROWS_BEFORE_COMPACTING = 500


def reap(*, dispatch: bool = True) -> dict[str, int]:
    """Recover after crashes; idempotent, safe to run anywhere, any time. Returns counts by what
    was done.

    - ``claimed`` rows of sessions without a live lease → ``pending``;
    - ``sending`` rows of sessions without a live lease → ``pending`` on the same session (re-sent
      with the same random_id) if it is active, else ``unknown``;
    - cancelled campaigns' open rows → ``cancelled``; due scheduled campaigns → launched, or paused
      for a human when the start was missed by more than ``TGC_SCHEDULE_GRACE_SECONDS``; scheduled
      follow-ups whose first campaign completed get their start (:func:`arm_follow_ups`);
    - running campaigns with open rows and no live lease (and not waiting) → re-dispatched
      (``dispatch``);
    - load counters of unleased sessions → 0.
    """
    now = clock.now()
    stats = _recover_orphans()
    MessageResult.objects.filter(
        campaign__status=CampaignStatus.CANCELLED, status__in=UNSENT_STATUSES
    ).cancel_open()
    stats["follow_ups_armed"] = arm_follow_ups(now)
    stats.update(_start_scheduled(now, dispatch))
    stats["relaunched"] = _relaunch_stalled(now)
    compact_tallies()
    stats["redispatched"] = _redispatch(now) if dispatch else 0
    return stats


def _recover_orphans() -> dict[str, int]:
    """Rows of sessions without a live lease whose claim expired: back to pending (pinned when in
    doubt), or unknown when their session can no longer send; stale load counters to 0."""
    live = leases.live_ids()
    stats: dict[str, int] = {}
    # Only rows whose claim expired: a live worker renews its claims with its leases, so a row it
    # marked a moment after ``live`` was read still has a future claim_expires_at and is left alone.
    # Compared on the database's clock (a worker's own may be off): issue 18.
    orphan = MessageResult.objects.filter(Q(claim_expires_at__lt=Now()) | Q(claim_expires_at=None)).exclude(
        session_id__in=live
    )
    stats["claimed_returned"] = orphan.filter(status=ResultStatus.CLAIMED).requeue()
    active = TelegramSession.objects.filter(status=SessionStatus.ACTIVE).values_list("id", flat=True)
    sending = orphan.filter(status=ResultStatus.SENDING)
    stats["sending_requeued"] = sending.filter(session_id__in=active).requeue()
    stats["sending_unknown"] = sending.mark_unknown(
        "a worker stopped mid-send and its session is no longer active"
    )
    TelegramSession.objects.exclude(pk__in=live).exclude(current_load=0).update(current_load=0)
    counters.CLAIM_TAKEOVERS.inc(sum(stats.values()))
    return stats


def arm_follow_ups(now) -> int:
    """Give each scheduled follow-up waiting for its first campaign a start time once that one
    has completed (its end plus the follow-up's hours, never in the past: a reaper that ran late
    starts it now); one whose first campaign was cancelled is paused for a human. Returns how many
    were given a start time."""
    armed = 0
    waiting = Campaign.objects.filter(
        status=CampaignStatus.SCHEDULED, scheduled_at=None, follow_up_of__isnull=False
    ).select_related("follow_up_of")
    for campaign in waiting:
        if campaign.follow_up_of.status == CampaignStatus.CANCELLED:
            pause(
                campaign,
                f"“{campaign.follow_up_of}”, which this follows up, was cancelled: resume to send anyway.",
            )
            continue
        due = campaign.follow_up_due()
        if due is not None:
            armed += Campaign.objects.filter(pk=campaign.pk, scheduled_at=None).update(
                scheduled_at=max(due, now)
            )
    return armed


def _start_scheduled(now, dispatch: bool) -> dict[str, int]:
    """Launch due scheduled campaigns; pause those whose start was missed by more than
    ``TGC_SCHEDULE_GRACE_SECONDS`` for a human."""
    stats = {"launched": 0, "missed": 0}
    grace = timedelta(seconds=conf.schedule_grace_seconds())
    for campaign in Campaign.objects.filter(status=CampaignStatus.SCHEDULED, scheduled_at__lte=now):
        if campaign.scheduled_at < now - grace:
            late = timesince(campaign.scheduled_at, now)
            if pause(campaign, f"Missed its start by {late} (no worker was running): resume to send now."):
                stats["missed"] += 1
            continue
        try:
            launch(campaign, enqueue=dispatch)
            stats["launched"] += 1
        except AlreadyLaunched:
            pass  # another reaper won the race: the campaign is running, nothing to do
        except LaunchError as exc:
            pause(campaign, f"Scheduled start failed: {exc}")
    return stats


def _relaunch_stalled(now) -> int:
    """A large launch whose worker died before it committed (nothing was written): prepare it again."""
    stalled = now - timedelta(seconds=float(settings.Q_CLUSTER.get("retry", 300)))
    relaunched = 0
    for campaign_id in Campaign.objects.filter(
        status=CampaignStatus.LAUNCHING, launched_at__lt=stalled
    ).values_list("pk", flat=True):
        queue.enqueue_launch(campaign_id)
        relaunched += 1
    return relaunched


def _redispatch(now) -> int:
    """Wake a worker for each running campaign that is due and no live driver serves."""
    running = Campaign.objects.filter(status=CampaignStatus.RUNNING).filter(
        Q(wake_at=None) | Q(wake_at__lte=now)
    )
    driving = leases.live_ids(purpose=DRIVE_PURPOSE)
    redispatched = 0
    for campaign in running:
        if finish_if_done(campaign):
            continue
        # A driver holding any of its sessions serves it (a session serves all its campaigns).
        if not campaign.sessions.filter(pk__in=driving).exists():
            Campaign.objects.filter(pk=campaign.pk).update(wake_at=None)
            queue.enqueue_drive(campaign.pk)
            redispatched += 1
    return redispatched


def compact_tallies() -> None:
    """Fold the tallies' delta rows of campaigns that have many, and drop those of deleted
    campaigns (the tallies hold plain ids, not foreign keys)."""
    busy = (
        ResultTally.objects.values("campaign_id")
        .annotate(n=Count("id"))
        .filter(n__gt=TALLY_ROWS_BEFORE_COMPACTING)
    )
    for campaign_id in busy.values_list("campaign_id", flat=True):
        ResultTally.objects.compact(campaign_id)
    busy = (
        AttemptTally.objects.filter(folded=False)
        .values("campaign_id")
        .annotate(n=Count("id"))
        .filter(n__gt=TALLY_ROWS_BEFORE_COMPACTING)
    )
    for campaign_id in busy.values_list("campaign_id", flat=True):
        AttemptTally.compact(campaign_id)
    live = Campaign.objects.values("pk")
    ResultTally.objects.exclude(campaign_id__in=live).delete()
    AttemptTally.objects.exclude(campaign_id__in=live).delete()
