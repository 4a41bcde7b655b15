"""Driving a campaign: one bounded slice of sending per django-q2 task (docs/design.md "How the work is
driven"), and :func:`run_until_done` for scripts, commands and tests.

:func:`drive` leases the campaign's sessions (one process per auth key across the cluster),
sends from all of them concurrently for at most ``TGC_SLICE_SECONDS`` (:mod:`.slice`), releases
the leases and enqueues its own continuation, or leaves ``wake_at`` for the reaper when every
session is waiting (a long FloodWait, a daily cap): no worker sleeps for an hour.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync
from django.db import OperationalError
from django.db.models import Min

from sessions_app import clock, leases
from sessions_app.models import TelegramSession
from tgcampaigns import conf
from tgcampaigns.logcontext import bound

from ..models import Campaign, CampaignStatus, ResultStatus
from . import queue, reach, window
from .assignment import active_sessions, recover_stranded_rows
from .claiming import recover_rows
from .control import finish_if_done, pause
from .pacing import next_requests_at
from .readiness import DRIVE_PURPOSE
from .reaper import reap
from .slice import SliceRunner
from .storage import clear_full_disk, is_disk_full, stop_for_full_disk

log = logging.getLogger(__name__)


def next_wake(campaign: Campaign) -> datetime | None:
    """When this campaign next has something to send: the earliest time one of its active
    sessions may make a request (after its FloodWait, delay, per-minute window and daily cap) for
    its pool, and for rows pinned to a session, the later of that session's time and the row's
    retry time; under a send window, not before the window opens in one of the rows' time zones.
    None: nothing open (or no active session)."""
    now = clock.now()
    open_rows = campaign.results.open()
    if not open_rows.exists():
        return None
    start, end = campaign.send_window_start, campaign.send_window_end
    windowed = window.has_window(start, end)

    def opening(rows) -> datetime | None:
        if not windowed:
            return now
        found = window.first_opening(start, end, rows.values_list("time_zone", flat=True).distinct(), now)
        return found[0] if found else None

    active = active_sessions(campaign)
    sessions = {pk: max(at, now) for pk, at in next_requests_at(active, now).items()}
    for s in active:
        sessions[s.pk] = max(sessions[s.pk], s.next_connect_at or now)
    times = []
    pool = open_rows.filter(session=None)
    if pool.exists() and (opens := opening(pool)) is not None:
        times += [max(t, opens) for t in sessions.values()]
    pinned = (
        open_rows.exclude(session=None).values("session_id").annotate(due=Min("next_attempt_at")).order_by()
    )
    for row in pinned:
        opens = opening(open_rows.filter(session_id=row["session_id"]))
        if row["session_id"] in sessions and opens is not None:
            times.append(max(sessions[row["session_id"]], row["due"] or now, opens))
    return min(times) if times else None


# Allocations between two passes over the youngest objects during a slice (Python's default: 700,
# a pass every few messages at 500 sessions).
GC_YOUNG_THRESHOLD = 10_000


@contextmanager
def still_heap() -> Iterator[None]:
    """Leave what the process already holds out of the garbage collector's passes for the
    duration of a slice (``gc.freeze``): the full passes over Django's and the sessions' objects
    otherwise stop the slice's loop for up to 0.4 s at a time (500 sessions: 16 % of the time,
    every session late together), and passes over the youngest objects run every
    :data:`GC_YOUNG_THRESHOLD` allocations. What the slice itself makes is still collected; at
    its end the frozen objects are handed back (``gc.unfreeze``) and the thresholds restored."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], GC_YOUNG_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _after_slice(
    campaign_id: int, seconds: float, *, enqueue_next: bool, ready_in: float | None = None
) -> str:
    """Decide what comes after a slice for one campaign: finished, continued (a worker woken now),
    or waiting (``wake_at`` set for the reaper: no worker sleeps through a long wait).
    ``ready_in``: seconds until one of the slice's sessions may send for it again (the slice's
    report); within the slice, with rows in the pool and no send window, it continues without
    reading every session's pace back (:func:`next_wake`: 500 sessions' worth at each boundary)."""
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.status == CampaignStatus.CANCELLED:
        campaign.results.cancel_open()
        return "not running"
    if campaign.status != CampaignStatus.RUNNING:
        return campaign.status
    if finish_if_done(campaign):
        return "completed"
    soon = ready_in is not None and ready_in <= max(seconds, 1)
    if soon and not window.has_window(campaign.send_window_start, campaign.send_window_end):
        if campaign.results.filter(status=ResultStatus.PENDING, session=None).exists():
            if enqueue_next:
                queue.enqueue_drive(campaign_id)
            return "continued"
    wake = next_wake(campaign)
    if wake is None or wake <= clock.now() + timedelta(seconds=max(seconds, 1)):
        # Soon (within a slice): the next slice waits it out in its loop.
        if enqueue_next:
            queue.enqueue_drive(campaign_id)
        return "continued"
    Campaign.objects.filter(pk=campaign_id).update(wake_at=wake)
    return "waiting"


def _free_sessions(campaign: Campaign) -> list[TelegramSession] | str:
    """The campaign's active sessions a slice may lease now: not leased by another process, and
    not backing off after failing to connect (no slice spends connection attempts on those). A
    string says what happened instead: ``completed``, ``paused`` (no active session left) or
    ``waiting`` (every active session is backing off: ``wake_at`` is set to the first retry)."""
    candidates = active_sessions(campaign)
    if not candidates:
        if finish_if_done(campaign):
            return "completed"
        pause(
            campaign,
            "No usable session left for the remaining recipients: log a session in or add one, then resume.",
        )
        return "paused"
    now = clock.now()
    reachable = [s for s in candidates if not reach.backing_off(s, now)]
    if not reachable:
        wake = min(s.next_connect_at for s in candidates)
        Campaign.objects.filter(pk=campaign.pk).update(wake_at=wake)
        return "waiting"
    live = leases.live_ids()
    return [s for s in reachable if s.pk not in live]


def drive(
    campaign_id: int, *, owner: str | None = None, seconds: float | None = None, enqueue_next: bool = True
) -> str:
    """One bounded slice of work on a campaign (the django-q2 task body). Leases the campaign's
    free sessions; they serve every running campaign they belong to, in turn. Returns what
    happened to ``campaign_id``: ``not running``, ``completed``, ``already driven``, ``paused``,
    ``continued``, ``waiting``, ``disk full`` (sending stopped until space is freed: the campaign
    says so and the reaper wakes it again, :mod:`.storage`). With ``enqueue_next`` it leases at
    most ``TGC_SESSIONS_PER_DRIVER`` sessions and enqueues another drive for the rest; without,
    it leases every free one (nothing else would drive them)."""
    owner = owner or leases.owner_name(DRIVE_PURPOSE)
    seconds = conf.slice_seconds() if seconds is None else seconds
    try:
        with bound(campaign=campaign_id):
            return _drive(campaign_id, owner, seconds, enqueue_next)
    except OperationalError as exc:
        if not is_disk_full(exc):
            raise
        stop_for_full_disk(campaign_id)
        return "disk full"


def _drive(campaign_id: int, owner: str, seconds: float, enqueue_next: bool) -> str:
    clock.sync()  # this slice's times follow the database's clock (and a skew is logged)
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return "not running"
    if campaign.status == CampaignStatus.CANCELLED:
        campaign.results.cancel_open()
    if campaign.status != CampaignStatus.RUNNING:
        return "not running"
    if finish_if_done(campaign):
        return "completed"
    recover_stranded_rows(campaign)
    free = _free_sessions(campaign)
    if isinstance(free, str):
        return free
    leased_at = time.monotonic()  # before the take: the leases surely last from here (self-fencing)
    # A drive that enqueues no continuation (run_until_done: scripts, commands, one process) has
    # no other worker to fan out to: it takes every free session, or the rest would never send.
    limit = conf.sessions_per_driver() if enqueue_next else None
    with leases.holding(free, owner, active_only=True, limit=limit) as leased:
        if not leased:
            return "already driven"
        if enqueue_next and len(leased) < len(free):
            queue.enqueue_drive(campaign_id)  # more sessions than one driver takes: fan out to another worker
        recover_rows([s.pk for s in leased])
        with still_heap():
            report = async_to_sync(
                SliceRunner([campaign_id], leased, owner, seconds, leased_at=leased_at).run
            )()
    log.info(
        "slice by %s: %d sessions, campaigns %s, %d sent, %d outcomes%s",
        owner,
        report.sessions,
        sorted(report.campaigns),
        report.sent,
        report.outcomes,
        f", campaign {campaign_id} stopped: {report.stopped_by}" if report.stopped_by else "",
    )
    if report.disk_full:
        for stopped in report.campaigns | {campaign_id}:
            stop_for_full_disk(stopped)
        return "disk full"
    for served in report.campaigns | {campaign_id}:
        clear_full_disk(served)  # space is back, if it was short
    outcome = _after_slice(
        campaign_id, seconds, enqueue_next=enqueue_next, ready_in=report.ready_in.get(campaign_id)
    )
    for other in report.campaigns - {campaign_id}:
        _after_slice(other, seconds, enqueue_next=enqueue_next, ready_in=report.ready_in.get(other))
    return outcome


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
        if outcome in ("waiting", "already driven", "disk full"):
            if outcome == "already driven":
                reap(dispatch=False)  # returns rows of a lease that expired with its dead holder
            wake = campaign.wake_at or clock.now() + timedelta(seconds=0.2)
            pause_s = max(0.05, (wake - clock.now()).total_seconds())
            time.sleep(min(pause_s, 1.0, max(0.0, stop_at - time.monotonic())))
    return campaign.status
