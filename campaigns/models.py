"""Recipient lists, campaigns, one result per recipient, delivery attempts, suppressions."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Count
from django.utils import timezone

from sessions_app.models import TelegramSession


class RecipientKind(models.TextChoices):
    USERNAME = "username", "Username"
    PHONE = "phone", "Phone"
    USER_ID = "user_id", "User id"


class ConsentBasis(models.TextChoices):
    OPT_IN = "opt_in", "Opted in (subscribed)"
    CUSTOMER = "customer", "Existing customer relationship"
    CONTRACT = "contract", "Contract / transactional"
    LEGITIMATE_INTEREST = "legitimate_interest", "Legitimate interest (documented)"


class RecipientList(models.Model):
    """An uploaded recipient file and its validation report.

    ``consent_basis`` records why these people agreed to hear from us; ``default_region`` (ISO
    3166 alpha-2) parses national phone numbers; counts are the import's validation report.
    """

    name = models.CharField(max_length=200)
    file = models.FileField(upload_to="lists/%Y/%m/", blank=True)
    consent_basis = models.CharField(max_length=30, choices=ConsentBasis.choices)
    consent_note = models.TextField(blank=True, help_text="Where and when consent was collected.")
    default_region = models.CharField(max_length=2, blank=True, help_text="e.g. DE, US")
    recipient_column = models.CharField(max_length=100, blank=True)
    encoding = models.CharField(max_length=40, blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    valid_count = models.PositiveIntegerField(default=0)
    invalid_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Recipient(models.Model):
    """One row of a recipient list: the normalised key (``@name``, ``+E164``, decimal user id)
    or a validation error; ``fields`` keeps the row's other columns for personalisation. A valid
    row's ``error`` is empty unless the import noted something (control characters removed)."""

    class Status(models.TextChoices):
        VALID = "valid"
        INVALID = "invalid"
        DUPLICATE = "duplicate"

    recipient_list = models.ForeignKey(RecipientList, on_delete=models.CASCADE, related_name="recipients")
    row_number = models.PositiveIntegerField()
    raw_value = models.CharField(max_length=500, blank=True)
    key = models.CharField(max_length=64, blank=True, db_index=True)
    kind = models.CharField(max_length=10, choices=RecipientKind.choices, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.VALID)
    error = models.CharField(max_length=300, blank=True)
    fields = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["recipient_list", "row_number"]
        indexes = [models.Index(fields=["recipient_list", "status"])]

    def __str__(self) -> str:
        return self.key or self.raw_value


class Suppression(models.Model):
    """An opt-out: no campaign sends to ``key`` (normalised like a recipient key) again."""

    class Source(models.TextChoices):
        STOP_REPLY = "stop_reply", "Opt-out reply"
        MANUAL = "manual", "Manual entry"
        IMPORT = "import", "Imported"

    key = models.CharField(max_length=64, unique=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.MANUAL)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class ParseMode(models.TextChoices):
    PLAIN = "plain", "Plain text"
    HTML = "html", "HTML"
    MARKDOWN = "markdown", "Markdown"


class MediaType(models.TextChoices):
    NONE = "", "No media (text message)"
    PHOTO = "photo", "Photo"
    VIDEO = "video", "Video"
    DOCUMENT = "document", "Document"
    AUDIO = "audio", "Audio"
    VOICE = "voice", "Voice note"


class Strategy(models.TextChoices):
    ROUND_ROBIN = "round_robin", "Round robin"
    LEAST_LOADED = "least_loaded", "Least loaded"
    WEIGHTED = "weighted", "Weighted"


class Campaign(models.Model):
    """A message (text, or media with caption) to every recipient of some lists.

    ``message`` is a sandboxed Django template rendered per recipient with the list's columns;
    ``delay_seconds`` overrides the sessions' own delay when larger; ``flood_wait_threshold``
    (seconds): a FloodWait longer than this moves the session's rows to other sessions.
    """

    name = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    message = models.TextField(blank=True, help_text="Text or caption; {{ first_name }} etc. personalise.")
    parse_mode = models.CharField(max_length=10, choices=ParseMode.choices, default=ParseMode.PLAIN)
    media = models.FileField(upload_to="media/%Y/%m/", blank=True)
    media_type = models.CharField(max_length=10, choices=MediaType.choices, blank=True, default="")
    media_info = models.JSONField(default=dict, blank=True, editable=False)
    lists = models.ManyToManyField(RecipientList, related_name="campaigns", blank=True)
    sessions = models.ManyToManyField(TelegramSession, related_name="campaigns", blank=True)
    strategy = models.CharField(max_length=20, choices=Strategy.choices, default=Strategy.ROUND_ROBIN)
    delay_seconds = models.FloatField(default=0.0, help_text="Minimum seconds between sends per session.")
    max_attempts = models.PositiveSmallIntegerField(default=3)
    flood_wait_threshold = models.PositiveIntegerField(
        default=300, help_text="Seconds; a longer FloodWait re-balances that session's rows."
    )
    scheduled_at = models.DateTimeField(null=True, blank=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.TextField(blank=True)
    # When a running campaign next has a usable session (FloodWait, daily cap): the reaper wakes it.
    wake_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def counts(self) -> dict[str, int]:
        """Rows per status (every status present, zeros included) plus ``total``."""
        found = dict(self.results.values_list("status").annotate(n=Count("id")).order_by())
        counts = {s: found.get(s, 0) for s in ResultStatus.values}
        counts["total"] = sum(found.values())
        return counts

    def set_status(self, status: str, reason: str = "", *, only_from: tuple[str, ...] = ()) -> bool:
        """Compare-and-set the status; returns True when this call changed it."""
        qs = Campaign.objects.filter(pk=self.pk)
        if only_from:
            qs = qs.filter(status__in=only_from)
        fields = {"status": status, "status_reason": reason}
        if status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
            fields["finished_at"] = timezone.now()
        changed = qs.update(**fields) == 1
        if changed:
            for key, value in fields.items():
                setattr(self, key, value)
        return changed


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


def new_random_id() -> int:
    """A signed 64-bit MTProto ``random_id`` (messages.sendMessage takes a long)."""
    return int.from_bytes(secrets.token_bytes(8), "big", signed=True)


class MessageResult(models.Model):
    """The one row per recipient of a campaign: its state, session, outcome and attempts.

    ``dedupe_key`` equals ``key`` for every deliverable (and suppressed) recipient and is NULL for
    invalid and duplicate rows, so the unique constraint holds one deliverable row per key while
    still keeping a ``skipped`` row for every bad input line. ``random_id`` is fixed at creation and
    reused on every resend, so Telegram de-duplicates a resend from the same account.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="results")
    recipient = models.ForeignKey(
        Recipient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    key = models.CharField(max_length=64, blank=True)
    dedupe_key = models.CharField(max_length=64, null=True, blank=True)
    kind = models.CharField(max_length=10, choices=RecipientKind.choices, blank=True)
    fields = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=ResultStatus.choices, default=ResultStatus.PENDING)
    session = models.ForeignKey(
        TelegramSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="results"
    )
    random_id = models.BigIntegerField(default=new_random_id)
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

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "dedupe_key"], name="one_result_per_recipient"),
        ]
        indexes = [
            # The engine's claim query: a session's next pending rows of one campaign.
            models.Index(fields=["campaign", "session", "status"], name="result_claim_idx"),
            models.Index(fields=["status", "claim_expires_at"], name="result_reaper_idx"),
            models.Index(fields=["session", "sent_at"], name="result_sent_today_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.key or '(no key)'}: {self.status}"


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
        SUPPRESSED = "suppressed"

    result = models.ForeignKey(MessageResult, on_delete=models.CASCADE, related_name="delivery_attempts")
    session = models.ForeignKey(TelegramSession, null=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    error_code = models.CharField(max_length=100, blank=True)
    error_text = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at"]
