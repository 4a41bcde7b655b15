"""Delivering webhooks: claim, sign, send, log, settle; the sweep; resend.

One delivery is sent by one worker at a time: :meth:`WebhookDeliveryQuerySet.claim` is a
compare-and-set ``pending → sending``, and the outcome is written only by the worker whose claim
still holds (same status and attempt number). Every attempt is signed anew per the Standard
Webhooks specification (the ``standardwebhooks`` library): ``webhook-id`` (the event's, the same
on every retry), ``webhook-timestamp`` (this attempt, Unix seconds) and ``webhook-signature``
(``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body``).

A 2xx answer delivers. Anything else (another status, a timeout, a refused connection) is
retried after :data:`~tgcampaigns.webhooks.catalogue.RETRY_DELAYS`; an address the SSRF guard
refuses is not retried. A delivery that fails for good adds one to its subscription's run of
failures; ``TGC_WEBHOOK_DISABLE_AFTER`` in a row disable it, with the reason.
"""

from __future__ import annotations

import json
import logging
import random
import time
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone
from standardwebhooks import Webhook

from tgcampaigns import conf, counters

from . import egress
from .catalogue import RETRY_DELAYS
from .models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription
from .outbox import enqueue

log = logging.getLogger(__name__)
USER_AGENT = "tgcampaigns-webhooks/1"
# Deliveries the sweep wakes at most per run (the rest at the next).
SWEEP_BATCH = 1000


def body_of(event: WebhookEvent) -> bytes:
    """The exact bytes sent (and signed): the payload as compact UTF-8 JSON."""
    return json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(secret: str, msg_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt at ``at``, plus the content type."""
    signature = Webhook(secret).sign(msg_id=msg_id, timestamp=at, data=body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def claim_seconds() -> float:
    """How long a claim lasts: above the longest a request may take (three timeouts), so a live
    worker's claim never lapses under it."""
    return 3 * conf.webhook_timeout() + 30


def deliver(delivery_id: int) -> str:
    """Make one attempt of delivery ``delivery_id`` if it is due and this call wins its claim;
    returns what happened (for the task log): ``delivered``, ``retry``, ``failed`` or ``not due``."""
    if not WebhookDelivery.objects.claim(delivery_id, claim_seconds()):
        return "not due"
    delivery = WebhookDelivery.objects.select_related("event", "subscription").get(pk=delivery_id)
    attempt, refused = _attempt(delivery)
    outcome = settle(delivery, attempt, give_up=refused)
    counters.WEBHOOK_ATTEMPTS.labels(
        event=delivery.event.type, outcome="refused" if refused else outcome
    ).inc()
    return outcome


def _attempt(delivery: WebhookDelivery) -> tuple[WebhookAttempt, bool]:
    """Sign and send the delivery's event once; the attempt (unsaved) and whether the SSRF guard
    refused the address (not worth retrying)."""
    event = delivery.event
    body = body_of(event)
    started, clock = timezone.now(), time.monotonic()
    answer, error, refused = None, "", False
    try:
        headers = signed_headers(delivery.subscription.secret, event.msg_id, body, started)
        answer = egress.post(delivery.subscription.url, body, headers)
    except egress.EgressRefused as exc:
        error, refused = str(exc), True
    except egress.EgressFailed as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a bad secret or a bug: logged, retried, never lost
        log.exception("webhook delivery %s failed before its request", delivery.pk)
        error = f"{type(exc).__name__}: {exc}"[:500]
    ok = answer is not None and 200 <= answer.status_code < 300
    if answer is not None and not ok:
        error = f"HTTP {answer.status_code}"
    attempt = WebhookAttempt(
        delivery=delivery,
        number=delivery.attempts,
        started_at=started,
        duration_ms=int((time.monotonic() - clock) * 1000),
        status_code=answer.status_code if answer else None,
        response_excerpt=answer.excerpt if answer else "",
        error=error,
        delivered=ok,
    )
    return attempt, refused


def _next_delay(attempts: int) -> float | None:
    """Seconds before the next attempt after ``attempts`` failed ones, with up to 10 % jitter;
    None when none is left."""
    if attempts > len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[attempts - 1] * (1 + random.random() / 10)  # noqa: S311 - jitter, not a secret


def settle(delivery: WebhookDelivery, attempt: WebhookAttempt, *, give_up: bool = False) -> str:
    """Write ``attempt`` and the delivery's new state, if this worker's claim still holds (else
    only the attempt: the delivery went on without it). Returns ``delivered``, ``retry`` or
    ``failed``; a failure for good counts toward disabling the subscription."""
    now = timezone.now()
    mine = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.SENDING, attempts=delivery.attempts
    )
    common = {"claimed_until": None, "last_status_code": attempt.status_code, "last_error": attempt.error}
    delay = None if give_up or delivery.attempts >= delivery.attempt_limit else _next_delay(delivery.attempts)
    if attempt.delivered:
        outcome, changes = "delivered", {"status": DeliveryStatus.DELIVERED, "delivered_at": now}
    elif delay is not None:
        outcome = "retry"
        changes = {"status": DeliveryStatus.PENDING, "next_attempt_at": now + timedelta(seconds=delay)}
    else:
        outcome, changes = "failed", {"status": DeliveryStatus.FAILED, "next_attempt_at": None}
    with transaction.atomic():
        attempt.save()
        if not mine.update(**common, **changes):
            return outcome
        subscriptions = WebhookSubscription.objects.filter(pk=delivery.subscription_id)
        if outcome == "delivered":
            subscriptions.exclude(failure_run=0).update(failure_run=0)
        elif outcome == "failed":
            subscriptions.update(failure_run=F("failure_run") + 1)
            _disable_after_a_run(delivery.subscription_id, attempt.error)
    return outcome


def _disable_after_a_run(subscription_id: int, last_error: str) -> None:
    """Disable the subscription when its run of failed deliveries reached the limit; its waiting
    deliveries fail with it (staff may resend them once it is enabled again)."""
    limit = conf.webhook_disable_after()
    reason = (
        f"Disabled on {timezone.now():%Y-%m-%d %H:%M} UTC after {limit} deliveries in a row failed "
        f"(every retry used); the last: {last_error or 'no answer'}."
    )
    if WebhookSubscription.objects.filter(pk=subscription_id, active=True, failure_run__gte=limit).update(
        active=False, disabled_reason=reason[:2000]
    ):
        log.warning("webhook subscription %s disabled after %d failed deliveries", subscription_id, limit)
        WebhookDelivery.objects.filter(subscription_id=subscription_id, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED, next_attempt_at=None, last_error="the subscription was disabled"
        )


def resend(deliveries) -> list[int]:
    """Queue one more attempt, now, of each delivery of ``deliveries`` (a QuerySet) that is not
    being sent and whose subscription is active: the same event and ``webhook-id``, signed anew
    (a delivered or failed one gets that one attempt; one waiting for a retry keeps its schedule).
    Returns the ids queued (the caller audits them)."""
    ids = list(
        deliveries.exclude(status=DeliveryStatus.SENDING)
        .filter(subscription__active=True)
        .values_list("pk", flat=True)
    )
    # One more attempt at least; a delivery still waiting for a retry keeps the rest of its schedule.
    WebhookDelivery.objects.filter(pk__in=ids).exclude(status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.PENDING,
        next_attempt_at=timezone.now(),
        attempt_limit=Greatest("attempt_limit", F("attempts") + 1),
    )
    transaction.on_commit(lambda: enqueue(ids), robust=True)
    return ids


def sweep() -> dict[str, int]:
    """The every-minute schedule: events past ``TGC_WEBHOOK_RETENTION_DAYS`` deleted with their
    deliveries and log, lapsed claims back to the queue, due deliveries woken (at most
    :data:`SWEEP_BATCH`). Returns the counts."""
    now = timezone.now()
    cutoff = now - timedelta(days=conf.webhook_retention_days())
    purged, _ = WebhookEvent.objects.filter(created_at__lt=cutoff).delete()
    released = WebhookDelivery.objects.release_lapsed(now)
    due = list(
        WebhookDelivery.objects.due(now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    enqueue(due)
    return {"released": released, "woken": len(due), "purged": purged}
