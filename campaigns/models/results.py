"""One result per recipient of a campaign, its row transitions, and its delivery attempts.

``pending → claimed → sending → sent | failed`` (plus ``skipped``, ``cancelled``, ``unknown``).
Batch transitions are :class:`ResultQuerySet` methods, one guarded UPDATE each, so every call
site says *what* happens to the rows (``requeue()``, ``mark_unknown(reason)``) and the UPDATE is
written once. The engine's hot paths (claim, mark sending, record outcomes) live in
:mod:`campaigns.engine.rows`.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from django.db import models
from django.utils import timezone

from sessions_app.models import TelegramSession

from .lists import Recipient, RecipientKind

# Error codes for rows the engine itself settles (Telegram's own codes are used for the rest).
CODE_INVALID = "INVALID_RECIPIENT"
CODE_DUPLICATE = "DUPLICATE_RECIPIENT"
CODE_SUPPRESSED = "SUPPRESSED"
CODE_CANCELLED = "CANCELLED"
CODE_UNKNOWN = "OUTCOME_UNKNOWN"


class ResultStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CLAIMED = "claimed", "Claimed"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"
    UNKNOWN = "unknown", "Unknown (needs review)"


OPEN_STATUSES = (ResultStatus.PENDING, ResultStatus.CLAIMED, ResultStatus.SENDING)
# Rows no request of which has left yet: these may be cancelled or moved to another session.
UNSENT_STATUSES = (ResultStatus.PENDING, ResultStatus.CLAIMED)


def new_random_id() -> int:
    """A signed 64-bit MTProto ``random_id`` (messages.sendMessage takes a long)."""
    return int.from_bytes(secrets.token_bytes(8), "big", signed=True)


class ResultQuerySet(models.QuerySet):
    """Row transitions over a selection of results. Each is one UPDATE and returns the number
    of rows it changed; callers narrow the selection (status, owner) first, which is what makes
    the UPDATE a compare-and-set."""

    def open(self) -> ResultQuerySet:
        """Rows not settled yet: pending, claimed or sending."""
        return self.filter(status__in=OPEN_STATUSES)

    def requeue(self, **changes) -> int:
        """Back to ``pending`` with no owner: the rows wait for a session's next claim. ``changes``
        are further columns to set (a new ``session_id``, ``in_doubt``, reset attempts).
        ``in_doubt`` is kept unless changed, so a row that may have arrived stays on its session."""
        return self.update(status=ResultStatus.PENDING, claimed_by="", updated_at=timezone.now(), **changes)

    def release(self) -> int:
        """Back to ``pending`` for another try: rows not in doubt return to the campaign's pool
        (no session: whichever session is ready takes them), rows in doubt stay on their session
        (only it can re-send them with the same random_id safely)."""
        return self.filter(in_doubt=False).requeue(session=None) + self.filter(in_doubt=True).requeue()

    def reopen(self, **changes) -> int:
        """Staff's retry: back to ``pending`` as if never tried (attempts, error and retry time
        cleared)."""
        return self.requeue(attempts=0, error_code="", error_text="", next_attempt_at=None, **changes)

    def mark_unknown(self, reason: str) -> int:
        """``unknown``: the request may have reached Telegram and no session can re-send it
        safely (same account, same random_id). Re-sent only by the explicit *Resend unknown*."""
        return self.update(
            status=ResultStatus.UNKNOWN,
            error_code=CODE_UNKNOWN,
            error_text=reason,
            claimed_by="",
            updated_at=timezone.now(),
        )

    def cancel_open(self) -> int:
        """Rows whose request has not left (pending, claimed) become ``cancelled``; rows in
        flight finish and are recorded."""
        return self.filter(status__in=UNSENT_STATUSES).update(
            status=ResultStatus.CANCELLED,
            error_code=CODE_CANCELLED,
            error_text="campaign cancelled",
            claimed_by="",
            updated_at=timezone.now(),
        )

    def sent_since(self, start: datetime) -> ResultQuerySet:
        """Rows sent at or after ``start`` (what staff see as "sent today"; the pace counts
        requests instead: :meth:`DeliveryAttemptQuerySet.requests_since`)."""
        return self.filter(status=ResultStatus.SENT, sent_at__gte=start)


class MessageResult(models.Model):
    """The one row per recipient of a campaign: its state, session, outcome and attempts.

    ``dedupe_key`` equals ``key`` for every deliverable (and suppressed) recipient and is NULL for
    invalid and duplicate rows, so the unique constraint holds one deliverable row per key while
    still keeping a ``skipped`` row for every bad input line. ``random_id`` is fixed at creation and
    reused on every resend, so Telegram de-duplicates a resend from the same account.
    """

    campaign = models.ForeignKey("Campaign", on_delete=models.CASCADE, related_name="results")
    recipient = models.ForeignKey(
        Recipient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    key = models.CharField(max_length=64, blank=True)
    dedupe_key = models.CharField(max_length=64, null=True, blank=True)
    kind = models.CharField(max_length=10, choices=RecipientKind.choices, blank=True)
    fields = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=ResultStatus.choices, default=ResultStatus.PENDING)
    # The session that took the row. A pending row belongs to no session (late binding: whichever
    # session is ready claims it) unless it is ``in_doubt``, when it stays pinned to its session.
    session = models.ForeignKey(
        TelegramSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="results"
    )
    random_id = models.BigIntegerField(default=new_random_id)
    # The Telegram user the key resolved to when sent, and the one it resolved to before when a
    # username changed hands (the peer cache expired and a new look-up found another account).
    peer_id = models.BigIntegerField(null=True, blank=True)
    previous_peer_id = models.BigIntegerField(null=True, blank=True)
    telegram_message_id = models.BigIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=100, blank=True, db_index=True)
    error_text = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # True once the request may have reached Telegram (marked ``sending``, or a transient error such
    # as a timeout): from then on the row is only ever re-sent from the same session with the same
    # random_id, so Telegram de-duplicates it; if that session is gone the row becomes ``unknown``.
    in_doubt = models.BooleanField(default=False)
    claimed_by = models.CharField(max_length=120, blank=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ResultQuerySet.as_manager()

    class Meta:
        app_label = "campaigns"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "dedupe_key"], name="one_result_per_recipient"),
        ]
        indexes = [
            # A session's own rows of one campaign: pinned rows first in a claim, per-session counts.
            models.Index(fields=["campaign", "session", "status"], name="result_claim_idx"),
            # The campaign's pool: pending rows no session holds, in order (late binding's claim).
            models.Index(
                fields=["campaign", "id"],
                name="result_pool_idx",
                condition=models.Q(status="pending", session__isnull=True),
            ),
            models.Index(fields=["status", "claim_expires_at"], name="result_reaper_idx"),
            models.Index(fields=["session", "sent_at"], name="result_sent_today_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.key or '(no key)'}: {self.status}"


class DeliveryAttemptQuerySet(models.QuerySet):
    def requests_since(self, start: datetime) -> DeliveryAttemptQuerySet:
        """Requests that reached Telegram at or after ``start``, whatever their outcome (a
        FloodWait or a refused recipient counts: Telegram counts requests, not deliveries). The
        per-minute ceiling and the daily cap count these, per session, across slices and processes."""
        return self.filter(requested=True, started_at__gte=start)


class DeliveryAttempt(models.Model):
    """One request to Telegram for one row: session, start/end, outcome, error."""

    class Outcome(models.TextChoices):
        SENT = "sent"
        DUPLICATE = "duplicate", "Already delivered (RANDOM_ID_DUPLICATE)"
        RETRY = "retry", "Transient error, retried"
        FAILED = "failed"
        FLOOD = "flood", "FloodWait"
        SESSION = "session", "Session error"
        SPAM_LIMITED = "spam_limited", "Spam-limited"
        CONTENT = "content", "Content refused"
        SUPPRESSED = "suppressed", "Not sent: resolved to a person who opted out"

    result = models.ForeignKey(MessageResult, on_delete=models.CASCADE, related_name="delivery_attempts")
    session = models.ForeignKey(TelegramSession, null=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    error_code = models.CharField(max_length=100, blank=True)
    error_text = models.TextField(blank=True)
    # False when nothing left for Telegram (the personalised text was refused locally): Telegram's
    # per-minute and daily limits count only requests that reached it.
    requested = models.BooleanField(default=True)

    objects = DeliveryAttemptQuerySet.as_manager()

    class Meta:
        app_label = "campaigns"
        ordering = ["started_at"]
        indexes = [
            # The pace's memory across slices and processes: a session's requests since a time.
            models.Index(fields=["session", "started_at"], name="attempt_session_time_idx"),
        ]


class ResultTallyQuerySet(models.QuerySet):
    def for_campaign(self, campaign_id: int) -> dict[tuple[int | None, str], int]:
        """(session id or None, status) → rows of the campaign, from the maintained tally."""
        rows = (
            self.filter(campaign_id=campaign_id)
            .values_list("session_id", "status")
            .annotate(total=models.Sum("n"))
            .order_by()
        )
        return {(sid or None, status): total for sid, status, total in rows if total}

    def by_status(self, campaign_id: int) -> dict[str, int]:
        """Status → rows of the campaign (statuses with no row left out)."""
        rows = (
            self.filter(campaign_id=campaign_id)
            .values_list("status")
            .annotate(total=models.Sum("n"))
            .order_by()
        )
        return {status: total for status, total in rows if total}

    def compact(self, campaign_id: int) -> None:
        """Fold the campaign's tally deltas into one row per (session, status) (PostgreSQL writes
        one delta row per statement; SQLite keeps one row per key already)."""
        from django.db import connection, transaction

        if connection.vendor != "postgresql":
            return
        table = self.model._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"WITH gone AS (DELETE FROM {table} WHERE campaign_id = %s "
                f"RETURNING session_id, status, n) "
                f"INSERT INTO {table} (campaign_id, session_id, status, n) "
                f"SELECT %s, session_id, status, SUM(n) FROM gone GROUP BY session_id, status "
                f"HAVING SUM(n) <> 0",
                [campaign_id, campaign_id],
            )


class ResultTally(models.Model):
    """How many of a campaign's results are in each status, per session (0: none), maintained by
    database triggers on every INSERT, UPDATE and DELETE of results (migration 0004), so pages and
    the progress JSON never COUNT a million rows. On PostgreSQL each statement adds one delta row
    per (session, status) it changed — no lock is taken, so concurrent workers never wait on it —
    and :meth:`ResultTallyQuerySet.compact` folds them; on SQLite (one writer) each key is one row.
    Plain integer ids, not foreign keys: the rows of a deleted campaign go with the reaper."""

    campaign_id = models.BigIntegerField()
    session_id = models.BigIntegerField(default=0)
    status = models.CharField(max_length=10)
    n = models.BigIntegerField(default=0)

    objects = ResultTallyQuerySet.as_manager()

    class Meta:
        app_label = "campaigns"
        indexes = [models.Index(fields=["campaign_id", "session_id", "status"], name="tally_key_idx")]


class AttemptTally(models.Model):
    """Requests of a campaign per session: one delta row per recorded batch (written with the
    batch's DeliveryAttempts in the same transaction, by :func:`campaigns.engine.rows.apply_outcomes`,
    their only writer), so the progress block's metrics never scan the attempt log. Folded per
    session by :meth:`AttemptTallyQuerySet.compact`."""

    campaign_id = models.BigIntegerField()
    session_id = models.BigIntegerField(default=0)
    requests = models.IntegerField(default=0)
    sent = models.IntegerField(default=0)
    retries = models.IntegerField(default=0)
    floods = models.IntegerField(default=0)
    latency_ms = models.BigIntegerField(default=0)  # sum over the requests, milliseconds
    first_started_at = models.DateTimeField(null=True)
    last_finished_at = models.DateTimeField(null=True)

    objects = models.Manager()

    class Meta:
        app_label = "campaigns"
        indexes = [models.Index(fields=["campaign_id", "session_id"], name="attempt_tally_idx")]

    @classmethod
    def per_session(cls, campaign_id: int) -> list[dict]:
        """Per session id: requests, sent, retries, floods, latency_ms (sum), first_started_at,
        last_finished_at."""
        return list(
            cls.objects.filter(campaign_id=campaign_id)
            .values("session_id")
            .annotate(
                requests_=models.Sum("requests"),
                sent_=models.Sum("sent"),
                retries_=models.Sum("retries"),
                floods_=models.Sum("floods"),
                latency_=models.Sum("latency_ms"),
                first_=models.Min("first_started_at"),
                last_=models.Max("last_finished_at"),
            )
            .order_by("session_id")
        )

    @classmethod
    def compact(cls, campaign_id: int) -> None:
        """Fold the campaign's delta rows into one row per session."""
        from django.db import transaction

        with transaction.atomic():
            rows = cls.per_session(campaign_id)
            cls.objects.filter(campaign_id=campaign_id).delete()
            cls.objects.bulk_create(
                cls(
                    campaign_id=campaign_id,
                    session_id=r["session_id"],
                    requests=r["requests_"],
                    sent=r["sent_"],
                    retries=r["retries_"],
                    floods=r["floods_"],
                    latency_ms=r["latency_"],
                    first_started_at=r["first_"],
                    last_finished_at=r["last_"],
                )
                for r in rows
            )
