"""The send loop's row transitions (claim, mark ``sending``, record outcomes), one guarded
UPDATE each; the batch transitions every caller shares are on
:class:`campaigns.models.results.ResultQuerySet`.

``claimed_by`` names the process (lease owner) allowed to move a row on; every UPDATE checks it
and the expected state, so a row that another process took over is never overwritten.
"""

from __future__ import annotations

import json
import random
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from sessions_app import leases
from sessions_app.models import TelegramSession
from sessions_app.transport import RETRIED_ON_SESSION, ErrorKind, TransportError

from ..models import (
    CODE_DUPLICATE,
    CODE_SUPPRESSED,
    AttemptTally,
    Campaign,
    CampaignStatus,
    DeliveryAttempt,
    MessageResult,
    ResultStatus,
)
from .lookups import suppressed_rows
from .sql import adapt, insert_rows

RETRY_BASE_SECONDS = 2.0
RETRY_CAP_SECONDS = 300.0


def retry_delay(attempt: int) -> float:
    """Seconds before retry number ``attempt`` (1-based) of a transient error: exponential from
    2 s, capped at 300 s, with full jitter so a burst of failures does not retry in lockstep.

    Retries are rows rescheduled in the database (``next_attempt_at``), surviving crashes and
    moving between processes, which call-wrapping retry libraries (tenacity, backoff) do not model.
    """
    return random.uniform(0.5, 1.0) * min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** (attempt - 1))


@dataclass
class RowWork:
    """A claimed row as the send loop needs it."""

    id: int
    key: str
    random_id: int
    attempts: int
    fields: dict
    in_doubt: bool
    recipient_id: int | None = None
    variant: str = ""  # A/B test: the wording this row gets ("" or "A": the message)
    # Taken from the campaign's pool by this claim (not a row pinned to the session).
    pooled: bool = False


_ROW_FIELDS = ("id", "key", "random_id", "attempts", "fields", "in_doubt", "recipient_id", "variant")


def recover_rows(session_ids: list[int]) -> int:
    """Rows of sessions this process has just leased that an earlier holder left ``claimed`` or
    ``sending``: back to ``pending``. A row in doubt keeps its session, random_id and ``in_doubt``
    so it is re-sent from the same account first; the others go back to their campaign's pool.
    Safe because the lease proves their holder is gone."""
    return MessageResult.objects.filter(
        session_id__in=session_ids, status__in=(ResultStatus.CLAIMED, ResultStatus.SENDING)
    ).release()


def claim_rows(
    campaign_id: int,
    session_id: int,
    owner: str,
    limit: int,
    *,
    pinned: bool = True,
    after: int = 0,
    zones: Collection[str] | None = None,
) -> list[RowWork]:
    """Claim up to ``limit`` due ``pending`` rows of a running campaign for one session and mark
    them ``sending`` (committed before any of their requests leaves): first the rows pinned to the
    session (in doubt; skipped when ``pinned`` is False because there are none), then rows from
    the campaign's pool, which are the session's from this moment (late binding). Nothing is
    claimed once the campaign is no longer running, so a pause or cancel committed before this
    stops the batch. PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so sessions claiming at once never
    wait on each other; SQLite: its single writer (IMMEDIATE transactions). Rows whose person is
    suppressed (the key or another identity of the row) become ``skipped`` at this last check. ``RowWork.in_doubt`` is the row's state *before* the
    claim (what to restore if its request never leaves). ``zones``: under a send window, only
    rows of these time zones (those whose window is open now,
    :func:`campaigns.engine.window.open_zones`); None: any row.

    ``after``: a pool row id below which the caller expects no pool rows: the pool is read from
    there, so a claim passes over no row sent before it (PostgreSQL plans the pool's ``ORDER BY id
    LIMIT n`` with launch-time statistics, when every row was pending); with fewer than ``limit``
    above it, the pool is read again from its start (rows returned below ``after`` are found)."""
    now = timezone.now()
    rows: list[RowWork] = []
    if zones is not None and not zones:
        return []
    zones = sorted(zones) if zones is not None else None
    with transaction.atomic():
        if pinned:
            rows = _claim_pinned(campaign_id, session_id, owner, limit, now, zones)
        if len(rows) < limit and after > 0:
            rows += _claim_pool(campaign_id, session_id, owner, limit - len(rows), now, zones, after=after)
        if len(rows) < limit:
            rows += _claim_pool(campaign_id, session_id, owner, limit - len(rows), now, zones)
    if not rows:
        return []
    suppressed = suppressed_rows(rows)  # under the key or another identity of the person
    if suppressed:
        skip_ids = {r.id for r in rows if r.id in suppressed and not r.in_doubt}
        MessageResult.objects.filter(id__in=skip_ids, claimed_by=owner).update(
            status=ResultStatus.SKIPPED,
            error_code=CODE_SUPPRESSED,
            claimed_by="",
            in_doubt=False,
            error_text="opted out after launch (suppression list)",
            updated_at=now,
        )
        rows = [r for r in rows if r.id not in skip_ids]
    return rows


def _sending(owner: str, session_id: int, now: datetime) -> dict:
    return {
        "status": ResultStatus.SENDING,
        "session_id": session_id,
        "claimed_by": owner,
        "in_doubt": True,
        "sending_at": now,
        "claim_expires_at": now + timedelta(seconds=leases.lease_seconds()),
        "updated_at": now,
    }


def _claim_pinned(
    campaign_id: int, session_id: int, owner: str, limit: int, now: datetime, zones: list[str] | None
) -> list[RowWork]:
    """Due rows pinned to the session (rare: retries and rows in doubt after a crash)."""
    due = Q(next_attempt_at=None) | Q(next_attempt_at__lte=now)
    if zones is not None:
        due &= Q(time_zone__in=zones)
    found = list(
        MessageResult.objects.select_for_update(skip_locked=True)
        .filter(due, campaign_id=campaign_id, session_id=session_id, status=ResultStatus.PENDING)
        .order_by("id")
        .values_list(*_ROW_FIELDS)[:limit]
    )
    if not found:
        return []
    ids = [r[0] for r in found]
    MessageResult.objects.filter(
        id__in=ids, status=ResultStatus.PENDING, campaign__status=CampaignStatus.RUNNING
    ).update(**_sending(owner, session_id, now))
    marked = set(MessageResult.objects.filter(id__in=ids, claimed_by=owner).values_list("id", flat=True))
    return [RowWork(*r) for r in found if r[0] in marked]


def _claim_pool(
    campaign_id: int,
    session_id: int,
    owner: str,
    limit: int,
    now: datetime,
    zones: list[str] | None,
    *,
    after: int = 0,
) -> list[RowWork]:
    """``WITH pool AS (SELECT … LIMIT n [FOR UPDATE SKIP LOCKED]) UPDATE … FROM pool … RETURNING``:
    the pool's next rows, in order, taken by the session and marked ``sending`` in one statement.
    The CTE is evaluated once (``MATERIALIZED`` on PostgreSQL, whose planner otherwise re-runs a
    locking subquery for every row it joins). Pool rows are never in doubt (a row in doubt stays
    pinned). ``zones``: only rows of these time zones (a send window)."""
    table = connection.ops.quote_name(MessageResult._meta.db_table)
    campaigns = connection.ops.quote_name(Campaign._meta.db_table)
    postgres = connection.vendor == "postgresql"
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    values = _sending(owner, session_id, now)
    sets = ", ".join(f"{column} = %s" for column in values)
    in_zones = f"AND time_zone IN ({', '.join(['%s'] * len(zones))}) " if zones is not None else ""
    sql = (
        f"WITH pool AS {'MATERIALIZED ' if postgres else ''}("
        f"SELECT id AS picked FROM {table} WHERE campaign_id = %s AND status = %s AND session_id IS NULL "
        f"AND (next_attempt_at IS NULL OR next_attempt_at <= %s) {in_zones}AND id > %s ORDER BY id LIMIT %s{lock}) "
        f"UPDATE {table} SET {sets} FROM pool "
        # Only the join: the CTE's rows are locked (PostgreSQL) or the writer is alone (SQLite), so
        # they are still pending; repeating that here lets the planner pick the wrong index.
        f"WHERE {table}.id = pool.picked "
        f"AND EXISTS (SELECT 1 FROM {campaigns} c WHERE c.id = %s AND c.status = %s) "
        f"RETURNING {table}.id, {table}.key, {table}.random_id, {table}.attempts, {table}.fields, "
        f"{table}.recipient_id, {table}.variant"
    )
    params = [campaign_id, ResultStatus.PENDING, adapt(now), *(zones or []), after, limit]
    params += [adapt(v) for v in values.values()]
    params += [campaign_id, CampaignStatus.RUNNING]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    taken = [RowWork(*row[:4], _decoded(row[4]), False, row[5], row[6] or "", pooled=True) for row in found]
    return sorted(taken, key=lambda r: r.id)


def _decoded(fields: str | dict) -> dict:
    """A JSON column as RETURNING gives it: text on SQLite, already decoded on PostgreSQL."""
    return json.loads(fields) if isinstance(fields, str) else fields


def renew_claims(owner: str) -> int:
    """Extend the claims of ``owner``'s ``sending`` rows along with its leases, so the
    reaper (which only touches rows whose claim expired) never takes a row from a live worker,
    whatever it read about leases a moment before."""
    until = timezone.now() + timedelta(seconds=leases.lease_seconds())
    return MessageResult.objects.filter(
        status__in=(ResultStatus.CLAIMED, ResultStatus.SENDING), claimed_by=owner
    ).update(claim_expires_at=until)


def release_claims(owner: str, rows: list[RowWork]) -> None:
    """Rows claimed or marked ``sending`` by ``owner`` whose requests never left: back to
    ``pending`` with their previous ``in_doubt`` (so to the pool, unless they were in doubt)."""
    for doubt in (True, False):
        ids = [r.id for r in rows if r.in_doubt == doubt]
        if ids:
            mine = MessageResult.objects.filter(
                id__in=ids, claimed_by=owner, status__in=(ResultStatus.CLAIMED, ResultStatus.SENDING)
            )
            mine.requeue(in_doubt=True) if doubt else mine.requeue(in_doubt=False, session=None)


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
    requested: bool = True  # False: nothing left for Telegram (the text was refused locally)
    peer_id: int | None = None
    previous_peer_id: int | None = None


def apply_outcomes(
    campaign: Campaign,
    session: TelegramSession,
    owner: str,
    outcomes: list[Outcome],
    unsent: list[RowWork],
) -> None:
    """Write a batch's outcomes in one transaction: rows, DeliveryAttempts, the session's load,
    and the rows whose requests never left back to the queue. The effects of errors on the session
    and the campaign are :func:`campaigns.engine.effects.apply_error_effects`."""
    now = timezone.now()
    attempts: list[tuple] = []
    mine = MessageResult.objects.filter(claimed_by=owner, status=ResultStatus.SENDING)
    with transaction.atomic():
        sent = [o for o in outcomes if o.kind in ("sent", "duplicate")]
        if sent:
            _mark_sent(owner, sent, now)
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
            elif o.kind == ErrorKind.SUPPRESSED:
                # Nothing left: the key resolved to a user who opted out, or another row reached.
                code = err.code if (same := err.code == CODE_DUPLICATE) else CODE_SUPPRESSED
                fields.update(status=ResultStatus.SKIPPED, error_code=code, in_doubt=o.row.in_doubt)
                outcome = DeliveryAttempt.Outcome.SAME_PERSON if same else DeliveryAttempt.Outcome.SUPPRESSED
            elif o.kind in RETRIED_ON_SESSION:
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
                # it did not arrive; the row goes back to the pool and no attempt is counted. A row
                # that was already in doubt (re-sent after a crash) stays pinned to its session.
                fields.update(status=ResultStatus.PENDING, in_doubt=o.row.in_doubt)
                if not o.row.in_doubt:
                    fields["session"] = None
                outcome = {
                    ErrorKind.FLOOD: DeliveryAttempt.Outcome.FLOOD,
                    ErrorKind.SESSION: DeliveryAttempt.Outcome.SESSION,
                    ErrorKind.SPAM_LIMITED: DeliveryAttempt.Outcome.SPAM_LIMITED,
                    ErrorKind.CONTENT: DeliveryAttempt.Outcome.CONTENT,
                }[ErrorKind(o.kind)]
            mine.filter(id=o.row.id).update(**fields)
            attempts.append(_attempt(o, session, outcome))
        insert_rows(DeliveryAttempt, ATTEMPT_COLUMNS, attempts)
        _tally_attempts(campaign.pk, session.pk, outcomes)
        if unsent:
            release_claims(owner, unsent)


def _tally_attempts(campaign_id: int, session_id: int, outcomes: list[Outcome]) -> None:
    """One :class:`AttemptTally` delta row for a batch's requests."""
    requested = [o for o in outcomes if o.requested]
    if not requested:
        return
    AttemptTally.objects.create(
        campaign_id=campaign_id,
        session_id=session_id,
        requests=len(requested),
        sent=sum(o.kind in ("sent", "duplicate") for o in requested),
        retries=sum(o.kind == ErrorKind.TRANSIENT for o in requested),
        floods=sum(o.kind == ErrorKind.FLOOD for o in requested),
        latency_ms=round(sum((o.finished_at - o.started_at).total_seconds() for o in requested) * 1000),
        first_started_at=min(o.started_at for o in requested),
        last_finished_at=max(o.finished_at for o in requested),
    )
    TelegramSession.objects.filter(pk=session_id).count_requests(len(requested))


def _mark_sent(owner: str, sent: list[Outcome], now: datetime) -> int:
    """``sending → sent`` for a batch's delivered rows in one statement, each with its Telegram
    message id and the peer it went to: ``UPDATE … FROM (VALUES …)``, portable between PostgreSQL
    and SQLite ≥ 3.33, instead of Django's ``Case(When…)`` per row, whose expression resolution
    cost more than the sends it recorded."""
    table = MessageResult._meta.db_table
    values = ", ".join(
        ["(CAST(%s AS BIGINT), CAST(%s AS BIGINT), CAST(%s AS BIGINT), CAST(%s AS BIGINT))"] * len(sent)
    )
    sql = (
        f"UPDATE {table} SET status = %s, sent_at = %s, attempts = attempts + 1, in_doubt = %s, "
        f"error_code = '', error_text = '', claimed_by = '', updated_at = %s, "
        f"telegram_message_id = v.column2, peer_id = COALESCE(v.column3, {table}.peer_id), "
        f"previous_peer_id = v.column4 "
        f"FROM (VALUES {values}) AS v WHERE {table}.id = v.column1 AND claimed_by = %s AND status = %s"
    )
    params: list = [ResultStatus.SENT, now, False, now]
    for o in sent:
        params += [o.row.id, o.message_id, o.peer_id, o.previous_peer_id]
    params += [owner, ResultStatus.SENDING]
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
    "requested",
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
        o.requested,
    )
