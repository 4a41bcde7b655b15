"""The delivery engine: launch, control, the per-session send loop, re-balancing and the reaper.

The contract is DESIGN.md "Delivery contract" and "How the work is driven". In short:

- :func:`launch` materialises one :class:`MessageResult` per recipient (bad ones ``skipped`` with
  the reason), assigns every deliverable row to one session by the campaign's strategy, and
  enqueues :func:`drive`.
- :func:`drive` is one bounded slice: it leases the campaign's sessions (one process per auth key
  across the cluster), sends from all of them concurrently in one asyncio loop for at most
  ``TGC_SLICE_SECONDS``, writes outcomes in batches, releases the leases and enqueues its own
  continuation (or leaves ``wake_at`` for the reaper when every session is waiting).
- Rows move ``pending → claimed → sending → sent | failed`` with one guarded UPDATE per batch. A
  row is committed ``sending`` before its request leaves; ``in_doubt`` pins it to its session so a
  resend after a crash carries the same ``random_id`` from the same account and Telegram answers
  ``RANDOM_ID_DUPLICATE`` instead of delivering twice.
- :func:`reap` (a django-q2 schedule, and each worker at start) returns abandoned rows, turns rows
  that can no longer be re-sent safely into ``unknown``, launches due scheduled campaigns and
  re-dispatches running campaigns that no live lease drives.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from itertools import islice

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from sessions_app import leases
from sessions_app.models import SessionStatus, TelegramSession, utc_day_start
from sessions_app.transport import ErrorKind, TransportError

from .balancing import Balancer, Candidate
from .bulk import insert_rows
from .models import (
    OPEN_STATUSES,
    Campaign,
    CampaignStatus,
    MessageResult,
    Recipient,
    ResultStatus,
    Suppression,
    new_random_id,
)
from .rows import CODE_CANCELLED, CODE_DUPLICATE, CODE_INVALID, CODE_SUPPRESSED, CODE_UNKNOWN, recover_rows
from .sender import SliceRunner

log = logging.getLogger(__name__)


class LaunchError(Exception):
    """A campaign cannot be launched; the message is for staff."""


class NoUsableSession(LaunchError):
    """None of the campaign's sessions can send (not logged in, disabled or quarantined)."""


# Settings, read at call time (override_settings works) ------------------------------------------
def slice_seconds() -> float:
    return float(settings.TGC_SLICE_SECONDS)


def sessions_per_driver() -> int:
    return int(settings.TGC_SESSIONS_PER_DRIVER)


def worker_identity() -> str:
    """A lease owner name unique to this process and call: ``drive:host:pid:random``."""
    return leases.owner_name("drive")


# Queue ---------------------------------------------------------------------------------------
def enqueue_drive(campaign_id: int) -> None:
    """Wake a worker for ``campaign_id`` (django-q2). The queue only wakes work up: a duplicate or
    lost task is harmless because rows and leases in the database are the truth."""
    from django_q.tasks import async_task

    async_task("campaigns.tasks.drive_campaign", campaign_id, group=f"campaign-{campaign_id}")


# Sessions ------------------------------------------------------------------------------------
def sent_today(session_ids: list[int], now: datetime | None = None) -> dict[int, int]:
    """Requests that reached Telegram today (UTC) per session id, counting sent rows."""
    now = now or timezone.now()
    start = utc_day_start(now)
    rows = (
        MessageResult.objects.filter(session_id__in=session_ids, sent_at__gte=start)
        .values_list("session_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(rows)


def usable_sessions(campaign: Campaign, now: datetime | None = None) -> list[TelegramSession]:
    """The campaign's sessions that can take rows: active, not under a FloodWait longer than the
    campaign's threshold, not at their daily cap. Falls back to waiting sessions (FloodWait or cap)
    when no session can send soon, so rows wait rather than fail."""
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


def _candidates(sessions: list[TelegramSession]) -> list[Candidate]:
    """Balancing candidates with their load: open rows queued on them in running campaigns."""
    ids = [s.pk for s in sessions]
    loads = dict(
        MessageResult.objects.filter(
            session_id__in=ids, status__in=OPEN_STATUSES, campaign__status=CampaignStatus.RUNNING
        )
        .values_list("session_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [Candidate(s.pk, s.weight, loads.get(s.pk, 0) + max(0, s.current_load)) for s in sessions]


# Launch --------------------------------------------------------------------------------------
def preflight(campaign: Campaign) -> list[str]:
    """Problems that stop a launch, for staff (empty when it may launch). Stores the media's
    inspected type and info on the campaign."""
    from . import media as media_checks
    from . import messages

    problems: list[str] = []
    if not campaign.lists.exists():
        problems.append("Choose at least one recipient list.")
    elif not Recipient.objects.filter(
        recipient_list__in=campaign.lists.all(), status=Recipient.Status.VALID
    ).exists():
        problems.append("The chosen lists have no valid recipient.")
    if campaign.media:
        try:
            info = media_checks.inspect_media(campaign.media.path, campaign.media_type or None)
        except media_checks.MediaRefused as exc:
            problems.append(f"Media: {exc}")
        else:
            campaign.media_type = info.media_type
            campaign.media_info = info.as_json()
            Campaign.objects.filter(pk=campaign.pk).update(
                media_type=campaign.media_type, media_info=campaign.media_info
            )
    problems += messages.check_message(campaign.message, campaign.parse_mode, has_media=bool(campaign.media))
    return problems


def launch(campaign: Campaign, *, enqueue: bool = True) -> dict[str, int]:
    """Launch (or re-dispatch) a campaign; returns its row counts by status.

    Draft: checked, then scheduled (``scheduled_at`` in the future) or materialised and running.
    Running: re-dispatched (after a restart it continues where it stopped). Paused: resumed.
    Raises :class:`LaunchError` (or :class:`NoUsableSession`) with a message for staff; then
    nothing is created.
    """
    campaign.refresh_from_db()
    if campaign.status == CampaignStatus.RUNNING:
        if enqueue:
            enqueue_drive(campaign.pk)
        return campaign.counts()
    if campaign.status == CampaignStatus.PAUSED:
        resume(campaign, enqueue=enqueue)
        return campaign.counts()
    if campaign.status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
        raise LaunchError(f"The campaign is {campaign.get_status_display().lower()}; copy it to send again.")
    if not usable_sessions(campaign):
        raise NoUsableSession(
            "No usable session: choose at least one active session (logged in, not disabled or quarantined)."
        )
    problems = preflight(campaign)
    if problems:
        raise LaunchError(" ".join(_sentence(p) for p in problems))
    now = timezone.now()
    if campaign.status == CampaignStatus.DRAFT and campaign.scheduled_at and campaign.scheduled_at > now:
        campaign.set_status(
            CampaignStatus.SCHEDULED,
            "",
            only_from=(CampaignStatus.DRAFT,),
        )
        return campaign.counts()
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
            raise LaunchError("The campaign was launched already.")
        if not locked.results.exists():
            materialise(locked)
        Campaign.objects.filter(pk=locked.pk).update(
            status=CampaignStatus.RUNNING, status_reason="", launched_at=now, wake_at=None
        )
        if enqueue:
            transaction.on_commit(lambda: enqueue_drive(locked.pk))
    campaign.refresh_from_db()
    return campaign.counts()


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def _batched(iterable, n: int):
    it = iter(iterable)
    while chunk := list(islice(it, n)):
        yield chunk


RESULT_COLUMNS = (
    "campaign_id",
    "recipient_id",
    "key",
    "dedupe_key",
    "kind",
    "fields",
    "status",
    "session_id",
    "random_id",
    "error_code",
    "error_text",
    "attempts",
    "in_doubt",
    "claimed_by",
    "created_at",
    "updated_at",
)


def materialise(campaign: Campaign, *, chunk_size: int = 2000) -> dict[str, int]:
    """Create the campaign's rows: one per distinct recipient key across its lists, in list and
    row order. Invalid and duplicate lines get a ``skipped`` row with the reason (NULL
    ``dedupe_key``), suppressed keys a ``skipped`` row, the rest a ``pending`` row assigned to one
    session by the campaign's strategy. Memory: one set of the keys seen (about 100 bytes a key).
    Raises NoUsableSession when no session can take rows."""
    sessions = usable_sessions(campaign)
    if not sessions:
        raise NoUsableSession("No usable session to assign recipients to.")
    balancer = Balancer(campaign.strategy, _candidates(sessions))
    seen: set[str] = set()
    stats = {"pending": 0, "skipped": 0}
    recipients = (
        Recipient.objects.filter(recipient_list__in=campaign.lists.all())
        .order_by("recipient_list_id", "row_number")
        .values_list("id", "key", "kind", "status", "error", "fields")
        .iterator(chunk_size=chunk_size)
    )
    now = timezone.now()
    for chunk in _batched(recipients, chunk_size):
        keys = {r[1] for r in chunk if r[3] == Recipient.Status.VALID}
        suppressed = set(Suppression.objects.filter(key__in=keys).values_list("key", flat=True))
        rows = []
        for rid, key, kind, status, error, fields in chunk:
            session_id, dedupe_key, row_status, code, text = None, None, ResultStatus.SKIPPED, "", ""
            if status == Recipient.Status.INVALID:
                code, text = CODE_INVALID, error
            elif status == Recipient.Status.DUPLICATE or key in seen:
                code, text = CODE_DUPLICATE, error or "duplicate of an earlier recipient"
            elif key in suppressed:
                seen.add(key)
                dedupe_key, code, text = key, CODE_SUPPRESSED, "on the suppression list (opted out)"
            else:
                seen.add(key)
                dedupe_key, session_id, row_status = key, balancer.next(), ResultStatus.PENDING
            stats["pending" if row_status == ResultStatus.PENDING else "skipped"] += 1
            rows.append(
                (
                    campaign.pk,
                    rid,
                    key,
                    dedupe_key,
                    kind,
                    fields,
                    row_status,
                    session_id,
                    new_random_id(),
                    code,
                    text,
                    0,
                    False,
                    "",
                    now,
                    now,
                )
            )
        insert_rows(MessageResult, RESULT_COLUMNS, rows)
    return stats


# Control -------------------------------------------------------------------------------------
def pause(campaign: Campaign, reason: str = "Paused by staff.") -> bool:
    """Pause a running or scheduled campaign; every session stops before its next send."""
    return campaign.set_status(
        CampaignStatus.PAUSED, reason, only_from=(CampaignStatus.RUNNING, CampaignStatus.SCHEDULED)
    )


def resume(campaign: Campaign, *, enqueue: bool = True) -> bool:
    """Resume a paused campaign (launching it first if it was paused before it started)."""
    campaign.refresh_from_db()
    if campaign.status != CampaignStatus.PAUSED:
        return False
    if not campaign.results.exists():
        campaign.set_status(CampaignStatus.DRAFT, only_from=(CampaignStatus.PAUSED,))
        launch(campaign, enqueue=enqueue)
        return True
    if not campaign.set_status(CampaignStatus.RUNNING, only_from=(CampaignStatus.PAUSED,)):
        return False
    rebalance(campaign)
    if enqueue:
        enqueue_drive(campaign.pk)
    return True


def cancel(campaign: Campaign) -> int:
    """Cancel: rows not yet sent become ``cancelled`` (requests in flight finish and are recorded).
    Returns the number of rows cancelled."""
    campaign.set_status(
        CampaignStatus.CANCELLED,
        "Cancelled by staff.",
        only_from=(
            CampaignStatus.DRAFT,
            CampaignStatus.SCHEDULED,
            CampaignStatus.RUNNING,
            CampaignStatus.PAUSED,
        ),
    )
    return _cancel_open_rows(campaign.pk)


def _cancel_open_rows(campaign_id: int) -> int:
    return MessageResult.objects.filter(
        campaign_id=campaign_id, status__in=(ResultStatus.PENDING, ResultStatus.CLAIMED)
    ).update(
        status=ResultStatus.CANCELLED,
        error_code=CODE_CANCELLED,
        error_text="campaign cancelled",
        claimed_by="",
        updated_at=timezone.now(),
    )


def _reopen(campaign: Campaign, rows, *, enqueue: bool, **extra) -> int:
    campaign.refresh_from_db(fields=["status"])
    if campaign.status not in (CampaignStatus.RUNNING, CampaignStatus.PAUSED, CampaignStatus.COMPLETED):
        return 0  # draft has no rows; a cancelled campaign is final
    n = rows.update(
        status=ResultStatus.PENDING,
        attempts=0,
        error_code="",
        error_text="",
        next_attempt_at=None,
        claimed_by="",
        updated_at=timezone.now(),
        **extra,
    )
    if n:
        Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.COMPLETED).update(
            status=CampaignStatus.RUNNING, finished_at=None, status_reason=""
        )
        campaign.refresh_from_db()
        rebalance(campaign)
        if enqueue and campaign.status == CampaignStatus.RUNNING:
            enqueue_drive(campaign.pk)
    return n


def retry_failed(campaign: Campaign, *, enqueue: bool = True) -> int:
    """Queue the campaign's ``failed`` rows again (attempts reset). Returns how many (0 for a
    cancelled campaign: cancelling is final)."""
    return _reopen(campaign, campaign.results.filter(status=ResultStatus.FAILED), enqueue=enqueue)


def resend_unknown(campaign: Campaign, *, enqueue: bool = True) -> int:
    """The operator's explicit decision to re-send ``unknown`` rows, whose first request may have
    arrived: from the same session when it is usable (Telegram then de-duplicates by random_id),
    otherwise from another session, which may deliver a second copy."""
    rows = campaign.results.filter(status=ResultStatus.UNKNOWN)
    return _reopen(campaign, rows, enqueue=enqueue, in_doubt=False)


def rebalance(campaign: Campaign) -> int:
    """Move open rows off sessions that cannot send for this campaign onto usable ones, by the
    campaign's strategy. Rows ``in_doubt`` never move (a resend from another account could
    deliver twice): on a session that is gone they become ``unknown``. Returns rows moved."""
    now = timezone.now()
    healthy = usable_sessions(campaign, now)
    healthy_ids = {s.pk for s in healthy}
    dead_ids = list(campaign.sessions.exclude(status=SessionStatus.ACTIVE).values_list("id", flat=True))
    campaign.results.filter(status__in=OPEN_STATUSES, in_doubt=True).filter(
        Q(session_id__in=dead_ids) | Q(session=None)
    ).exclude(status=ResultStatus.SENDING, claimed_by__gt="", session__lease_expires_at__gt=now).update(
        status=ResultStatus.UNKNOWN,
        error_code=CODE_UNKNOWN,
        error_text="the request may have reached Telegram and its session can no longer re-send it "
        "safely; re-send only by the explicit 'Resend unknown' action",
        claimed_by="",
        updated_at=now,
    )
    stuck = campaign.results.filter(
        status__in=(ResultStatus.PENDING, ResultStatus.CLAIMED), in_doubt=False
    ).exclude(session_id__in=healthy_ids)
    ids = list(stuck.values_list("id", flat=True))
    if not ids or not healthy:
        return 0
    balancer = Balancer(campaign.strategy, _candidates(healthy))
    for chunk in _batched(ids, 2000):
        by_session: dict[int, list[int]] = {}
        for row_id in chunk:
            by_session.setdefault(balancer.next(), []).append(row_id)
        for session_id, row_ids in by_session.items():
            MessageResult.objects.filter(
                id__in=row_ids, status__in=(ResultStatus.PENDING, ResultStatus.CLAIMED)
            ).update(session_id=session_id, status=ResultStatus.PENDING, claimed_by="", updated_at=now)
    log.info("campaign %s: re-balanced %d rows over %d sessions", campaign.pk, len(ids), len(healthy))
    return len(ids)


def finish_if_done(campaign: Campaign) -> bool:
    """Mark a running campaign completed when no row is open; True when it is finished."""
    if campaign.results.filter(status__in=OPEN_STATUSES).exists():
        return False
    if campaign.set_status(CampaignStatus.COMPLETED, "", only_from=(CampaignStatus.RUNNING,)):
        if (
            settings.TGC_DELETE_IMPORTED_CONTACTS
            and campaign.sessions.filter(backend="telethon", kind="user").exists()
        ):
            from django_q.tasks import async_task

            async_task("campaigns.tasks.forget_imported_contacts", campaign.pk)
    return True


def apply_error_effects(campaign: Campaign, session: TelegramSession, err: TransportError) -> None:
    kind = err.kind
    if kind == ErrorKind.FLOOD:
        session.set_flood_wait(err.seconds or 0)
        session.record_error(err.code, f"FloodWait of {err.seconds:.0f} s: {err.text}")
        if (err.seconds or 0) > campaign.flood_wait_threshold:
            rebalance(campaign)
    elif kind == ErrorKind.SESSION:
        session.record_error(err.code, err.text, status=SessionStatus.DISABLED)
        if not rebalance(campaign) and not usable_sessions(campaign):
            pause(campaign, f"No usable session left: {session.name} failed with {err.code}.")
    elif kind == ErrorKind.SPAM_LIMITED:
        session.record_error(err.code, err.text, status=SessionStatus.QUARANTINED)
        pause(
            campaign,
            f"Paused for review: session {session.name} was spam-limited by Telegram ({err.code}). "
            "Check the account (e.g. with @SpamBot) before resuming; its rows move to other sessions.",
        )
    elif kind == ErrorKind.CONTENT:
        pause(
            campaign,
            f"Paused: Telegram refused the message itself ({err.code}: {err.text}). "
            "Every recipient would fail alike: fix the message, then resume.",
        )


def next_wake(campaign: Campaign) -> datetime | None:
    """When this campaign next has something to send: the earliest of its open sessions' FloodWait
    ends, the next UTC midnight for capped sessions, and retry times. None: nothing open."""
    now = timezone.now()
    open_rows = campaign.results.filter(status__in=OPEN_STATUSES)
    per_session = (
        open_rows.values("session_id").annotate(due=Min("next_attempt_at"), n=Count("id")).order_by()
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
    owner = owner or worker_identity()
    seconds = slice_seconds() if seconds is None else seconds
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return "not running"
    if campaign.status == CampaignStatus.CANCELLED:
        _cancel_open_rows(campaign_id)
    if campaign.status != CampaignStatus.RUNNING:
        return "not running"
    if finish_if_done(campaign):
        return "completed"
    rebalance(campaign)
    live = leases.live_ids()
    session_ids = set(
        campaign.results.filter(status__in=OPEN_STATUSES).values_list("session_id", flat=True).distinct()
    )
    candidates = list(
        TelegramSession.objects.filter(pk__in=session_ids, status=SessionStatus.ACTIVE).order_by("pk")
    )
    if not candidates:
        if finish_if_done(campaign):
            return "completed"
        pause(
            campaign,
            "No usable session left for the remaining recipients: log a session in or add one, then resume.",
        )
        return "paused"
    leased = []
    for session in candidates:
        if len(leased) >= sessions_per_driver():
            break
        if session.pk not in live and leases.take(session, owner, active_only=True):
            leased.append(session)
    if not leased:
        return "already driven"
    if enqueue_next and len(leased) < len([s for s in candidates if s.pk not in live]):
        enqueue_drive(campaign_id)  # more sessions than one driver takes: fan out to another worker
    leased_ids = [s.pk for s in leased]
    try:
        recover_rows(campaign_id, leased_ids)
        report = async_to_sync(SliceRunner(campaign, leased, owner, seconds).run)()
    finally:
        leases.release(leased_ids, owner)
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
        _cancel_open_rows(campaign_id)
        return "not running"
    if campaign.status != CampaignStatus.RUNNING:
        return campaign.status
    if finish_if_done(campaign):
        return "completed"
    wake = next_wake(campaign)
    if wake is None or wake <= timezone.now() + timedelta(seconds=max(seconds, 1)):
        if enqueue_next:
            enqueue_drive(campaign_id)
        return "continued"
    Campaign.objects.filter(pk=campaign_id).update(wake_at=wake)
    return "waiting"


def run_until_done(
    campaign: Campaign, *, max_seconds: float = 60.0, slice: float | None = None, should_stop=lambda: False
) -> str:
    """Drive a campaign in this process until it is finished or paused, ``max_seconds`` pass, or
    ``should_stop()`` is true between slices (scripts, the bulk API, the launchcampaign command,
    tests). Waits out leases held by dead processes and FloodWaits. Returns the final status."""
    stop_at = time.monotonic() + max_seconds
    while time.monotonic() < stop_at and not should_stop():
        left = stop_at - time.monotonic()
        outcome = drive(campaign.pk, seconds=min(slice or slice_seconds(), left), enqueue_next=False)
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


# Reaper --------------------------------------------------------------------------------------
def reap(*, dispatch: bool = True) -> dict[str, int]:
    """Recover after crashes (DESIGN.md "Reaper"); idempotent, safe to run anywhere, any time.

    - ``claimed`` rows of sessions without a live lease → ``pending``;
    - ``sending`` rows of sessions without a live lease → ``pending`` on the same session (re-sent
      with the same random_id) if it is active, else ``unknown``;
    - cancelled campaigns' open rows → ``cancelled``; due scheduled campaigns → launched;
    - running campaigns with open rows and no live lease (and not waiting) → re-dispatched;
    - load counters of unleased sessions → 0.
    """
    now = timezone.now()
    live = leases.live_ids(now)
    stats: dict[str, int] = {}
    # Only rows whose claim expired: a live worker renews its claims with its leases, so a row it
    # marked a moment after ``live`` was read still has a future claim_expires_at and is left alone.
    orphan = MessageResult.objects.filter(Q(claim_expires_at__lt=now) | Q(claim_expires_at=None)).exclude(
        session_id__in=live
    )
    stats["claimed_returned"] = orphan.filter(status=ResultStatus.CLAIMED).update(
        status=ResultStatus.PENDING, claimed_by="", updated_at=now
    )
    active = TelegramSession.objects.filter(status=SessionStatus.ACTIVE).values_list("id", flat=True)
    sending = orphan.filter(status=ResultStatus.SENDING)
    stats["sending_requeued"] = sending.filter(session_id__in=active).update(
        status=ResultStatus.PENDING, claimed_by="", updated_at=now
    )
    stats["sending_unknown"] = sending.update(
        status=ResultStatus.UNKNOWN,
        error_code=CODE_UNKNOWN,
        claimed_by="",
        updated_at=now,
        error_text="a worker stopped mid-send and the session can no longer re-send it safely; "
        "re-send only by the explicit 'Resend unknown' action",
    )
    TelegramSession.objects.exclude(pk__in=live).exclude(current_load=0).update(current_load=0)
    for campaign_id in (
        Campaign.objects.filter(status=CampaignStatus.CANCELLED)
        .filter(results__status__in=(ResultStatus.PENDING, ResultStatus.CLAIMED))
        .values_list("id", flat=True)
        .distinct()
    ):
        _cancel_open_rows(campaign_id)
    stats["launched"] = 0
    for campaign in Campaign.objects.filter(status=CampaignStatus.SCHEDULED, scheduled_at__lte=now):
        try:
            launch(campaign, enqueue=dispatch)
            stats["launched"] += 1
        except LaunchError as exc:
            pause(campaign, f"Scheduled start failed: {exc}")
    stats["redispatched"] = 0
    if not dispatch:
        return stats
    running = Campaign.objects.filter(status=CampaignStatus.RUNNING).filter(
        Q(wake_at=None) | Q(wake_at__lte=now)
    )
    for campaign in running:
        if finish_if_done(campaign):
            continue
        driven = campaign.results.filter(status__in=OPEN_STATUSES, session_id__in=live).exists()
        if not driven:
            Campaign.objects.filter(pk=campaign.pk).update(wake_at=None)
            enqueue_drive(campaign.pk)
            stats["redispatched"] += 1
    return stats


def summary(campaign: Campaign) -> dict[str, int]:
    """Counts for the end-of-campaign summary: sent, failed, skipped, other, total (adds up)."""
    c = campaign.counts()
    other = c["total"] - c["sent"] - c["failed"] - c["skipped"]
    return {
        "sent": c["sent"],
        "failed": c["failed"],
        "skipped": c["skipped"],
        "other": other,
        "total": c["total"],
    }


__all__ = [
    "LaunchError",
    "NoUsableSession",
    "cancel",
    "drive",
    "launch",
    "materialise",
    "pause",
    "reap",
    "rebalance",
    "resend_unknown",
    "resume",
    "retry_failed",
    "run_until_done",
    "summary",
]
