"""Recipient lists, their recipients, and the suppression list (opt-outs)."""

from __future__ import annotations

import os
from collections.abc import Iterable

from django.conf import settings
from django.db import models, transaction

# How the import words a row its own file refuses (campaigns.lists.evidence: a consent column
# not saying yes, an opt-out column saying so). Such a row is stored invalid like a malformed one
# (a launch skips it with its reason, never messaging it); reports count it apart, "no consent",
# and its campaign result has its own error code (results.CODE_NO_CONSENT).
NO_CONSENT_PREFIXES = ("no consent", "opted out (column")


def no_consent_rows() -> models.Q:
    """The recipient rows skipped for want of consent (:data:`NO_CONSENT_PREFIXES`): a ``Q`` over
    :class:`Recipient`, reading only invalid rows (the (list, status) index)."""
    refused = models.Q()
    for prefix in NO_CONSENT_PREFIXES:
        refused |= models.Q(error__startswith=prefix)
    return models.Q(status=Recipient.Status.INVALID) & refused


def no_consent_sql(error: str) -> tuple[str, list[str]]:
    """(SQL true where the text expression ``error`` starts with one of
    :data:`NO_CONSENT_PREFIXES`, its parameters), for raw SQL over invalid rows (the launch's
    ``INSERT … SELECT``). ``LIKE`` with the prefix escaped, as Django writes ``startswith``, so it
    agrees with :func:`no_consent_rows` on each database."""
    escaped = [
        p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for p in NO_CONSENT_PREFIXES
    ]
    sql = " OR ".join(f"{error} LIKE %s ESCAPE '\\'" for _ in escaped)
    return f"({sql})", escaped


class RecipientKind(models.TextChoices):
    USERNAME = "username", "Username"
    PHONE = "phone", "Phone"
    USER_ID = "user_id", "User id"


class ConsentBasis(models.TextChoices):
    OPT_IN = "opt_in", "Opted in (subscribed)"
    CUSTOMER = "customer", "Existing customer relationship"
    CONTRACT = "contract", "Contract / transactional"
    LEGITIMATE_INTEREST = "legitimate_interest", "Legitimate interest (documented)"


class ImportStatus(models.TextChoices):
    """Where a list's import stands: uploaded and waiting for staff to confirm the mapping, in the
    queue or running in a worker (large files), done, or failed with ``import_error``."""

    MAPPING = "mapping", "Waiting for the column mapping"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Importing"
    DONE = "done", "Imported"
    FAILED = "failed", "Failed"


class RecipientList(models.Model):
    """An uploaded recipient file and its validation report.

    ``consent_basis`` records why these people agreed to hear from us; ``default_region`` (ISO
    3166 alpha-2) parses national phone numbers; counts are the import's validation report.
    ``mapping`` is how the file is read (:class:`campaigns.lists.mapping.Mapping` as JSON:
    encoding, delimiter, header, each column's role, the identity order), kept so the next upload
    of a file with the same columns is read the same way. ``import_*`` record the import's state
    and progress (rows read of about ``import_total``) while a worker runs it.
    """

    name = models.CharField(max_length=200)
    file = models.FileField(upload_to="lists/%Y/%m/", blank=True)
    # The file's name as staff uploaded it: the storage renames a second "customers.csv" to
    # "customers_aB3dE9x.csv", and pages show the name staff know (:attr:`file_shown_name`).
    file_name = models.CharField(max_length=255, blank=True)
    consent_basis = models.CharField(max_length=30, choices=ConsentBasis.choices)
    consent_note = models.TextField(blank=True, help_text="Where and when consent was collected.")
    default_region = models.CharField(max_length=2, blank=True, help_text="e.g. DE, US")
    default_time_zone = models.CharField(
        max_length=64,
        blank=True,
        help_text="IANA zone (e.g. Europe/Berlin) for recipients whose phone number does not tell "
        "their zone (usernames, user ids, countries with several zones); used by send windows.",
    )
    recipient_column = models.CharField(max_length=100, blank=True)
    encoding = models.CharField(max_length=40, blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    valid_count = models.PositiveIntegerField(default=0)
    invalid_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    mapping = models.JSONField(default=dict, blank=True)
    import_status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.DONE)
    import_progress = models.PositiveIntegerField(default=0)
    import_total = models.PositiveIntegerField(default=0)
    import_error = models.TextField(blank=True)
    import_updated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "campaigns"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def file_shown_name(self) -> str:
        """The file's name as uploaded ("" without a file): :attr:`file_name`, or for a file
        stored without it the stored name's last part."""
        if not self.file:
            return ""
        return self.file_name or os.path.basename(self.file.name)

    def store_file(self, upload) -> None:
        """Store ``upload`` (a Django ``File`` with the name it came with) as the list's file and
        remember that name; the row is not saved."""
        self.file.save(upload.name, upload, save=False)
        self.file_name = os.path.basename(upload.name)[:255]

    @property
    def is_ready(self) -> bool:
        """Imported: its recipients are all there (a list being imported has only some)."""
        return self.import_status == ImportStatus.DONE

    def no_consent_count(self) -> int:
        """Rows of the list skipped for want of consent (:func:`no_consent_rows`): part of
        ``invalid_count``, which counts them with the malformed rows."""
        if not self.invalid_count:
            return 0
        return self.recipients.filter(no_consent_rows()).count()

    def summary(self) -> str:
        """The import's counts in one sentence for staff; rows without consent apart from the
        invalid ones, when there are some."""
        no_consent = self.no_consent_count()
        said = f"{self.invalid_count - no_consent} invalid, "
        if no_consent:
            said += f"{no_consent} no consent, "
        return (
            f"“{self}” imported: {self.valid_count} valid, {said}"
            f"{self.duplicate_count} duplicate of {self.total_rows} row{'' if self.total_rows == 1 else 's'}."
        )


class Recipient(models.Model):
    """One row of a recipient list: the normalised key (``@name``, ``+E164``, decimal user id)
    or a validation error; ``fields`` keeps the row's other columns for personalisation. A valid
    row's ``error`` is empty unless the import noted something (control characters removed, an
    identity column whose value was invalid while another one was valid).

    A row may name its person several ways (a username and a phone column): ``key`` is the
    identity that comes first in the list's identity order, the others are
    :class:`RecipientIdentity` rows (``other_identities``)."""

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
    # The row's names folded for prefix search (campaigns.lists.search): given then family name,
    # and the family name alone. Defaulted in the database too: a bulk writer (COPY, a raw INSERT)
    # that does not name them still writes a row.
    name_key = models.CharField(max_length=100, blank=True, default="", db_default="")
    surname_key = models.CharField(max_length=100, blank=True, default="", db_default="")
    # Labels staff give the row (campaigns.models.tags); segments choose people by them.
    tags = models.ManyToManyField(
        "campaigns.Tag", through="campaigns.RecipientTag", related_name="recipients", blank=True
    )

    class Meta:
        app_label = "campaigns"
        ordering = ["recipient_list", "row_number"]
        indexes = [
            models.Index(fields=["recipient_list", "status"]),
            # Prefix search by name (LIKE 'x%'): a pattern index on PostgreSQL, a plain one elsewhere.
            models.Index(
                fields=["name_key"], name="recipient_name_prefix_idx", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(
                fields=["surname_key"], name="recipient_surname_prefix_idx", opclasses=["varchar_pattern_ops"]
            ),
        ]

    def __str__(self) -> str:
        return self.key or self.raw_value

    @property
    def outcome(self) -> str:
        """The row's outcome as reports name it: "No consent" for an invalid row its own file
        refused (a consent column not saying yes, an opt-out column saying so:
        :data:`NO_CONSENT_PREFIXES`), counted apart from the invalid ones; else its status's
        label ("Invalid", "Duplicate", "Valid")."""
        if self.status == self.Status.INVALID and self.error.startswith(NO_CONSENT_PREFIXES):
            return "No consent"
        return self.get_status_display()

    def identities(self) -> list[str]:
        """Every key this row names its person by, ``key`` first; [] for an invalid row."""
        others = [i.key for i in self.other_identities.all()]
        return ([self.key] if self.key else []) + [k for k in others if k != self.key]


class Person(Recipient):
    """The admin's *Persons* entry (a proxy: no table of its own): one human found by any of their
    identities across every list, with their history (:mod:`campaigns.people.persons`)."""

    class Meta:
        proxy = True
        app_label = "campaigns"
        verbose_name = "person"
        verbose_name_plural = "persons"


class RecipientIdentity(models.Model):
    """Another identity of a recipient row than its key (a phone next to the username that is
    the key), normalised like keys. De-duplication, opt-outs and erasure see these too."""

    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="other_identities")
    key = models.CharField(max_length=64, db_index=True)
    kind = models.CharField(max_length=10, choices=RecipientKind.choices)

    class Meta:
        app_label = "campaigns"
        verbose_name_plural = "recipient identities"

    def __str__(self) -> str:
        return self.key


class SuppressionQuerySet(models.QuerySet):
    def add(self, keys: Iterable[str], *, source: str, note: str = "") -> tuple[list[str], list[str]]:
        """Suppress every key of ``keys`` (already normalised); returns (added, already there),
        each sorted. A key suppressed before, by any source, is left as it is; a concurrent add
        of the same key is not an error."""
        wanted = {k for k in keys if k}
        existing = set(self.filter(key__in=wanted).values_list("key", flat=True))
        added = sorted(wanted - existing)
        with transaction.atomic():  # the rows and their webhook event, or neither
            self.bulk_create(
                [Suppression(key=k, source=source, note=note) for k in added], ignore_conflicts=True
            )
            announce_optouts(added, source)
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

    def save(self, *args, **kwargs) -> None:
        """Save; a new suppression (one added by staff in the admin) is announced to webhook
        subscribers in the same transaction. :meth:`SuppressionQuerySet.add` announces its own."""
        adding = self._state.adding
        with transaction.atomic():
            super().save(*args, **kwargs)
            if adding:
                announce_optouts([self.key], self.source)


# Keys per ``optout.created`` event: a bulk add of 100,000 is 100 events, not one huge payload.
OPTOUT_KEYS_PER_EVENT = 1000


def announce_optouts(keys: list[str], source: str) -> None:
    """Emit ``optout.created`` for newly suppressed ``keys`` (the identities a receiver needs to
    stop writing to the person, nothing else) recorded by ``source``, in chunks of
    :data:`OPTOUT_KEYS_PER_EVENT`."""
    from tgcampaigns import webhooks

    for start in range(0, len(keys), OPTOUT_KEYS_PER_EVENT):
        chunk = keys[start : start + OPTOUT_KEYS_PER_EVENT]
        webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": chunk, "source": str(source)})
