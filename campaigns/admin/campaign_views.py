"""The campaign admin's extra pages as small view classes, wired in
:meth:`~campaigns.admin.campaign_admin.CampaignAdmin.get_urls` (as Django's admin and
django-post_office do), each wrapped in ``admin_site.admin_view``.

:class:`CampaignView` loads the campaign (404) and checks the permission (403) before any page
runs. Here: the buttons' target (:class:`OperationView`; cancel and resend-unknown confirm first)
and launching through a summary (:class:`LaunchSummaryView`): *Launch…* opens what the launch will
do (:mod:`campaigns.reporting.summary`) and launches only when confirmed, exactly what the summary showed.
The change page's button submits the page's form there: a page with unsaved edits is refused,
since a launch sends what was saved, not what is on screen. The other pages: :mod:`.retry_view`,
:mod:`.winner_view`, :mod:`.send_test_view`, :mod:`.composer_views`. Every page acts on POST
only; a GET shows (or redirects), never changes anything.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.views import View

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction

from ..models import Campaign
from ..reporting.summary import confirm_matches, launch_summary
from . import campaign_operations as operations
from .access import may_see_results
from .campaign_operations import CONFIRMED_OPERATIONS, OPERATIONS, may_run, say

# The change form's button that asks for the summary sends this name with the form's data.
FROM_FORM = "_launch_check"
# Pages whose GET (or button) opens a page of their own rather than acting.
OPERATION_PAGES = {
    "launch": "admin:campaigns_campaign_launch",
    "retry_failed": "admin:campaigns_campaign_retry",
    "choose_winner": "admin:campaigns_campaign_winner",
}


def page_context(model_admin: admin.ModelAdmin, request: HttpRequest, **extra) -> dict:
    """The admin's own context (site header, ``opts``, the admin's media) plus ``extra``."""
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "media": model_admin.media,
        **extra,
    }


def action_context(request: HttpRequest, *, via_action: bool) -> dict:
    """What a page opened by an admin action posts back so the action runs again, confirmed."""
    return {
        "via_action": via_action,
        "action_name": request.POST.get("action", ""),
        "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
    }


class CampaignView(View):
    """One campaign's page: ``model_admin`` (given to :meth:`as_view`) loads the campaign as the
    change page does (Http404 when missing or hidden) and :meth:`allowed` checks the permission
    (PermissionDenied) before :meth:`get` or :meth:`post` run with it."""

    model_admin: admin.ModelAdmin = None

    def allowed(self, request: HttpRequest, campaign: Campaign) -> bool:
        raise NotImplementedError

    def dispatch(self, request: HttpRequest, object_id: str, **kwargs) -> HttpResponse:
        campaign = self.model_admin.get_object(request, object_id)
        if campaign is None:
            raise Http404
        self.campaign = campaign
        self.check(request, **kwargs)
        return super().dispatch(request, **kwargs)

    def check(self, request: HttpRequest, **kwargs) -> None:
        if not self.allowed(request, self.campaign):
            raise PermissionDenied


def confirm_operation_page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Campaign],
    operation: str,
    *,
    via_action: bool,
) -> TemplateResponse:
    """ "Are you sure?" before ``operation`` (cancel, resend unknown) over ``queryset``."""
    context = page_context(
        model_admin,
        request,
        title=f"{OPERATIONS[operation].rstrip('…')}: are you sure?",
        operation=operation,
        campaigns=[(c, c.counts()) for c in queryset],
        **action_context(request, via_action=via_action),
    )
    return TemplateResponse(request, "admin/campaigns/campaign/confirm_operation.html", context)


class OperationView(CampaignView):
    """POST target of the change page's buttons (``do/<operation>/``): launch goes through its
    summary, retry through its dialog, choosing the winner through its page; cancel and
    resend-unknown confirm first. A GET changes nothing: it goes back to the change page."""

    def check(self, request: HttpRequest, operation: str) -> None:
        if operation not in OPERATIONS:
            raise Http404
        if not may_run(self.model_admin, request, operation):
            raise PermissionDenied

    def get(self, request: HttpRequest, operation: str) -> HttpResponse:
        if operation in OPERATION_PAGES:
            return redirect(OPERATION_PAGES[operation], self.campaign.pk)
        return redirect("admin:campaigns_campaign_change", self.campaign.pk)

    def post(self, request: HttpRequest, operation: str) -> HttpResponse:
        campaign = self.campaign
        if operation in OPERATION_PAGES:
            return redirect(OPERATION_PAGES[operation], campaign.pk)
        if operation == "resend_unknown" and operations.nothing_unknown(request, [campaign]):
            return redirect("admin:campaigns_campaign_change", campaign.pk)
        if operation in CONFIRMED_OPERATIONS and "confirmed" not in request.POST:
            one = Campaign.objects.filter(pk=campaign.pk)
            return confirm_operation_page(self.model_admin, request, one, operation, via_action=False)
        if operation == "clone":
            return redirect("admin:campaigns_campaign_change", operations.clone(request, campaign).pk)
        getattr(operations, operation)(request, campaign)
        return redirect("admin:campaigns_campaign_change", campaign.pk)


def launch_summary_page(
    model_admin: admin.ModelAdmin, request: HttpRequest, campaigns: list[Campaign], *, via_action: bool
) -> TemplateResponse:
    """What launching each of ``campaigns`` will do, with the confirmation (its fingerprint)."""
    summaries = [launch_summary(c, personal=may_see_results(request)) for c in campaigns]
    title = "Launch: check before sending"
    if len(summaries) != 1:
        title = f"Launch {len(summaries)} campaigns: check before sending"
    if all(s.history for s in summaries):
        title = "Launched already"
    context = page_context(
        model_admin,
        request,
        title=title,
        summaries=summaries,
        launchable=[s for s in summaries if s.can_launch],
        **action_context(request, via_action=via_action),
    )
    response = TemplateResponse(request, "admin/campaigns/campaign/launch_summary.html", context)
    # Never from the browser's cache: Back to a summary after its launch asks the server again,
    # which then says what happened instead of inviting another launch.
    add_never_cache_headers(response)
    return response


class LaunchSummaryView(CampaignView):
    """GET: the summary. POST from the change page (its form's data): refused when the page
    differs from what is saved, else the summary. POST ``confirmed=<fingerprint>``: launch."""

    def allowed(self, request: HttpRequest, campaign: Campaign) -> bool:
        return self.model_admin.has_launch_permission(request, campaign)

    def get(self, request: HttpRequest) -> HttpResponse:
        return launch_summary_page(self.model_admin, request, [self.campaign], via_action=False)

    def post(self, request: HttpRequest) -> HttpResponse:
        campaign = self.campaign
        if FROM_FORM in request.POST and (changed := self.unsaved_edits(request)):
            say(
                request,
                "Not launched: this page has unsaved edits. Launch sends what was saved, not what is on "
                f"screen: save first ({', '.join(changed)} changed), then launch.",
                messages.ERROR,
            )
            return redirect("admin:campaigns_campaign_change", campaign.pk)
        if FROM_FORM in request.POST:
            # Post/Redirect/Get: the summary is a page of its own in the history, which Back
            # reloads (a page that answered a POST would offer to post the form again).
            return redirect("admin:campaigns_campaign_launch", campaign.pk)
        if "confirmed" in request.POST:
            if confirm_matches(campaign, request.POST.get("confirmed", "")):
                operations.launch(request, campaign)
                return redirect("admin:campaigns_campaign_change", campaign.pk)
            say(
                request,
                "Not launched: the campaign was changed since this summary was shown. Check the summary "
                "below again.",
                messages.ERROR,
            )
        return self.get(request)

    def unsaved_edits(self, request: HttpRequest) -> list[str]:
        """Labels of the change form's fields whose posted value differs from the saved one."""
        form_class = self.model_admin.get_form(request, self.campaign, change=True)
        form = form_class(request.POST, request.FILES, instance=self.campaign)
        return [str(form.fields[name].label or name) for name in form.changed_data]


def launch_selection(model_admin: admin.ModelAdmin, request: HttpRequest, campaigns: list[Campaign]):
    """The *Launch selected campaigns…* action: first the summary of each; then each campaign
    confirmed with its fingerprint is launched, one changed meanwhile is not."""
    if "confirmed" not in request.POST:
        return launch_summary_page(model_admin, request, campaigns, via_action=True)
    for campaign in campaigns:
        if confirm_matches(campaign, request.POST.get(f"fingerprint_{campaign.pk}", "")):
            operations.launch(request, campaign)
            continue
        audit.record(
            request, AuditAction.CAMPAIGN_LAUNCH, "Launch refused: changed since its summary.", campaign
        )
        say(
            request,
            f"“{campaign}” was not launched: it was changed since its summary was shown (or it "
            "could not be launched then).",
            messages.ERROR,
        )
    return None
