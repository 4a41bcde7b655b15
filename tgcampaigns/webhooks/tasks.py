"""django-q2 entry points of the webhooks (dotted names stored in the queue: keep them)."""

from . import sending


def deliver(delivery_id: int) -> str:
    """One attempt of one delivery (queued by an emit, a resend or the sweep)."""
    return sending.deliver(delivery_id)


def sweep() -> dict[str, int]:
    """The every-minute schedule: retries due, lapsed claims, old events purged."""
    return sending.sweep()
