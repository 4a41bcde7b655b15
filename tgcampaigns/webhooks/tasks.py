"""django-q2 entry points of the webhooks (dotted names stored in the queue: keep them)."""

from . import outbox, sending


def deliver(delivery_id: int) -> str:
    """One attempt of one delivery (queued by an emit, a resend or the sweep)."""
    return sending.deliver(delivery_id)


def fan_out(delivery_ids: list[int]) -> int:
    """Queue a ``deliver`` task for each of several deliveries (one event to several
    subscriptions, or the sweep's batch); returns how many."""
    for pk in delivery_ids:
        outbox.enqueue([pk])
    return len(delivery_ids)


def sweep() -> dict[str, int]:
    """The every-minute schedule: retries due, lapsed claims, old events purged."""
    return sending.sweep()
