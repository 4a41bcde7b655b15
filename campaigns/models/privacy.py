"""What is kept of an erased person: a hash of each of their identities, so they are neither
imported nor messaged again (:func:`is_erased`, asked by the import and the test sends; the import
blanks such rows with :func:`drop_erased`). Nothing else survives an erasure
(:func:`campaigns.people.erasure.erase_person`). These live beside the model, below both the
lists and the people room, so either can ask without importing the other."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db import models

from .lists import Recipient, RecipientList

ERASED_TEXT = "erased on request"
HASH_PREFIX = "tgcampaigns-erased:"
# Keys per query (an IN list of hashes, and rows read per batch).
CHUNK = 2000


class ErasedIdentity(models.Model):
    """The SHA-256 of an erased person's normalised key (``@name``, ``+E164``, user id), salted
    with a fixed prefix (:func:`identity_hash`). A pseudonym, not anonymity:
    someone holding a key can test it, which is what keeps the person suppressed."""

    key_hash = models.CharField(max_length=64, unique=True)
    erased_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "campaigns"
        default_permissions = ()
        permissions = [("erase_person", "Can erase a person everywhere (by any identity)")]

    def __str__(self) -> str:
        return f"erased identity {self.key_hash[:12]}…"


def identity_hash(key: str) -> str:
    """The stored hash of a normalised key (SHA-256 of a fixed prefix and the key)."""
    return hashlib.sha256((HASH_PREFIX + key).encode()).hexdigest()


def is_erased(keys: Iterable[str]) -> set[str]:
    """The keys of ``keys`` (normalised recipient keys) that belong to an erased person."""
    wanted = {identity_hash(k): k for k in keys if k}
    if not wanted:
        return set()
    found: set[str] = set()
    hashes = list(wanted)
    for start in range(0, len(hashes), CHUNK):
        chunk = hashes[start : start + CHUNK]
        found |= set(ErasedIdentity.objects.filter(key_hash__in=chunk).values_list("key_hash", flat=True))
    return {wanted[h] for h in found}


def drop_erased(recipient_list: RecipientList) -> int:
    """Turn the rows of ``recipient_list`` that belong to an erased person into invalid rows
    without their identity or fields (the import calls it); returns how many."""
    if not ErasedIdentity.objects.exists():
        return 0
    rows = recipient_list.recipients.exclude(key="").values_list("pk", "key")
    erased_ids = []
    batch: list[tuple[int, str]] = []
    for row in rows.iterator(chunk_size=CHUNK):
        batch.append(row)
        if len(batch) == CHUNK:
            erased_ids += _erased_ids(batch)
            batch = []
    erased_ids += _erased_ids(batch)
    Recipient.objects.filter(pk__in=erased_ids).update(
        status=Recipient.Status.INVALID,
        key="",
        kind="",
        raw_value="",
        fields={},
        error=ERASED_TEXT + ": not imported",
    )
    return len(erased_ids)


def _erased_ids(rows: list[tuple[int, str]]) -> list[int]:
    erased = is_erased(key for _, key in rows)
    return [pk for pk, key in rows if key in erased]
