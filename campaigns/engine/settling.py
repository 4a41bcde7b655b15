"""Settling: what a batch's requests did, written in one transaction. Each row takes the
transition :data:`.outcomes.POLICY` gives its answer (one UPDATE per transition for the batch, a
:class:`~campaigns.models.results.ResultQuerySet` method each), each request gets a
:class:`DeliveryAttempt`, the session's :class:`AttemptTally` a delta row, and the rows whose
requests never left are released. What an error does to the session and the campaign is
:func:`.effects.apply_error_effects`; taking rows to send is :mod:`.claiming`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction

from sessions_app import clock
from sessions_app.models import TelegramSession

from ..models import (
    CODE_DUPLICATE,
    CODE_SUPPRESSED,
    AttemptTally,
    Campaign,
    DeliveryAttempt,
    MessageResult,
    ResultStatus,
)
from ..models.results import Answered
from .claiming import RowWork, release_claims
from .outcomes import Outcome, OutcomeKind, Transition, settle_as
from .sql import insert_rows

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
class Batch:
    """One session's settled batch of one campaign, as :func:`apply_batches` takes it: the
    outcomes of its requests and the rows whose requests never left (``unsent``)."""

    campaign: Campaign
    session: TelegramSession
    outcomes: list[Outcome]
    unsent: list[RowWork]


def apply_outcomes(
    campaign: Campaign,
    session: TelegramSession,
    owner: str,
    outcomes: list[Outcome],
    unsent: list[RowWork],
) -> None:
    """Write a batch's outcomes in one transaction: each row's transition (:func:`.outcomes.settle_as`),
    a DeliveryAttempt per request, the session's tally, and the rows whose requests never left
    (``unsent``) back to the queue. Only rows ``owner`` still holds ``sending`` are moved."""
    apply_batches(owner, [Batch(campaign, session, outcomes, unsent)])


def apply_batches(owner: str, batches: list[Batch]) -> list[None]:
    """:func:`apply_outcomes` for the batches of many sessions (and campaigns) in one transaction,
    one statement per transition for all of them: a slice's sessions settle through this together
    (:class:`campaigns.engine.coalesce.Coalescer`). Returns one None per batch (all or none are
    written: an error leaves every row ``sending``, for the reaper)."""
    now = clock.now()
    settled: dict[Transition, list[Outcome]] = defaultdict(list)
    attempts: list[tuple] = []
    for batch in batches:
        for o in batch.outcomes:
            transition, attempt = settle_as(o, batch.campaign.held("max_attempts"))
            settled[transition].append(o)
            attempts.append(_attempt(o, batch.session, attempt))
    answered = {
        t: [_answered(o, t, now) for o in settled[t]] for t in Transition if t is not Transition.MARK_SENT
    }
    unsent = [row for batch in batches for row in batch.unsent]
    mine = MessageResult.objects.filter(claimed_by=owner, status=ResultStatus.SENDING)
    with transaction.atomic():
        if settled[Transition.MARK_SENT]:
            _mark_sent(owner, settled[Transition.MARK_SENT], now)
        mine.fail(answered[Transition.FAIL])
        mine.skip(answered[Transition.SKIP])
        mine.retry_at(answered[Transition.RETRY])
        mine.back_to_pool(answered[Transition.BACK_TO_POOL])
        insert_rows(DeliveryAttempt, ATTEMPT_COLUMNS, attempts)
        _tally_attempts(batches)
        if unsent:
            release_claims(owner, unsent)
    return [None] * len(batches)


def _answered(o: Outcome, transition: Transition, now: datetime) -> Answered:
    """An unsuccessful request's row as its transition writes it. A skipped row keeps the code
    that says why nothing was sent (opted out, or another row reached the person)."""
    err = o.error
    assert err is not None  # only delivered outcomes carry none
    code = err.code
    if o.kind is OutcomeKind.SUPPRESSED and code != CODE_DUPLICATE:
        code = CODE_SUPPRESSED
    due = now + timedelta(seconds=retry_delay(o.row.attempts + 1)) if transition is Transition.RETRY else None
    return Answered(o.row.id, code, err.text, o.in_doubt_after(), due)


def _tally_attempts(batches: list[Batch]) -> None:
    """One :class:`AttemptTally` delta row per campaign and session for the batches' requests,
    and the sessions' daily request counters (one UPDATE per distinct count)."""
    requested: dict[tuple[int, int], list[Outcome]] = defaultdict(list)
    for batch in batches:
        requested[(batch.campaign.pk, batch.session.pk)] += [o for o in batch.outcomes if o.requested]
    tallies, per_session = [], defaultdict(int)
    for (campaign_id, session_id), done in requested.items():
        if not done:
            continue
        per_session[session_id] += len(done)
        tallies.append(
            (
                campaign_id,
                session_id,
                len(done),
                sum(o.kind.delivered for o in done),
                sum(o.kind is OutcomeKind.TRANSIENT for o in done),
                sum(o.kind is OutcomeKind.FLOOD for o in done),
                round(sum((o.finished_at - o.started_at).total_seconds() for o in done) * 1000),
                min(o.started_at for o in done),
                max(o.finished_at for o in done),
                False,
            )
        )
    insert_rows(AttemptTally, TALLY_COLUMNS, tallies)
    by_count: dict[int, list[int]] = defaultdict(list)
    for session_id, n in per_session.items():
        by_count[n].append(session_id)
    for n, session_ids in by_count.items():
        TelegramSession.objects.filter(pk__in=session_ids).count_requests(n)


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


TALLY_COLUMNS = (
    "campaign_id",
    "session_id",
    "requests",
    "sent",
    "retries",
    "floods",
    "latency_ms",
    "first_started_at",
    "last_finished_at",
    "folded",
)
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
