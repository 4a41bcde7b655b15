"""*Follow up…* on a campaign's page (:class:`FollowUpView`): who to write to next — those who did
not read (within some hours of the send), read but did not reply, replied, or could not be sent
for a reason worth a retry — with how many each is now, and when: a draft to write and launch, or
a scheduled follow-up sent some hours after this campaign ends. Creating one makes a segment and a
draft (:func:`campaigns.audience.followups.create_follow_up`), audited, and opens the draft.

The page says what cannot be known: "did not read" counts only messages user sessions sent (bots
are never told a read), and a person hiding their read receipts looks unread for ever."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction

from ..audience.followups import (
    KINDS,
    FollowUpRefused,
    create_follow_up,
    follow_up_counts,
    label_for,
    left_out,
)
from ..models import Campaign, CampaignStatus
from ..models.segment_rules import WITHIN_HOURS
from .access import may_see_results
from .campaign_operations import say
from .campaign_views import CampaignView, page_context


def _hours(value: str) -> int | None:
    """A whole number of hours from a form (None when empty), at most a year
    (:data:`campaigns.models.segment_rules.WITHIN_HOURS`, the follow-up's own range being the
    same); FollowUpRefused otherwise."""
    value = (value or "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) not in WITHIN_HOURS:
        raise FollowUpRefused(f"Hours are a whole number {WITHIN_HOURS.words}, not “{value[:20]}”.")
    return int(value)


class FollowUpView(CampaignView):
    """``<id>/follow-up/`` (adding a campaign, and seeing results: the counts are about people).
    GET ``within``: the page with each kind's count now. POST ``kind``, ``within`` (hours, for
    "did not read"), ``when`` ("now" or "after") and ``after`` (hours): create it."""

    def allowed(self, request: HttpRequest, campaign: Campaign) -> bool:
        return self.model_admin.has_add_permission(request) and may_see_results(request)

    def get(self, request: HttpRequest, error: str = "") -> HttpResponse:
        campaign = self.campaign
        try:
            within = _hours(request.GET.get("within", "") or request.POST.get("within", ""))
        except FollowUpRefused as exc:
            within, error = None, str(exc)
        counts = follow_up_counts(campaign, within)
        context = page_context(
            self.model_admin,
            request,
            title="Follow up",
            campaign=campaign,
            kinds=[(kind, label_for(kind, within), counts[kind]) for kind in KINDS],
            within=within or "",
            left_out=left_out(campaign),
            error=error,
            posted=request.POST,
            # Not sent yet: only a scheduled follow-up has anyone to reach.
            unsent=campaign.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED),
        )
        return TemplateResponse(request, "admin/campaigns/campaign/follow_up.html", context)

    def post(self, request: HttpRequest) -> HttpResponse:
        campaign = self.campaign
        try:
            within = _hours(request.POST.get("within", ""))
            after = _hours(request.POST.get("after", "")) if request.POST.get("when") == "after" else None
            if request.POST.get("when") == "after" and after is None:
                raise FollowUpRefused("Say how many hours after this campaign ends the follow-up starts.")
            follow_up = create_follow_up(
                campaign,
                request.POST.get("kind", ""),
                within_hours=within,
                after_hours=after,
                by=request.user,
            )
        except FollowUpRefused as exc:
            return self.get(request, error=str(exc))
        when = f", sent {after} h after “{campaign}” ends once launched" if after else ""
        said = f"Follow-up “{follow_up}” created as a draft{when}: write its message, then launch it."
        audit.record(request, AuditAction.CAMPAIGN_FOLLOW_UP, said, campaign, follow_up)
        say(request, said, messages.SUCCESS)
        return redirect("admin:campaigns_campaign_change", follow_up.pk)
