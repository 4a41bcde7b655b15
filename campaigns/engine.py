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

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Min, Q
from django.utils import timezone

from sessions_app.models import SessionStatus, TelegramSession
from sessions_app.transport import ErrorKind, MediaSpec, OutgoingMessage, TransportError, get_transport

from .balancing import Balancer, Candidate
from .bulk import insert_rows
from .models import (
    OPEN_STATUSES,
    Campaign,
    CampaignStatus,
    DeliveryAttempt,
    MessageResult,
    Recipient,
    ResultStatus,
    Suppression,
    new_random_id,
)
from .pacing import Pace

log = logging.getLogger(__name__)

# Error codes for rows the engine itself settles (Telegram's own codes are used for the rest).
CODE_INVALID = "INVALID_RECIPIENT"
CODE_DUPLICATE = "DUPLICATE_RECIPIENT"
CODE_SUPPRESSED = "SUPPRESSED"
CODE_CANCELLED = "CANCELLED"
CODE_UNKNOWN = "OUTCOME_UNKNOWN"
CODE_NO_ATTEMPTS_LEFT = "MAX_ATTEMPTS"

RETRY_BASE_SECONDS = 2.0
RETRY_CAP_SECONDS = 300.0
CONTROL_POLL_SECONDS = 0.25
# A batch covers about this many seconds of a session's pace: one claim UPDATE per batch, and a
# pause is seen before the next batch (and between sends through the control poll).
BATCH_WINDOW_SECONDS = 0.5
MAX_BATCH = 200


class LaunchError(Exception):
    """A campaign cannot be launched; the message is for staff."""


class NoUsableSession(LaunchError):
    """None of the campaign's sessions can send (not logged in, disabled or quarantined)."""


# Settings, read at call time (override_settings works) ------------------------------------------
def slice_seconds() -> float:
    return float(settings.TGC_SLICE_SECONDS)


def lease_seconds() -> float:
    return float(settings.TGC_LEASE_SECONDS)


def sessions_per_driver() -> int:
    return int(settings.TGC_SESSIONS_PER_DRIVER)


def max_in_flight() -> int:
    """Requests one session may have awaiting Telegram's answer at once."""
    return int(settings.TGC_MAX_IN_FLIGHT)


def worker_identity() -> str:
    """A lease owner name unique to this process and call: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def retry_delay(attempt: int) -> float:
    """Seconds before retry number ``attempt`` (1-based) of a transient error: exponential from
    2 s, capped at 300 s, with full jitter so a burst of failures does not retry in lockstep.

    Retries are rows rescheduled in the database (``next_attempt_at``), surviving crashes and
    moving between processes, which call-wrapping retry libraries (tenacity, backoff) do not model.
    """
    return random.uniform(0.5, 1.0) * min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** (attempt - 1))


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
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
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
            campaign.media_info = _media_info_dict(info)
            Campaign.objects.filter(pk=campaign.pk).update(
                media_type=campaign.media_type, media_info=campaign.media_info
            )
    problems += messages.check_message(campaign.message, campaign.parse_mode, has_media=bool(campaign.media))
    return problems


def _media_info_dict(info) -> dict:
    keys = (
        "media_type",
        "mime_type",
        "size",
        "width",
        "height",
        "duration",
        "supports_streaming",
        "file_name",
    )
    return {k: getattr(info, k, None) for k in keys}


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
        raise LaunchError(" ".join(problems))
    now = timezone.now()
    if campaign.status == CampaignStatus.DRAFT and campaign.scheduled_at and campaign.scheduled_at > now:
        campaign.set_status(
            CampaignStatus.SCHEDULED,
            f"Starts at {campaign.scheduled_at:%Y-%m-%d %H:%M %Z}.",
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


def _reopen(campaign: Campaign, rows, *, enqueue: bool) -> int:
    n = rows.update(
        status=ResultStatus.PENDING,
        attempts=0,
        error_code="",
        error_text="",
        next_attempt_at=None,
        claimed_by="",
        updated_at=timezone.now(),
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
    """Queue the campaign's ``failed`` rows again (attempts reset). Returns how many."""
    return _reopen(campaign, campaign.results.filter(status=ResultStatus.FAILED), enqueue=enqueue)


def resend_unknown(campaign: Campaign, *, enqueue: bool = True) -> int:
    """The operator's explicit decision to re-send ``unknown`` rows, whose first request may have
    arrived: from the same session when it is usable (Telegram then de-duplicates by random_id),
    otherwise from another session, which may deliver a second copy."""
    rows = campaign.results.filter(status=ResultStatus.UNKNOWN)
    rows.update(in_doubt=False)
    return _reopen(campaign, rows, enqueue=enqueue)


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


# Leases --------------------------------------------------------------------------------------
def try_lease(session: TelegramSession, owner: str) -> bool:
    """Take the session's lease for ``owner`` if it is free or expired (one guarded UPDATE: on
    PostgreSQL a concurrent taker re-checks the WHERE after the first commits and gets 0 rows)."""
    now = timezone.now()
    taken = (
        TelegramSession.objects.filter(pk=session.pk, status=SessionStatus.ACTIVE)
        .filter(
            Q(lease_owner="") | Q(lease_owner=owner) | Q(lease_expires_at=None) | Q(lease_expires_at__lt=now)
        )
        .update(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds()), current_load=0)
    )
    return taken == 1


def renew_leases(session_ids: list[int], owner: str) -> set[int]:
    """Extend ``owner``'s leases; returns the ids still held (a missing one was taken over)."""
    until = timezone.now() + timedelta(seconds=lease_seconds())
    TelegramSession.objects.filter(pk__in=session_ids, lease_owner=owner).update(lease_expires_at=until)
    return set(
        TelegramSession.objects.filter(pk__in=session_ids, lease_owner=owner).values_list("id", flat=True)
    )


def release_leases(session_ids: list[int], owner: str) -> None:
    TelegramSession.objects.filter(pk__in=session_ids, lease_owner=owner).update(
        lease_owner="", lease_expires_at=None, current_load=0
    )


def live_lease_ids(now: datetime | None = None) -> set[int]:
    now = now or timezone.now()
    return set(
        TelegramSession.objects.exclude(lease_owner="")
        .filter(lease_expires_at__gt=now)
        .values_list("id", flat=True)
    )


# Row transitions (one guarded UPDATE each) ---------------------------------------------------
@dataclass
class RowWork:
    """A claimed row as the send loop needs it."""

    id: int
    key: str
    random_id: int
    attempts: int
    fields: dict
    in_doubt: bool


def recover_rows(campaign_id: int, session_ids: list[int]) -> int:
    """Rows of sessions this process has just leased that an earlier holder left ``claimed`` or
    ``sending``: back to ``pending``, keeping session, random_id and ``in_doubt`` so they are
    re-sent from the same account first. Safe because the lease proves their holder is gone."""
    return MessageResult.objects.filter(
        campaign_id=campaign_id,
        session_id__in=session_ids,
        status__in=(ResultStatus.CLAIMED, ResultStatus.SENDING),
    ).update(status=ResultStatus.PENDING, claimed_by="", updated_at=timezone.now())


def claim_rows(campaign_id: int, session_id: int, owner: str, limit: int) -> list[RowWork]:
    """Claim up to ``limit`` due ``pending`` rows of one session (PostgreSQL: ``SELECT … FOR UPDATE
    SKIP LOCKED``; SQLite: its single writer, IMMEDIATE transactions). Suppressed keys found at this
    last check become ``skipped``."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            MessageResult.objects.select_for_update(skip_locked=True)
            .filter(campaign_id=campaign_id, session_id=session_id, status=ResultStatus.PENDING)
            .filter(Q(next_attempt_at=None) | Q(next_attempt_at__lte=now))
            .order_by("id")
            .values_list("id", "key", "random_id", "attempts", "fields", "in_doubt")[:limit]
        )
        if not rows:
            return []
        ids = [r[0] for r in rows]
        MessageResult.objects.filter(id__in=ids, status=ResultStatus.PENDING).update(
            status=ResultStatus.CLAIMED,
            claimed_by=owner,
            claim_expires_at=now + timedelta(seconds=lease_seconds()),
            updated_at=now,
        )
    suppressed = set(Suppression.objects.filter(key__in={r[1] for r in rows}).values_list("key", flat=True))
    if suppressed:
        skip_ids = [r[0] for r in rows if r[1] in suppressed and not r[5]]
        MessageResult.objects.filter(id__in=skip_ids, claimed_by=owner).update(
            status=ResultStatus.SKIPPED,
            error_code=CODE_SUPPRESSED,
            claimed_by="",
            error_text="opted out after launch (suppression list)",
            updated_at=now,
        )
        rows = [r for r in rows if r[0] not in set(skip_ids)]
    return [RowWork(*r) for r in rows]


def mark_sending(campaign_id: int, session_id: int, owner: str, ids: list[int]) -> set[int]:
    """``claimed → sending`` for rows whose requests are about to leave, only while the campaign
    is running (so a pause or cancel committed before this UPDATE stops them). Committed before
    any request leaves. Returns the ids marked."""
    now = timezone.now()
    running = Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.RUNNING)
    if not running.exists():
        return set()
    with transaction.atomic():
        n = MessageResult.objects.filter(
            id__in=ids, status=ResultStatus.CLAIMED, claimed_by=owner, campaign__status=CampaignStatus.RUNNING
        ).update(status=ResultStatus.SENDING, in_doubt=True, sending_at=now, updated_at=now)
        if not n:
            return set()
        TelegramSession.objects.filter(pk=session_id).update(current_load=F("current_load") + n)
        if n == len(ids):
            return set(ids)
        return set(
            MessageResult.objects.filter(
                id__in=ids, status=ResultStatus.SENDING, claimed_by=owner
            ).values_list("id", flat=True)
        )


def release_claims(owner: str, rows: list[RowWork]) -> None:
    """Rows claimed or marked ``sending`` by ``owner`` whose requests never left: back to
    ``pending`` with their previous ``in_doubt``."""
    now = timezone.now()
    for doubt in (True, False):
        ids = [r.id for r in rows if r.in_doubt == doubt]
        if ids:
            MessageResult.objects.filter(
                id__in=ids, claimed_by=owner, status__in=(ResultStatus.CLAIMED, ResultStatus.SENDING)
            ).update(status=ResultStatus.PENDING, claimed_by="", in_doubt=doubt, updated_at=now)


# Outcomes ------------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What one request did. ``kind``: ``sent``/``duplicate`` or an :class:`ErrorKind` value."""

    row: RowWork
    kind: str
    started_at: datetime
    finished_at: datetime
    message_id: int | None = None
    error: TransportError | None = None


def apply_outcomes(
    campaign: Campaign,
    session: TelegramSession,
    owner: str,
    outcomes: list[Outcome],
    unsent: list[RowWork],
    marked: int,
) -> None:
    """Write a batch's outcomes: rows, DeliveryAttempts, the session's load; then the effects on
    the session and the campaign (FloodWait, disable, quarantine, pause). One transaction."""
    now = timezone.now()
    attempts: list[tuple] = []
    mine = MessageResult.objects.filter(claimed_by=owner, status=ResultStatus.SENDING)
    with transaction.atomic():
        sent = [o for o in outcomes if o.kind in ("sent", "duplicate")]
        if sent:
            _mark_sent(owner, [(o.row.id, o.message_id) for o in sent], now)
        sent_ids = {id(o) for o in sent}
        for o in outcomes:
            if id(o) in sent_ids:
                attempts.append(
                    _attempt(
                        o,
                        session,
                        DeliveryAttempt.Outcome.SENT
                        if o.kind == "sent"
                        else DeliveryAttempt.Outcome.DUPLICATE,
                    )
                )
                continue
            err = o.error
            fields = {"error_code": err.code, "error_text": err.text, "claimed_by": "", "updated_at": now}
            if o.kind == ErrorKind.RECIPIENT:
                fields.update(status=ResultStatus.FAILED, attempts=o.row.attempts + 1, in_doubt=False)
                outcome = DeliveryAttempt.Outcome.FAILED
            elif o.kind == ErrorKind.TRANSIENT:
                tries = o.row.attempts + 1
                if tries >= campaign.max_attempts:
                    fields.update(status=ResultStatus.FAILED, attempts=tries)
                    outcome = DeliveryAttempt.Outcome.FAILED
                else:
                    # in_doubt stays True: a timeout may have delivered it; retry from this session.
                    fields.update(
                        status=ResultStatus.PENDING,
                        attempts=tries,
                        next_attempt_at=now + timedelta(seconds=retry_delay(tries)),
                    )
                    outcome = DeliveryAttempt.Outcome.RETRY
            else:
                # FloodWait, session, spam-limit and content errors: Telegram refused the request, so
                # it did not arrive; the row goes back to the queue and no attempt is counted.
                fields.update(
                    status=ResultStatus.PENDING, in_doubt=o.row.in_doubt and o.kind == ErrorKind.FLOOD
                )
                outcome = {
                    ErrorKind.FLOOD: DeliveryAttempt.Outcome.FLOOD,
                    ErrorKind.SESSION: DeliveryAttempt.Outcome.SESSION,
                    ErrorKind.SPAM_LIMITED: DeliveryAttempt.Outcome.SPAM_LIMITED,
                    ErrorKind.CONTENT: DeliveryAttempt.Outcome.CONTENT,
                }[ErrorKind(o.kind)]
            mine.filter(id=o.row.id).update(**fields)
            attempts.append(_attempt(o, session, outcome))
        insert_rows(DeliveryAttempt, ATTEMPT_COLUMNS, attempts)
        if unsent:
            release_claims(owner, unsent)
        if marked:
            TelegramSession.objects.filter(pk=session.pk).update(current_load=F("current_load") - marked)
    for o in outcomes:
        if o.error is not None:
            _apply_error_effects(campaign, session, o.error)


def _mark_sent(owner: str, pairs: list[tuple[int, int | None]], now: datetime) -> int:
    """``sending → sent`` for (row id, Telegram message id) pairs in one statement.

    The per-row message id comes from a correlated sub-select over an inline table: portable
    SQLite/PostgreSQL SQL, and one statement instead of Django's ``Case(When…)`` per row, whose
    expression resolution cost more than the sends it recorded.
    """
    table = MessageResult._meta.db_table
    inline = " UNION ALL ".join(["SELECT CAST(%s AS BIGINT) AS id, CAST(%s AS BIGINT) AS mid"] * len(pairs))
    marks = ", ".join(["%s"] * len(pairs))
    sql = (
        f"UPDATE {table} SET status = %s, sent_at = %s, attempts = attempts + 1, in_doubt = %s, "
        f"error_code = '', error_text = '', claimed_by = '', updated_at = %s, "
        f"telegram_message_id = (SELECT v.mid FROM ({inline}) AS v WHERE v.id = {table}.id) "
        f"WHERE id IN ({marks}) AND claimed_by = %s AND status = %s"
    )
    params: list = [ResultStatus.SENT, now, False, now]
    for row_id, message_id in pairs:
        params += [row_id, message_id]
    params += [row_id for row_id, _ in pairs] + [owner, ResultStatus.SENDING]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


ATTEMPT_COLUMNS = (
    "result_id",
    "session_id",
    "started_at",
    "finished_at",
    "outcome",
    "error_code",
    "error_text",
)


def _attempt(o: Outcome, session: TelegramSession, outcome: str) -> tuple:
    """A DeliveryAttempt row in :data:`ATTEMPT_COLUMNS` order."""
    err = o.error
    return (
        o.row.id,
        session.pk,
        o.started_at,
        o.finished_at,
        outcome,
        err.code if err else "",
        err.text if err else "",
    )


def _apply_error_effects(campaign: Campaign, session: TelegramSession, err: TransportError) -> None:
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


# The slice -----------------------------------------------------------------------------------
def _message_for(campaign: Campaign):
    """A function fields → OutgoingMessage for this campaign (template compiled once)."""
    from . import messages

    media = None
    if campaign.media and campaign.media_info:
        info = campaign.media_info
        media = MediaSpec(
            path=campaign.media.path,
            media_type=campaign.media_type,
            mime_type=info.get("mime_type") or "application/octet-stream",
            file_name=info.get("file_name") or os.path.basename(campaign.media.name),
            size=info.get("size") or 0,
            width=info.get("width"),
            height=info.get("height"),
            duration=info.get("duration"),
            supports_streaming=bool(info.get("supports_streaming")),
        )
    template, mode = campaign.message, campaign.parse_mode

    def build(fields: dict) -> OutgoingMessage:
        return OutgoingMessage(
            text=messages.render(template, fields or {}, mode), parse_mode=mode, media=media
        )

    return build


@dataclass
class SliceReport:
    sent: int = 0
    outcomes: int = 0
    sessions: int = 0
    stopped_by: str = ""
    errors: list[str] = field(default_factory=list)


class SliceRunner:
    """One slice: every leased session sends concurrently in one asyncio loop until the deadline,
    a pause/cancel, or nothing is left. All ORM calls go through ``sync_to_async`` and so run on
    the calling thread (the slice is entered with ``async_to_sync``)."""

    def __init__(self, campaign: Campaign, sessions: list[TelegramSession], owner: str, seconds: float):
        self.campaign = campaign
        self.sessions = sessions
        self.owner = owner
        self.deadline = time.monotonic() + seconds
        self.stop = asyncio.Event()
        self.lost: set[int] = set()
        self.build = _message_for(campaign)
        self.report = SliceReport(sessions=len(sessions))

    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    def halted(self, session: TelegramSession) -> bool:
        return self.stop.is_set() or session.pk in self.lost or self.time_left() <= 0

    async def nap(self, seconds: float) -> None:
        """Sleep up to ``seconds``, waking early on a stop."""
        try:
            await asyncio.wait_for(self.stop.wait(), timeout=max(0.0, seconds))
        except TimeoutError:
            pass

    async def run(self) -> SliceReport:
        aux = [asyncio.create_task(self._heartbeat()), asyncio.create_task(self._watch_control())]
        try:
            results = await asyncio.gather(
                *(self._session_loop(s) for s in self.sessions), return_exceptions=True
            )
        finally:
            for task in aux:
                task.cancel()
        for session, result in zip(self.sessions, results):
            if isinstance(result, BaseException):
                log.error("session %s loop crashed", session.pk, exc_info=result)
                self.report.errors.append(f"{session.name}: {result!r}")
        return self.report

    async def _heartbeat(self) -> None:
        ids = [s.pk for s in self.sessions]
        while True:
            await asyncio.sleep(lease_seconds() / 3)
            held = await sync_to_async(renew_leases)(ids, self.owner)
            self.lost |= set(ids) - held

    async def _watch_control(self) -> None:
        get_status = sync_to_async(
            lambda: Campaign.objects.filter(pk=self.campaign.pk).values_list("status", flat=True).first()
        )
        while not self.stop.is_set():
            status = await get_status()
            if status != CampaignStatus.RUNNING:
                self.report.stopped_by = status or "deleted"
                self.stop.set()
            await asyncio.sleep(CONTROL_POLL_SECONDS)

    def blocked(self, session: TelegramSession, pace: Pace) -> bool:
        """No further request may leave this session in this slice (for now)."""
        return (
            self.halted(session)
            or pace.capped()
            or session.status != SessionStatus.ACTIVE
            or session.flood_wait_left() > 0
        )

    async def _session_loop(self, session: TelegramSession) -> None:
        pace = await sync_to_async(_load_pace)(self.campaign, session)
        batch_size = max(1, min(MAX_BATCH, int(BATCH_WINDOW_SECONDS / max(pace.interval, 1e-3))))
        transport = await sync_to_async(_transport_for)(session)
        in_flight = asyncio.Semaphore(max_in_flight())
        finishers: list[asyncio.Task] = []
        try:
            await transport.connect()
        except TransportError as exc:
            await sync_to_async(_apply_error_effects)(self.campaign, session, exc)
            return
        try:
            while not self.halted(session) and session.status == SessionStatus.ACTIVE:
                wait = max(session.flood_wait_left(), pace.wait_for(time.monotonic()))
                if pace.capped() or wait > self.time_left():
                    break
                if wait > 0:
                    await self.nap(wait)
                    continue
                limit = min(batch_size, pace.remaining_today())
                rows = await sync_to_async(claim_rows)(self.campaign.pk, session.pk, self.owner, limit)
                if not rows:
                    if finishers and not all(f.done() for f in finishers):
                        await asyncio.wait(finishers)  # their retries may be due soon
                        continue
                    due = await sync_to_async(_next_due)(self.campaign.pk, session.pk)
                    if due is None or due > self.time_left():
                        break
                    await self.nap(due)
                    continue
                finishers.append(await self._send_batch(session, transport, pace, in_flight, rows))
        finally:
            if finishers:
                await asyncio.gather(*finishers, return_exceptions=True)
            try:
                await transport.disconnect()
            except Exception:  # disconnecting must never mask the slice's outcome
                log.warning("session %s: disconnect failed", session.pk, exc_info=True)

    async def _send_batch(
        self,
        session: TelegramSession,
        transport,
        pace: Pace,
        in_flight: asyncio.Semaphore,
        rows: list[RowWork],
    ) -> asyncio.Task:
        """Start the batch's requests at the session's pace, up to ``max_in_flight()`` at once
        (Telegram multiplexes requests on one connection, so a 300 ms round trip does not cap a
        bot at 3 msg/s), and return a task that records the outcomes when they are all in.
        Returns as soon as the last request has left, so the next batch overlaps this one."""
        marked_ids = await sync_to_async(mark_sending)(
            self.campaign.pk, session.pk, self.owner, [r.id for r in rows]
        )
        if not marked_ids:
            await sync_to_async(release_claims)(self.owner, rows)
            self.stop.set()
            return asyncio.create_task(asyncio.sleep(0))
        rows = [r for r in rows if r.id in marked_ids]
        tasks: list[asyncio.Task] = []
        for row in rows:
            if self.blocked(session, pace):
                break
            wait = pace.wait_for(time.monotonic())
            if wait > 0:
                await self.nap(wait)
                if self.blocked(session, pace):
                    break
            await in_flight.acquire()
            if self.blocked(session, pace):
                in_flight.release()
                break
            task = asyncio.create_task(self._send_one(session, transport, pace, row))
            task.add_done_callback(lambda _t: in_flight.release())
            tasks.append(task)
            await asyncio.sleep(0)  # let the request leave before pacing the next one
        return asyncio.create_task(self._finish_batch(session, rows, tasks))

    async def _finish_batch(
        self, session: TelegramSession, rows: list[RowWork], tasks: list[asyncio.Task]
    ) -> None:
        outcomes: list[Outcome] = list(await asyncio.gather(*tasks)) if tasks else []
        unsent = rows[len(tasks) :]
        await sync_to_async(apply_outcomes)(self.campaign, session, self.owner, outcomes, unsent, len(rows))
        self.report.outcomes += len(outcomes)
        self.report.sent += sum(o.kind in ("sent", "duplicate") for o in outcomes)

    async def _send_one(self, session: TelegramSession, transport, pace: Pace, row: RowWork) -> Outcome:
        """One request; never raises. Marks the session blocked in memory at once on a FloodWait,
        a session or spam-limit error, and stops the slice on a content error."""
        started = timezone.now()
        pace.record(time.monotonic())
        try:
            message = self.build(row.fields)
            result = await transport.send(row.key, message, row.random_id)
        except TransportError as exc:
            if exc.kind == ErrorKind.DUPLICATE:
                return Outcome(row, "duplicate", started, timezone.now())
            if exc.kind == ErrorKind.FLOOD:
                until = timezone.now() + timedelta(seconds=exc.seconds or 0)
                session.flood_wait_until = max(until, session.flood_wait_until or until)
            elif exc.kind in (ErrorKind.SESSION, ErrorKind.SPAM_LIMITED):
                session.status = SessionStatus.DISABLED
            if exc.kind in (ErrorKind.CONTENT, ErrorKind.SPAM_LIMITED):
                self.stop.set()
            return Outcome(row, exc.kind.value, started, timezone.now(), error=exc)
        except Exception as exc:  # a bug must cost a retry, not the slice and its other rows
            log.exception("session %s: unexpected error sending row %s", session.pk, row.id)
            err = TransportError(ErrorKind.TRANSIENT, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
            return Outcome(row, err.kind.value, started, timezone.now(), error=err)
        kind = "duplicate" if result.duplicate else "sent"
        return Outcome(row, kind, started, timezone.now(), message_id=result.message_id)


def _transport_for(session: TelegramSession):
    if session.is_simulated:
        return get_transport(session)
    from sessions_app.peers import DatabasePeerCache

    return get_transport(session, DatabasePeerCache(session))


def _load_pace(campaign: Campaign, session: TelegramSession) -> Pace:
    """The session's pace, seeded with today's count and its latest sends (across processes)."""
    now = timezone.now()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = MessageResult.objects.filter(session=session, sent_at__gte=start)
    pace = Pace(
        delay=max(session.send_delay, campaign.delay_seconds),
        per_minute=session.max_per_minute,
        daily_cap=session.daily_cap,
        sent_today=today.count(),
    )
    recent = today.filter(sent_at__gte=now - timedelta(seconds=60)).order_by("-sent_at")
    mono_now = time.monotonic()
    for sent_at in reversed(list(recent.values_list("sent_at", flat=True)[: max(pace.per_minute, 1)])):
        pace.recent.append(mono_now - (now - sent_at).total_seconds())
    if pace.recent:
        pace.next_at = pace.recent[-1] + pace.delay
    return pace


def _next_due(campaign_id: int, session_id: int) -> float | None:
    """Seconds until the session's next retry-scheduled row is due, None when it has none."""
    due = MessageResult.objects.filter(
        campaign_id=campaign_id, session_id=session_id, status=ResultStatus.PENDING
    ).aggregate(m=Min("next_attempt_at"))["m"]
    if due is None:
        return None
    return max(0.0, (due - timezone.now()).total_seconds())


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
            t = max(t, now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1))
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
    live = live_lease_ids()
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
        if session.pk not in live and try_lease(session, owner):
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
        release_leases(leased_ids, owner)
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
    live = live_lease_ids(now)
    stats: dict[str, int] = {}
    orphan = MessageResult.objects.exclude(session_id__in=live)
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
