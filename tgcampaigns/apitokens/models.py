"""API tokens and the answers kept for idempotent POSTs.

A token is ``tgc_<prefix>_<secret>``: ``prefix`` (8 characters) names it in lists and logs,
``secret`` is 32 random bytes. Only the SHA-256 of the whole token is stored: a stolen database
gives no usable token, and SHA-256 (not a slow password hash) is right for 256 random bits, which
no guessing reaches. The token is shown once, when it is made (:meth:`ApiTokenQuerySet.mint`).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_START = "tgc_"
# last_used_at is written at most this often per token: an API client calling many times a second
# must not turn every request into a write.
LAST_USE_RESOLUTION = timedelta(minutes=1)


def digest(token: str) -> str:
    """The stored form of ``token``: SHA-256, hex (64 characters)."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def mint(self, user, name: str) -> tuple[ApiToken, str]:
        """A new token for ``user`` named ``name``; returns (the row, the token in clear). The
        clear token is never stored: show it once."""
        prefix = secrets.token_hex(4)
        clear = f"{TOKEN_START}{prefix}_{secrets.token_urlsafe(32)}"
        token = self.create(user=user, name=name, prefix=prefix, digest=digest(clear))
        return token, clear

    def usable(self) -> ApiTokenQuerySet:
        """Not revoked, of an active user."""
        return self.filter(revoked_at=None, user__is_active=True)


class ApiToken(models.Model):
    """One API token of one user: it carries that user's permissions, unchanged (the roles of
    :mod:`campaigns.people.roles`). ``revoked_at`` set: refused from then on."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What uses it, e.g. “Shop CRM”.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} (tgc_{self.prefix}…)"

    @property
    def audit_label(self) -> str:
        """How the audit trail names writes made with this token (after the user's name)."""
        return f"API token “{self.name}”"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def revoke(self) -> bool:
        """Refuse this token from now on; False when it was already revoked."""
        now = timezone.now()
        changed = ApiToken.objects.filter(pk=self.pk, revoked_at=None).update(revoked_at=now)
        if changed:
            self.revoked_at = now
        return bool(changed)

    def touch(self) -> None:
        """Record a use, at most once per :data:`LAST_USE_RESOLUTION` (one UPDATE a minute)."""
        now = timezone.now()
        if self.last_used_at is not None and now - self.last_used_at < LAST_USE_RESOLUTION:
            return
        stale = models.Q(last_used_at=None) | models.Q(last_used_at__lt=now - LAST_USE_RESOLUTION)
        ApiToken.objects.filter(stale, pk=self.pk).update(last_used_at=now)
        self.last_used_at = now


class IdempotentRequest(models.Model):
    """A POST made with an ``Idempotency-Key``: the first answer, returned again to a retry.

    ``fingerprint``: SHA-256 of the method, path and body (a retry with another body is refused);
    ``status`` None while the first request is still being answered (a concurrent duplicate is
    refused with 409). Kept for :data:`tgcampaigns.apitokens.idempotency.KEEP_FOR`."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "key"], name="idempotency_key_per_token")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return self.key
