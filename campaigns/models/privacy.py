"""What is kept of an erased person: a hash of each of their identities, so they are neither
imported nor messaged again (:func:`campaigns.privacy.is_erased`). Nothing else survives an
erasure (:func:`campaigns.privacy.erase_person`)."""

from __future__ import annotations

from django.db import models


class ErasedIdentity(models.Model):
    """The SHA-256 of an erased person's normalised key (``@name``, ``+E164``, user id), salted
    with a fixed prefix (:func:`campaigns.privacy.identity_hash`). A pseudonym, not anonymity:
    someone holding a key can test it, which is what keeps the person suppressed."""

    key_hash = models.CharField(max_length=64, unique=True)
    erased_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "campaigns"
        default_permissions = ()
        permissions = [("erase_person", "Can erase a person everywhere (by any identity)")]

    def __str__(self) -> str:
        return f"erased identity {self.key_hash[:12]}…"
