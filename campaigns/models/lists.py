"""Recipient lists, their recipients, and the suppression list (opt-outs)."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import models


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
        app_label = "campaigns"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def summary(self) -> str:
        """The import's counts in one sentence for staff."""
        return (
            f"“{self}” imported: {self.valid_count} valid, {self.invalid_count} invalid, "
            f"{self.duplicate_count} duplicate of {self.total_rows} rows."
        )


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
    raw_value = models.CharField(max_length=500, blank=True, db_index=True)  # results searched "as written"
    key = models.CharField(max_length=64, blank=True, db_index=True)
    kind = models.CharField(max_length=10, choices=RecipientKind.choices, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.VALID)
    error = models.CharField(max_length=300, blank=True)
    fields = models.JSONField(default=dict, blank=True)

    class Meta:
        app_label = "campaigns"
        ordering = ["recipient_list", "row_number"]
        indexes = [models.Index(fields=["recipient_list", "status"])]

    def __str__(self) -> str:
        return self.key or self.raw_value


class SuppressionQuerySet(models.QuerySet):
    def add(self, keys: Iterable[str], *, source: str, note: str = "") -> tuple[list[str], list[str]]:
        """Suppress every key of ``keys`` (already normalised); returns (added, already there),
        each sorted. A key suppressed before, by any source, is left as it is; a concurrent add
        of the same key is not an error."""
        wanted = {k for k in keys if k}
        existing = set(self.filter(key__in=wanted).values_list("key", flat=True))
        added = sorted(wanted - existing)
        self.bulk_create([Suppression(key=k, source=source, note=note) for k in added], ignore_conflicts=True)
        return added, sorted(existing)


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

    objects = SuppressionQuerySet.as_manager()

    class Meta:
        app_label = "campaigns"

    def __str__(self) -> str:
        return self.key
