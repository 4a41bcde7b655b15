"""Claiming: a session takes rows to send. Rows are taken from the campaign's pool (or pinned
to the session) and marked ``sending`` in one guarded UPDATE, committed before any request leaves;
claims are renewed with the session's lease, released when a request never left, and recovered
when a process that held them is gone. What a request did is written by :mod:`.settling`.

``claimed_by`` names the process (lease owner) allowed to move a row on; every UPDATE checks it
and the expected state, so a row that another process took over is never overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, Q
from django.db.models.functions import Now

from sessions_app import clock, leases
from tgcampaigns import counters

from ..models import (
    CODE_SUPPRESSED,
    Campaign,
    CampaignStatus,
    MessageResult,
    ResultStatus,
)
from ..models.results import Answered
from .lookups import suppressed_rows
from .sql import adapt


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
    recovered = MessageResult.objects.filter(
        session_id__in=session_ids, status__in=(ResultStatus.CLAIMED, ResultStatus.SENDING)
    ).release()
    counters.CLAIM_TAKEOVERS.inc(recovered)
    return recovered


@dataclass(frozen=True)
class ClaimRequest:
    """One session's claim, as :func:`claim_many` takes it (the arguments of :func:`claim_rows`;
    ``zones`` sorted, or None for any row)."""

    campaign_id: int
    session_id: int
    limit: int
    pinned: bool = True
    after: int = 0
    zones: tuple[str, ...] | None = None


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
    suppressed (the key or another identity of the row) become ``skipped`` at this last check.
    ``RowWork.in_doubt`` is the row's state *before* the claim (what to restore if its request
    never leaves). ``zones``: under a send window, only rows of these time zones (those whose
    window is open now, :func:`campaigns.engine.window.open_zones`); None: any row.

    ``after``: a pool row id below which the caller expects no pool rows: the pool is read from
    there, so a claim passes over no row sent before it (PostgreSQL plans the pool's ``ORDER BY id
    LIMIT n`` with launch-time statistics, when every row was pending); with fewer than ``limit``
    above it, the pool is read again from its start (rows returned below ``after`` are found)."""
    request = ClaimRequest(
        campaign_id, session_id, limit, pinned, after, None if zones is None else tuple(sorted(zones))
    )
    return claim_many(owner, [request])[0]


def claim_many(owner: str, requests: list[ClaimRequest]) -> list[list[RowWork]]:
    """:func:`claim_rows` for many sessions in one transaction (one list of rows per request, in
    order): the pinned rows of each session that has some, then the pool rows of each campaign for
    all its sessions in one statement (:func:`_claim_pool`), then one suppression check for all.
    A slice's sessions claim through this together (:class:`campaigns.engine.coalesce.Coalescer`):
    500 sessions at 1 msg/s cost a few statements a second, not 500 transactions."""
    now = clock.now()
    got: list[list[RowWork]] = [[] for _ in requests]
    open_requests = [(i, r) for i, r in enumerate(requests) if r.limit > 0 and r.zones != ()]
    with transaction.atomic():
        for i, r in open_requests:
            if r.pinned:
                got[i] = _claim_pinned(r.campaign_id, r.session_id, owner, r.limit, now, r.zones)
        for (campaign_id, zones, _round), members in _pool_groups(open_requests).items():
            after = min(requests[i].after for i in members)
            for start in (after, 0) if after > 0 else (0,):
                slots = [(requests[i].session_id, requests[i].limit - len(got[i])) for i in members]
                slots = [(sid, n) for sid, n in slots if n > 0]
                if slots:
                    found = _claim_pool(campaign_id, slots, owner, now, zones, after=start)
                    for i in members:
                        got[i] += found.get(requests[i].session_id, [])
    rows = [r for batch in got for r in batch]
    if not rows:
        return got
    suppressed = suppressed_rows(rows)  # under the key or another identity of the person
    if suppressed:
        skip_ids = {r.id for r in rows if r.id in suppressed and not r.in_doubt}
        why = "opted out after launch (suppression list)"
        MessageResult.objects.filter(claimed_by=owner).skip(
            [Answered(pk, CODE_SUPPRESSED, why, in_doubt=False) for pk in skip_ids]
        )
        got = [[r for r in batch if r.id not in skip_ids] for batch in got]
    return got


def _pool_groups(
    requests: list[tuple[int, ClaimRequest]],
) -> dict[tuple[int, tuple[str, ...] | None, int], list[int]]:
    """Request indexes by (campaign, zones, round): one pool statement per group, each session at
    most once in a group (its rows are told apart by their session)."""
    groups: dict[tuple[int, tuple[str, ...] | None, int], list[int]] = {}
    seen: dict[tuple[int, tuple[str, ...] | None, int], int] = {}
    for i, r in requests:
        rounds = seen.get((r.campaign_id, r.zones, r.session_id), 0)
        seen[(r.campaign_id, r.zones, r.session_id)] = rounds + 1
        groups.setdefault((r.campaign_id, r.zones, rounds), []).append(i)
    return groups


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
    campaign_id: int,
    session_id: int,
    owner: str,
    limit: int,
    now: datetime,
    zones: Collection[str] | None,
) -> list[RowWork]:
    """Due rows pinned to the session (rare: retries and rows in doubt after a crash)."""
    due = Q(next_attempt_at=None) | Q(next_attempt_at__lte=now)
    if zones is not None:
        due &= Q(time_zone__in=list(zones))
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
    slots: list[tuple[int, int]],
    owner: str,
    now: datetime,
    zones: Collection[str] | None,
    *,
    after: int = 0,
) -> dict[int, list[RowWork]]:
    """The pool's next rows, in order, taken by sessions and marked ``sending`` in one statement:
    ``slots`` are (session id, rows wanted); the first session gets the first rows, and so on.
    ``WITH pool AS (SELECT … LIMIT n [FOR UPDATE SKIP LOCKED]), numbered AS (… row_number() …)
    UPDATE … FROM numbered JOIN slots … RETURNING``. The CTEs are evaluated once
    (``MATERIALIZED`` on PostgreSQL, whose planner otherwise re-runs a locking subquery for every
    row it joins). Pool rows are never in doubt (a row in doubt stays pinned). ``zones``: only rows
    of these time zones (a send window). Returns session id → its rows, by id."""
    table = connection.ops.quote_name(MessageResult._meta.db_table)
    campaigns = connection.ops.quote_name(Campaign._meta.db_table)
    postgres = connection.vendor == "postgresql"
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    materialized = "MATERIALIZED " if postgres else ""
    values = _sending(owner, 0, now)
    del values["session_id"]  # each row's from its slot
    sets = ", ".join(f"{column} = %s" for column in values)
    in_zones = f"AND time_zone IN ({', '.join(['%s'] * len(zones))}) " if zones is not None else ""
    bounds, total = [], 0
    for sid, n in slots:
        bounds += [total + 1, total + n, sid]
        total += n
    slot_rows = ", ".join(["(CAST(%s AS BIGINT), CAST(%s AS BIGINT), CAST(%s AS BIGINT))"] * len(slots))
    sql = (
        f"WITH pool AS {materialized}("
        f"SELECT id AS picked FROM {table} WHERE campaign_id = %s AND status = %s AND session_id IS NULL "
        f"AND (next_attempt_at IS NULL OR next_attempt_at <= %s) {in_zones}AND id > %s ORDER BY id LIMIT %s{lock}), "
        f"numbered AS {materialized}(SELECT picked, row_number() OVER (ORDER BY picked) AS n FROM pool), "
        f"slots (lo, hi, sid) AS (VALUES {slot_rows}) "
        f"UPDATE {table} SET {sets}, session_id = slots.sid FROM numbered JOIN slots "
        f"ON numbered.n BETWEEN slots.lo AND slots.hi "
        # Only the join: the CTE's rows are locked (PostgreSQL) or the writer is alone (SQLite), so
        # they are still pending; repeating that here lets the planner pick the wrong index.
        f"WHERE {table}.id = numbered.picked "
        f"AND EXISTS (SELECT 1 FROM {campaigns} c WHERE c.id = %s AND c.status = %s) "
        f"RETURNING {table}.id, {table}.key, {table}.random_id, {table}.attempts, {table}.fields, "
        f"{table}.recipient_id, {table}.variant, {table}.session_id"
    )
    params = [campaign_id, ResultStatus.PENDING, adapt(now), *(zones or []), after, total, *bounds]
    params += [adapt(v) for v in values.values()]
    params += [campaign_id, CampaignStatus.RUNNING]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    taken: dict[int, list[RowWork]] = {}
    for row in sorted(found):
        work = RowWork(*row[:4], _decoded(row[4]), False, row[5], row[6] or "", pooled=True)
        taken.setdefault(row[7], []).append(work)
    return taken


def _decoded(fields: str | dict) -> dict:
    """A JSON column as RETURNING gives it: text on SQLite, already decoded on PostgreSQL."""
    return json.loads(fields) if isinstance(fields, str) else fields


def renew_claims(owner: str) -> int:
    """Extend the claims of ``owner``'s ``sending`` rows along with its leases, so the
    reaper (which only touches rows whose claim expired) never takes a row from a live worker,
    whatever it read about leases a moment before."""
    until = ExpressionWrapper(Now() + timedelta(seconds=leases.lease_seconds()), output_field=DateTimeField())
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
