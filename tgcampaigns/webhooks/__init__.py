"""Webhooks: signed events other systems subscribe to (a CRM hearing of replies and opt-outs), an
app of its own that ``campaigns`` emits into, like the audit trail.

    from tgcampaigns import webhooks
    webhooks.emit(webhooks.Event.REPLY_RECEIVED, {"campaign": {...}, ...})

:func:`emit` writes the outbox (one :class:`~tgcampaigns.webhooks.models.WebhookDelivery` per
active subscription to the event) in the caller's transaction and wakes a django-q2 worker once it
commits; nothing here calls the network from the caller. Delivery (signed per the Standard Webhooks
specification, retried with backoff, logged) is :mod:`tgcampaigns.webhooks.sending`; the guard on
outgoing requests is :mod:`tgcampaigns.webhooks.egress`. This package imports nothing of
``campaigns`` or ``sessions_app``'s models, and no model at import time (Django imports it while
loading apps).
"""

from .catalogue import Event
from .outbox import emit

__all__ = ["Event", "emit"]
