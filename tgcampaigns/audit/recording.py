"""Recording the audit trail: one call per audited action, from views, admin actions, commands
and schedules.

    audit.record(request, AuditAction.CAMPAIGN_PAUSE, f"Paused “{campaign}”.", campaign)

``actor``: an ``HttpRequest`` (its user), a user, or a label (``"system"``, ``"command line"``).
A request made with an API token is recorded as its user "via API token “name”" (the token's
``audit_label``), so every write through the API names the token.
``objects``: the model instances the action touched, one event each (none: one event without an
object). The message must hold no secret and no recipient identity (see
:mod:`tgcampaigns.audit.models`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Model

from .actions import AuditAction

SYSTEM = "system"
COMMAND_LINE = "command line"


def _actor(actor: Any) -> tuple[Any, str]:
    user = getattr(actor, "user", actor)  # a request, or already a user
    if isinstance(user, str) or user is None:
        return None, user or SYSTEM
    if not getattr(user, "is_authenticated", False):
        return None, "anonymous"
    label = getattr(getattr(actor, "auth", None), "audit_label", "")
    return user, f"{user.get_username()} via {label}" if label else user.get_username()


def record(actor: Any, action: AuditAction | str, message: str, *objects: Model | Iterable[Model]) -> int:
    """Write the events of one action; returns how many. ``objects`` may be instances or
    iterables of instances (a queryset); each gets its own event with the same message."""
    from django.contrib.contenttypes.models import ContentType

    from .models import AuditEvent

    user, name = _actor(actor)
    flat: list[Model] = []
    for item in objects:
        flat.extend([item] if isinstance(item, Model) else item)
    common = {"user": user, "actor": name[:150], "action": str(action), "message": message}
    if not flat:
        AuditEvent.objects.create(**common)
        return 1
    types = ContentType.objects.get_for_models(*{type(o) for o in flat})
    AuditEvent.objects.bulk_create(
        AuditEvent(
            **common,
            content_type=types[type(o)],
            object_id=str(o.pk),
            object_repr=_repr(o),
        )
        for o in flat
    )
    return len(flat)


def _repr(obj: Model) -> str:
    """How an event names ``obj``: a person's rows (suppressions, recipients, results) by their
    id only, so no identity is kept in the trail; everything else by its name."""
    if obj._meta.model_name in ("suppression", "recipient", "messageresult"):
        return f"{obj._meta.verbose_name} #{obj.pk}"
    return str(obj)[:200]


__all__ = ["COMMAND_LINE", "SYSTEM", "AuditAction", "record"]
