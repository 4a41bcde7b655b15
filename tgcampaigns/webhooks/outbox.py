"""Emitting an event: the outbox rows in the caller's transaction, a worker woken after it commits.

Cheap enough for the engine's paths: one query for the subscriptions (usually none, then nothing
else happens), one INSERT for the event and one for its deliveries; the network is never called
here, and the worker is woken by ``transaction.on_commit`` so a rolled-back change emits nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from .catalogue import Event

DELIVER_TASK = "tgcampaigns.webhooks.tasks.deliver"
FAN_OUT_TASK = "tgcampaigns.webhooks.tasks.fan_out"


def emit(event: Event | str, data: dict[str, Any]) -> int:
    """Record ``event`` with ``data`` (JSON-serialisable, personal data only as the event needs)
    for every active subscription that asked for it; returns how many deliveries were queued.

    The payload sent is ``{"type": event, "timestamp": ISO 8601 UTC, "data": data}`` with the
    ``webhook-id`` ``msg_<32 hex>``, the same for each subscription and each retry. Runs in an
    atomic block of its own (nested in the caller's when there is one).
    """
    from .models import WebhookDelivery, WebhookEvent, WebhookSubscription

    active = WebhookSubscription.objects.filter(active=True).values_list("pk", "events")
    wanted = [pk for pk, events in active if str(event) in (events or [])]
    if not wanted:
        return 0
    now = timezone.now()
    payload = {"type": str(event), "timestamp": now.isoformat().replace("+00:00", "Z"), "data": data}
    with transaction.atomic():
        record = WebhookEvent.objects.create(
            msg_id=f"msg_{uuid.uuid4().hex}", type=str(event), payload=payload, created_at=now
        )
        deliveries = WebhookDelivery.objects.bulk_create(
            WebhookDelivery(event=record, subscription_id=pk, next_attempt_at=now, created_at=now)
            for pk in wanted
        )
        ids = [d.pk for d in deliveries]
        # robust: a queue that is down must not fail the caller's change; the sweep finds the rows.
        transaction.on_commit(lambda: enqueue(ids), robust=True)
    return len(ids)


def enqueue(delivery_ids: list[int]) -> None:
    """Wake a worker for the deliveries: one task whatever their number (with the ORM broker each
    task is an INSERT and a commit of its own, paid by the caller), which fans them out to a task
    each (:data:`FAN_OUT_TASK`) so a slow receiver holds up no other. A lost or duplicated task is
    harmless: the claim is a compare-and-set and the sweep finds what is due."""
    from django_q.tasks import async_task

    if len(delivery_ids) == 1:
        async_task(DELIVER_TASK, delivery_ids[0], group="webhooks")
    elif delivery_ids:
        async_task(FAN_OUT_TASK, list(delivery_ids), group="webhooks")
