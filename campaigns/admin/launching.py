"""Launching through a summary: *Launch…* (the button and the list action) opens what the launch
will do (:mod:`campaigns.summary`) and launches only when confirmed, exactly what the summary
showed. The change page's button submits the page's form here: a page with unsaved edits is
refused, since a launch sends what was saved, not what is on screen."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction

from ..models import Campaign
from ..summary import confirm_matches, launch_summary
from .access import may_see_results

# The change form's button that asks for the summary sends this name with the form's data.
FROM_FORM = "_launch_check"


class LaunchViews:
    """Mixed into :class:`~campaigns.admin.campaigns.CampaignAdmin`."""

    def launch_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: the summary. POST from the change page (its form's data): refused when the page
        differs from what is saved, else the summary. POST ``confirmed=<fingerprint>``: launch."""
        campaign = self.get_object(request, object_id)
        if campaign is None:
            raise Http404
        if not self.has_launch_permission(request, campaign):
            raise PermissionDenied
        if request.method == "POST" and FROM_FORM in request.POST and self._unsaved_edits(request, campaign):
            self.message_user(
                request,
                "Not launched: this page has unsaved edits. Launch sends what was saved, not what is on "
                f"screen: save first ({', '.join(self._unsaved_edits(request, campaign))} changed), then launch.",
                messages.ERROR,
            )
            return redirect("admin:campaigns_campaign_change", campaign.pk)
        if request.method == "POST" and "confirmed" in request.POST:
            if confirm_matches(campaign, request.POST.get("confirmed", "")):
                self.launch(request, campaign)
                return redirect("admin:campaigns_campaign_change", campaign.pk)
            self.message_user(
                request,
                "Not launched: the campaign was changed since this summary was shown. Check the summary "
                "below again.",
                messages.ERROR,
            )
        return self._summary_page(request, [campaign], via_action=False)

    def _unsaved_edits(self, request: HttpRequest, campaign: Campaign) -> list[str]:
        """Labels of the change form's fields whose posted value differs from the saved one."""
        form_class = self.get_form(request, campaign, change=True)
        form = form_class(request.POST, request.FILES, instance=campaign)
        return [str(form.fields[name].label or name) for name in form.changed_data]

    def _summary_page(self, request: HttpRequest, campaigns: list[Campaign], *, via_action: bool):
        personal = may_see_results(request)
        summaries = [launch_summary(c, personal=personal) for c in campaigns]
        context = {
            **self.admin_site.each_context(request),
            "title": "Launch: check before sending"
            if len(summaries) == 1
            else f"Launch {len(summaries)} campaigns: check before sending",
            "opts": self.opts,
            "summaries": summaries,
            "launchable": [s for s in summaries if s.can_launch],
            "via_action": via_action,
            "action_name": request.POST.get("action", ""),
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "media": self.media,
        }
        return TemplateResponse(request, "admin/campaigns/campaign/launch_summary.html", context)

    @admin.action(description="Launch selected campaigns…", permissions=["launch"])
    def launch_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]):
        """First the summary of each; then each campaign confirmed with its fingerprint is
        launched, one changed meanwhile is not."""
        campaigns = list(queryset)
        if "confirmed" not in request.POST:
            return self._summary_page(request, campaigns, via_action=True)
        for campaign in campaigns:
            if confirm_matches(campaign, request.POST.get(f"fingerprint_{campaign.pk}", "")):
                self.launch(request, campaign)
            else:
                audit.record(
                    request,
                    AuditAction.CAMPAIGN_LAUNCH,
                    "Launch refused: changed since its summary.",
                    campaign,
                )
                self.message_user(
                    request,
                    f"“{campaign}” was not launched: it was changed since its summary was shown (or it "
                    "could not be launched then).",
                    messages.ERROR,
                )
        return None
