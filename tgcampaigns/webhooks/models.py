"""Subscriptions, the events emitted to them (the outbox) and each delivery's attempts (the log).

A :class:`WebhookEvent` is written once per emitted event; it gets one :class:`WebhookDelivery`
per subscription that was active and asked for its type (unique together: exactly one delivery
per subscription per event). A delivery moves ``pending → sending → delivered | failed``; from
``sending`` back to ``pending`` when an attempt fails and retries are left. Each attempt writes a
:class:`WebhookAttempt` (status code, duration, an excerpt of the answer, the error).

Payloads hold only what an event needs (docs/operating.md "Webhooks"); a reply's text and a
person's identities are personal data, so events older than the retention are purged by the sweep.
"""

from __future__ import annotations

import json
import secrets
from base64 import b64encode
from datetime import timedelta

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from .catalogue import MAX_ATTEMPTS, Event

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret as the Standard Webhooks specification writes it: ``whsec_`` and
    24 random bytes in base64 (192 bits; the specification asks for 24 to 64)."""
    return SECRET_PREFIX + b64encode(secrets.token_bytes(24)).decode()


class WebhookSubscription(models.Model):
    """Where events go: a URL, the event types wanted and the secret they are signed with.

    The secret is kept encrypted (``FIELD_ENCRYPTION_KEY``, like the sessions' secrets) and shown
    to staff once, when it is made. ``failure_run`` counts deliveries in a row that failed for good;
    at ``TGC_WEBHOOK_DISABLE_AFTER`` the subscription is disabled with ``disabled_reason``.
    """

    name = models.CharField(max_length=200, help_text="Who receives these, e.g. “Shop CRM”.")
    url = models.URLField(max_length=2000, help_text="An https:// address that answers a POST with 2xx.")
    events = models.JSONField(default=list, help_text="The event types sent to this address.")
    ENCRYPTED_FIELDS = ("secret_encrypted",)  # tgcampaigns.crypto; `manage.py rotatesecrets`
    secret_encrypted = models.TextField(editable=False)
    active = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True, editable=False)
    failure_run = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = "webhook subscription"

    def __str__(self) -> str:
        return self.name

    @property
    def secret(self) -> str:
        """The signing secret, ``whsec_…``. Raises ``InvalidToken`` when no configured key opens it."""
        from tgcampaigns import crypto

        return crypto.decrypt(self.secret_encrypted)

    def set_secret(self, secret: str | None = None) -> str:
        """Store ``secret`` (default: a new one, :func:`new_secret`) encrypted; returns it (to show
        once). The caller saves."""
        from tgcampaigns import crypto

        secret = secret or new_secret()
        self.secret_encrypted = crypto.encrypt(secret)
        return secret

    def wants(self, event: str) -> bool:
        return self.active and event in (self.events or [])


class WebhookEventQuerySet(models.QuerySet):
    def naming(self, keys) -> WebhookEventQuerySet:
        """Events whose payload holds any of ``keys`` (recipient keys) as a JSON string: what an
        erasure deletes. Matched on the JSON text with its quotes, so ``@bob`` is not ``@bobby``."""
        condition = Q(pk__in=[])
        for key in {k for k in keys if k}:
            condition |= Q(payload__icontains=json.dumps(key))
        return self.filter(condition)


class WebhookEvent(models.Model):
    """One emitted event. ``msg_id`` is the ``webhook-id`` every delivery and retry of it carries,
    so a receiver that has seen it may ignore it again."""

    msg_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=40, choices=Event.choices, db_index=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = WebhookEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "webhook event"

    def __str__(self) -> str:
        return f"{self.type} {self.msg_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDeliveryQuerySet(models.QuerySet):
    def due(self, now=None) -> WebhookDeliveryQuerySet:
        """Pending deliveries whose next attempt is due, to active subscriptions.

        The subscription is matched by a subquery, not a join: an UPDATE over a join is made by
        Django as ``WHERE id IN (SELECT …)``, which PostgreSQL does not check again once a
        concurrent claim commits, so two workers would both win the same row."""
        now = now or timezone.now()
        active = WebhookSubscription.objects.filter(active=True).values("pk")
        return self.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=now, subscription_id__in=active
        )

    def claim(self, pk: int, claim_seconds: float, now=None) -> bool:
        """Compare-and-set ``pending → sending`` for delivery ``pk`` if it is due (and its
        subscription active), counting the attempt; True when this caller won it (of two workers,
        one does). The claim lapses after ``claim_seconds``: a worker that died is taken over by
        :meth:`release_lapsed`."""
        now = now or timezone.now()
        return (
            self.due(now)
            .filter(pk=pk)
            .update(
                status=DeliveryStatus.SENDING,
                attempts=F("attempts") + 1,
                claimed_until=now + timedelta(seconds=claim_seconds),
            )
            == 1
        )

    def release_lapsed(self, now=None) -> int:
        """``sending`` deliveries whose claim lapsed (their worker died mid-request) go back to
        ``pending``, due now; returns how many. The receiver may have had the request: the same
        ``webhook-id`` comes again, so it can tell."""
        now = now or timezone.now()
        return self.filter(status=DeliveryStatus.SENDING, claimed_until__lt=now).update(
            status=DeliveryStatus.PENDING, next_attempt_at=now, claimed_until=None
        )


class WebhookDelivery(models.Model):
    """One event to one subscription: its status, attempts made and when the next is due."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Attempts this delivery may make: the retry schedule's, or one more after a resend.
    attempt_limit = models.PositiveSmallIntegerField(default=MAX_ATTEMPTS)
    next_attempt_at = models.DateTimeField(default=timezone.now, null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"
        permissions = [("resend_webhookdelivery", "Can resend a webhook delivery")]
        constraints = [
            models.UniqueConstraint(fields=["event", "subscription"], name="webhook_once_per_subscription")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="webhook_due_idx", condition=Q(status=DeliveryStatus.PENDING)
            )
        ]

    def __str__(self) -> str:
        return f"{self.event.type} → {self.subscription}"


class WebhookAttempt(models.Model):
    """One request of a delivery: when, how long (milliseconds), the HTTP status (none when no
    answer came), the first KB of the answer, and the error (refused address, timeout …)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    delivered = models.BooleanField(default=False)

    class Meta:
        ordering = ["delivery", "number", "pk"]

    def __str__(self) -> str:
        return f"attempt {self.number}"
