"""One result per recipient of a campaign, its row transitions, and its delivery attempts.

``pending → claimed → sending → sent | failed`` (plus ``skipped``, ``cancelled``, ``unknown``).
Batch transitions are :class:`ResultQuerySet` methods, one guarded UPDATE each, so every call
site says *what* happens to the rows (``requeue()``, ``mark_unknown(reason)``, ``fail(rows)``) and
the UPDATE is written once. The engine's hot paths live in :mod:`campaigns.engine.claiming`
(claim, mark sending) and :mod:`campaigns.engine.settling` (record outcomes), which of these
transitions an answer takes in :mod:`campaigns.engine.outcomes`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Case, F, Value, When
from django.utils import timezone

from sessions_app.models import TelegramSession

from .lists import Recipient, RecipientKind

# Error codes for rows the engine itself settles (Telegram's own codes are used for the rest).
CODE_INVALID = "INVALID_RECIPIENT"
# A row the list's own consent or opt-out column refused at import (lists.NO_CONSENT_PREFIXES):
# stored invalid like a malformed row, but skipped for want of consent, not for a bad identity.
CODE_NO_CONSENT = "NO_CONSENT"
CODE_DUPLICATE = "DUPLICATE_RECIPIENT"
CODE_SUPPRESSED = "SUPPRESSED"
CODE_CANCELLED = "CANCELLED"
CODE_UNKNOWN = "OUTCOME_UNKNOWN"


class ResultStatus(models.TextChoices):
    # Labels in staff's words ("waiting", not the engine's "claimed"); the values are the engine's.
    PENDING = "pending", "Waiting"
    CLAIMED = "claimed", "Waiting (taken by a session)"
    SENDING = "sending", "Sending now"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"
    UNKNOWN = "unknown", "Unknown (needs review)"
    # An A/B test's hold-out ("send the winner later"): not sent until staff choose the winner.
    HELD = "held", "Held for the winning variant"


OPEN_STATUSES = (ResultStatus.PENDING, ResultStatus.CLAIMED, ResultStatus.SENDING)
# Rows no request of which has left yet: these may be cancelled or moved to another session (an
# A/B test's held rows too: cancelling a campaign cancels its hold-out).
UNSENT_STATUSES = (ResultStatus.PENDING, ResultStatus.CLAIMED, ResultStatus.HELD)


def new_random_id() -> int:
    """A signed 64-bit MTProto ``random_id`` (messages.sendMessage takes a long)."""
    return int.from_bytes(secrets.token_bytes(8), "big", signed=True)


@dataclass(frozen=True)
class Answered:
    """A row as a settling transition writes it: the error ``code`` and ``text`` it keeps, its
    ``in_doubt`` afterwards and, for :meth:`ResultQuerySet.retry_at`, when it is due again."""

    id: int
    code: str
    text: str
    in_doubt: bool
    due_at: datetime | None = None


def _per_row(rows: Sequence[Answered], attr: str, column: str) -> Any:
    """The value of ``attr`` to set on ``column``: plain when the rows agree (the common case: one
    error for a batch), else ``CASE WHEN id = … THEN …`` (still one UPDATE for the rows)."""
    values = {r.id: getattr(r, attr) for r in rows}
    distinct = set(values.values())
    if len(distinct) == 1:
        return distinct.pop()
    field = MessageResult._meta.get_field(column)
    cases = (When(id=pk, then=Value(v, output_field=field)) for pk, v in values.items())
    return Case(*cases, output_field=field)


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

    # Settling a batch's answers (campaigns.engine.settling): one UPDATE per transition, for rows
    # the caller holds (``claimed_by`` and ``sending``); each returns the rows it changed.
    def _answer(self, rows: Sequence[Answered], status: str, **changes) -> int:
        if not rows:
            return 0
        return self.filter(id__in=[r.id for r in rows]).update(
            status=status,
            error_code=_per_row(rows, "code", "error_code"),
            error_text=_per_row(rows, "text", "error_text"),
            in_doubt=_per_row(rows, "in_doubt", "in_doubt"),
            claimed_by="",
            updated_at=timezone.now(),
            **changes,
        )

    def fail(self, rows: Sequence[Answered]) -> int:
        """``failed``, an attempt counted: the recipient cannot get it, or its retries are spent."""
        return self._answer(rows, ResultStatus.FAILED, attempts=F("attempts") + 1)

    def skip(self, rows: Sequence[Answered]) -> int:
        """``skipped``, no attempt counted: nothing was sent and nothing will be (the person
        opted out, or another row reached them)."""
        return self._answer(rows, ResultStatus.SKIPPED)

    def retry_at(self, rows: Sequence[Answered]) -> int:
        """``pending`` on the same session, an attempt counted, due again at each row's
        ``due_at`` (its request may have arrived: only that session re-sends it, same random_id)."""
        due = _per_row(rows, "due_at", "next_attempt_at")
        return self._answer(rows, ResultStatus.PENDING, attempts=F("attempts") + 1, next_attempt_at=due)

    def back_to_pool(self, rows: Sequence[Answered]) -> int:
        """``pending`` with no attempt counted (Telegram refused or never got the request):
        rows not in doubt return to the campaign's pool, rows in doubt stay on their session."""
        pooled = [r.id for r in rows if not r.in_doubt]
        if len(pooled) == len(rows):
            return self._answer(rows, ResultStatus.PENDING, session=None)
        field = MessageResult._meta.get_field("session")
        session = Case(When(id__in=pooled, then=Value(None)), default=F("session"), output_field=field)
        return self._answer(rows, ResultStatus.PENDING, session=session)

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

    # No database-level foreign key checks on this table: its rows are written only by the engine,
    # from ids it read from the database, and Django's on_delete keeps the relations; the per-row
    # checks cost half of a launch's time (bench/launch.py). The indexes below replace the FK ones.
    campaign = models.ForeignKey(
        "Campaign", on_delete=models.CASCADE, related_name="results", db_constraint=False, db_index=False
    )
    recipient = models.ForeignKey(
        Recipient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    key = models.CharField(max_length=64, blank=True)
    dedupe_key = models.CharField(max_length=64, null=True, blank=True)
    kind = models.CharField(max_length=10, choices=RecipientKind.choices, blank=True)
    fields = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=ResultStatus.choices, default=ResultStatus.PENDING)
    # The session that took the row. A pending row belongs to no session (late binding: whichever
    # session is ready claims it) unless it is ``in_doubt``, when it stays pinned to its session.
    session = models.ForeignKey(
        TelegramSession,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="results",
        db_constraint=False,
        db_index=False,
    )
    random_id = models.BigIntegerField(default=new_random_id)
    # The Telegram user the key resolved to when sent, and the one it resolved to before when a
    # username changed hands (the peer cache expired and a new look-up found another account).
    peer_id = models.BigIntegerField(null=True, blank=True)
    previous_peer_id = models.BigIntegerField(null=True, blank=True)
    telegram_message_id = models.BigIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=100, blank=True)
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
    # A/B test: the variant ("A"–"D") this row was given at launch; "" when the campaign has one
    # wording. Rows of the hold-out are ``held`` with variant "" until the winner is chosen.
    variant = models.CharField(max_length=1, blank=True, db_default="")
    # The recipient's IANA time zone when the campaign has a send window ("" = none needed).
    time_zone = models.CharField(max_length=64, blank=True, db_default="")
    # (Database defaults: the launch writes rows with its own INSERT … SELECT, naming no column
    # it leaves at its default.)
    # After the send: when Telegram said the peer read it (user sessions only: bots see no reads),
    # the first reply's time, and how many replies answered it.
    read_at = models.DateTimeField(null=True, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    reply_count = models.PositiveIntegerField(db_default=0)

    objects = ResultQuerySet.as_manager()

    class Meta:
        app_label = "campaigns"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "dedupe_key"], name="one_result_per_recipient"),
        ]
        # Each index costs every launch and every send; each serves a query named beside it. Partial
        # indexes hold only the rows their queries look for, so most rows skip them.
        indexes = [
            # A campaign's results in order (the results changelist of one campaign, exports).
            models.Index(fields=["campaign", "id"], name="result_campaign_idx"),
            # …of one status (the changelist filtered by status, finish_if_done's open rows).
            models.Index(fields=["campaign", "status", "id"], name="result_status_idx"),
            # The campaign's pool: pending rows no session holds, in order (late binding's claim).
            models.Index(
                fields=["campaign", "id"],
                name="result_pool_idx",
                condition=models.Q(status="pending", session__isnull=True),
            ),
            # Rows a session holds or has pinned (claims of pinned rows, crash recovery).
            models.Index(
                fields=["session", "campaign"],
                name="result_held_idx",
                condition=models.Q(status__in=["pending", "claimed", "sending"], session__isnull=False),
            ),
            # The reaper: claims that expired.
            models.Index(
                fields=["claim_expires_at"],
                name="result_reaper_idx",
                condition=models.Q(status__in=["claimed", "sending"]),
            ),
            # The changelist filtered by error code, and its list of codes.
            models.Index(
                fields=["campaign", "error_code", "id"],
                name="result_error_idx",
                condition=~models.Q(error_code=""),
            ),
            # Search by recipient.
            models.Index(fields=["key"], name="result_key_idx"),
            # Sorted by sent time (newest first, ties by id, as the changelist orders).
            models.Index(fields=["sent_at", "id"], name="result_sent_idx"),
            # One Telegram user under two keys (@name in one list, the user id in another): a send
            # looks for another row of the campaign that already reached the same user.
            models.Index(
                fields=["campaign", "peer_id"],
                name="result_campaign_peer_idx",
                condition=models.Q(peer_id__isnull=False),
            ),
            # After the send: a read mark or a reply from a peer finds the sent rows it answers.
            models.Index(
                fields=["session", "peer_id", "telegram_message_id"],
                name="result_peer_idx",
                condition=models.Q(status="sent"),
            ),
        ]
        # Results hold personal data: seeing them (view) and taking them away (export) are apart.
        permissions = [("export_messageresult", "Can export results (personal data) as CSV")]

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
        SAME_PERSON = "same_person", "Not sent: resolved to a person this campaign already reached"
        UNREACHABLE = "unreachable", "Not sent: Telegram could not be reached"

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


class Reply(models.Model):
    """A private message a recipient sent to the session that messaged them, after the send.

    Recorded against the result it answers (same session and peer, the newest sent row before
    it). ``(session, peer_id, message_id)`` is unique, so a reply seen live and again by the
    catch-up is stored once. The text is personal data: it follows the results' permissions,
    retention and erasure.
    """

    campaign = models.ForeignKey("Campaign", on_delete=models.CASCADE, related_name="replies")
    result = models.ForeignKey(MessageResult, on_delete=models.CASCADE, related_name="replies")
    session = models.ForeignKey(TelegramSession, null=True, on_delete=models.SET_NULL, related_name="+")
    peer_id = models.BigIntegerField()
    message_id = models.BigIntegerField()
    text = models.TextField(blank=True)
    received_at = models.DateTimeField()
    # The reply asked to stop (STOP, UNSUBSCRIBE …): its sender went on the suppression list.
    is_opt_out = models.BooleanField(default=False)

    class Meta:
        app_label = "campaigns"
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "replies"
        constraints = [
            models.UniqueConstraint(
                fields=["session", "peer_id", "message_id"], name="one_reply_per_message"
            ),
        ]
        indexes = [models.Index(fields=["campaign", "received_at"], name="reply_campaign_idx")]

    def __str__(self) -> str:
        return f"reply {self.message_id} from {self.peer_id}"
