"""Read-only questions the send loop asks the database between sends: when the next retry pinned
to a session falls due, and which user ids opted out."""

from __future__ import annotations

from django.db.models import Min
from django.utils import timezone

from ..models import MessageResult, ResultStatus, Suppression


def next_pinned_due(campaign_ids: list[int], session_id: int) -> float | None:
    """Seconds until the next retry pinned to this session falls due, None when it has none."""
    due = MessageResult.objects.filter(
        campaign_id__in=campaign_ids, session_id=session_id, status=ResultStatus.PENDING
    ).aggregate(m=Min("next_attempt_at"))["m"]
    if due is None:
        return None
    return max(0.0, (due - timezone.now()).total_seconds())


def suppressed_user_ids() -> set[int]:
    """The user ids on the suppression list, for the check right before each send: a person who
    opted out as @name or by id resolves to that id, whatever key the list holds them under."""
    keys = Suppression.objects.filter(key__regex=r"^[0-9]+$").values_list("key", flat=True)
    return {int(k) for k in keys}
