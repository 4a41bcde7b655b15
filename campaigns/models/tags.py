"""Tags on recipient rows: free labels staff give people (from an import column such as ``tags``,
``labels``, Google's ``Group Membership`` or Shopify's ``Tags``, from a bulk admin action, or on a
person's page), used by segments to choose who gets a campaign.

A tag is one :class:`Tag` (its name as staff first wrote it, and a case-folded ``key`` that makes
``VIP`` and ``vip`` the same tag); a row carries it through one :class:`RecipientTag`."""

from __future__ import annotations

from django.db import models

from .lists import Recipient

TAG_MAX_LENGTH = 100


def tag_key(name: str) -> str:
    """The case-folded, whitespace-collapsed form two spellings of one tag share ('' for none)."""
    return " ".join(name.split()).casefold()[:TAG_MAX_LENGTH]


class TagQuerySet(models.QuerySet):
    def named(self, names: list[str]) -> list[Tag]:
        """The tags called ``names`` (any case), created where missing; blanks are dropped and a
        name given twice is one tag. A concurrent creation of the same tag is not an error."""
        wanted: dict[str, str] = {}
        for name in names:
            key = tag_key(name)
            if key:
                wanted.setdefault(key, " ".join(name.split())[:TAG_MAX_LENGTH])
        self.bulk_create([Tag(key=k, name=n) for k, n in wanted.items()], ignore_conflicts=True)
        return list(self.filter(key__in=wanted))


class Tag(models.Model):
    """A label on recipient rows. ``name`` is shown; ``key`` (:func:`tag_key`) is unique."""

    name = models.CharField(max_length=TAG_MAX_LENGTH)
    key = models.CharField(max_length=TAG_MAX_LENGTH, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TagQuerySet.as_manager()

    class Meta:
        app_label = "campaigns"
        ordering = ["key"]

    def __str__(self) -> str:
        return self.name


class RecipientTag(models.Model):
    """One tag on one recipient row. A person's tags are those of all their rows."""

    # No database-level foreign key checks and no single-column indexes: an import writes a link
    # per tag per row, and the per-row FK checks and two more indexes nearly doubled a tagged
    # import's time (bench/import.py --tags). Rows are written from ids just read or reserved,
    # Django's on_delete cascades, and the two composite indexes below serve both look-ups.
    recipient = models.ForeignKey(
        Recipient, on_delete=models.CASCADE, related_name="tag_links", db_constraint=False, db_index=False
    )
    tag = models.ForeignKey(
        Tag, on_delete=models.CASCADE, related_name="recipient_links", db_constraint=False, db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "campaigns"
        constraints = [models.UniqueConstraint(fields=["recipient", "tag"], name="recipient_tag_once")]
        # "has tag X" in a segment reads from the tag side.
        indexes = [models.Index(fields=["tag", "recipient"], name="recipienttag_tag_recipient_idx")]

    def __str__(self) -> str:
        return f"{self.recipient_id}: {self.tag_id}"
