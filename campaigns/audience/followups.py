"""Follow-ups of a campaign: who (:data:`KINDS`), how many now (:func:`follow_up_counts`), and
the new draft (:func:`create_follow_up`) — a segment of those people, the campaign's sessions and
settings, an empty message to write — sent when staff launch it, or, scheduled, a number of
hours after the first campaign ends (the reaper starts it then and the segment is evaluated at
that moment: :func:`campaigns.engine.reaper.arm_follow_ups`).

What cannot be known: Telegram tells a read only to user accounts, never to bots, and a person
may hide their read receipts. "Did not read" counts only messages user sessions sent; the
messages bots sent are counted apart (:func:`left_out`), and someone hiding their read receipts
looks unread for ever."""

from __future__ import annotations

from django.db import transaction

from ..models import Campaign, Segment
from ..models.campaign import FOLLOW_UP_HOURS

# Who a follow-up goes to: (label for staff, engagement conditions on the campaign).
KINDS: dict[str, tuple[str, list[dict]]] = {
    "not_read": ("did not read", [{"event": "not_read"}]),
    "read_not_replied": ("read but did not reply", [{"event": "read"}, {"event": "not_replied"}]),
    "replied": ("replied", [{"event": "replied"}]),
    "failed": ("could not be sent for a reason worth a retry", [{"event": "failed_retryable"}]),
}


class FollowUpRefused(ValueError):
    """The follow-up asked for makes no sense; the message is for staff."""


def definition_for(campaign: Campaign, kind: str, within_hours: int | None = None) -> dict:
    """The segment definition of ``kind`` (:data:`KINDS`) for ``campaign``; ``within_hours``
    applies to "did not read" (not read within that long of the send). Raises FollowUpRefused."""
    if kind not in KINDS:
        raise FollowUpRefused(f"Choose who the follow-up goes to: one of {', '.join(KINDS)}.")
    conditions = []
    for condition in KINDS[kind][1]:
        condition = dict(condition, campaign=campaign.pk)
        if within_hours and condition["event"] == "not_read":
            condition["within_hours"] = within_hours
        conditions.append(condition)
    return {"engagement": conditions}


def label_for(kind: str, within_hours: int | None = None) -> str:
    label = KINDS[kind][0]
    return f"{label} within {within_hours} h" if within_hours and kind == "not_read" else label


def follow_up_counts(campaign: Campaign, within_hours: int | None = None) -> dict[str, int]:
    """People each kind of follow-up of ``campaign`` would reach now (one COUNT each)."""
    return {kind: Segment(definition=definition_for(campaign, kind, within_hours)).count() for kind in KINDS}


def left_out(campaign: Campaign) -> int:
    """Messages of ``campaign`` sent by bot sessions: "did not read" cannot count them."""
    found = Segment(definition=definition_for(campaign, "not_read")).left_out()
    return sum(n for _, n in found)


def create_follow_up(
    campaign: Campaign,
    kind: str,
    *,
    within_hours: int | None = None,
    after_hours: int | None = None,
    by=None,
) -> Campaign:
    """A new draft to the people of ``kind`` of ``campaign``: a segment of them (named after both,
    ``follow_up_of`` the campaign), the same sessions and sending settings, no message yet.
    ``after_hours``: a scheduled follow-up, launched that long after ``campaign`` ends (staff
    still write and launch it: the launch schedules it). Raises FollowUpRefused."""
    definition = definition_for(campaign, kind, within_hours)
    if after_hours is not None and after_hours not in FOLLOW_UP_HOURS:
        raise FollowUpRefused(
            f"A scheduled follow-up starts {FOLLOW_UP_HOURS.span} hours after the campaign ends."
        )
    label = label_for(kind, within_hours)
    with transaction.atomic():
        segment = Segment.objects.create(
            name=f"{label.capitalize()}: “{campaign.name}”"[:200],
            definition=definition,
            follow_up_of=campaign,
            created_by=by,
            description=f"Made by Follow up… on the campaign “{campaign.name}”.",
        )
        follow_up = Campaign.objects.create(
            name=f"{campaign.name} — follow-up ({label})"[:200],
            created_by=by,
            follow_up_of=campaign if after_hours else None,
            follow_up_hours=after_hours,
            **{name: getattr(campaign, name) for name in Campaign.SETTING_FIELDS},
        )
        follow_up.sessions.set(campaign.sessions.all())
        follow_up.segments.set([segment])
    return follow_up
