"""What the campaign's add and change pages show besides the form: the composer (the live
preview under the message, on the add page too) and, once saved, the panel (progress, the
launch check, the operations offered, the after-the-send report, the follow-ups). Read-only: the pages' actions
are :mod:`.campaign_views`."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation

from ..content.composer import Draft, compose_preview, first_recipient
from ..content.preview import campaign_preview
from ..models import Campaign, CampaignStatus
from ..people.timezones import when
from ..reporting.page_cache import campaign_state, reused
from ..reporting.progress import live_progress
from ..reporting.report import after_send_report, polling
from .access import may_export_results, may_see_results
from .campaign_operations import offered
from .campaign_views import FROM_FORM
from .composer_views import may_compose, posted_draft, with_who


def composer_context(model_admin: admin.ModelAdmin, request: HttpRequest, campaign: Campaign | None) -> dict:
    """The composer's first preview and its endpoints. The preview is of the message in the box:
    the saved one (or none) when the page is opened, the posted one when the page comes back with
    a form error (never "the message is empty" beside a full box)."""
    personal = may_see_results(request)
    composing = may_compose(model_admin, request)

    def drafted() -> Draft:
        if request.method == "POST" and "message" in request.POST and composing:
            return posted_draft(request, campaign)
        if campaign is None:
            return Draft()
        return Draft(
            message=campaign.message,
            parse_mode=campaign.parse_mode,
            has_media=bool(campaign.media),
            list_ids=list(campaign.lists.values_list("pk", flat=True)),
            segment_ids=list(campaign.segments.values_list("pk", flat=True)),
        )

    def preview() -> dict:
        draft = drafted()  # read only when the preview is drawn, not when it is reused
        recipient = first_recipient(draft) if personal and (draft.list_ids or draft.segment_ids) else None
        return with_who(compose_preview(draft, recipient, personal=personal), personal=personal)

    if campaign is not None and request.method == "GET":
        # The saved message's preview reads a sample of up to 2,000 recipients: reused briefly.
        composer = reused("composer", (campaign.pk, campaign_state(campaign), personal), preview)
    else:
        composer = preview()
    return {
        "composer": composer,
        "composer_urls": {
            "preview": reverse("admin:campaigns_campaign_composer_preview"),
            "recipients": reverse("admin:campaigns_campaign_composer_recipients") if personal else "",
            "default": reverse("admin:campaigns_campaign_composer_default") if composing else "",
        },
        "composer_campaign": campaign.pk if campaign else "",
        "media_url": campaign.media.url if campaign is not None and campaign.media else "",
    }


def panel_context(model_admin: admin.ModelAdmin, request: HttpRequest, campaign: Campaign) -> dict:
    """The change page's panel: progress, launch check, buttons, links and the report."""
    snapshot = live_progress(campaign)
    results = may_see_results(request)
    state = campaign_state(campaign)
    counts = snapshot["counts"] | {"total": snapshot["total"]}
    results_url = reverse("admin:campaigns_messageresult_changelist") + f"?campaign__id__exact={campaign.pk}"
    return {
        "progress": snapshot,
        # The block as drawn from this snapshot, for this viewer (its links need a permission).
        "progress_key": (
            f"{campaign.pk}:{state}:{snapshot['updated_at']}:{timezone.get_current_timezone_name()}:"
            f"{translation.get_language()}:{request.user.has_perm('campaigns.change_recipientlist')}"
        ),
        "preview": reused(
            "preview", (campaign.pk, state, results), lambda: campaign_preview(campaign, personal=results)
        ),
        "operations": offered(model_admin, request, campaign, counts),
        "launch_form_field": FROM_FORM,
        "can_test": model_admin.has_send_test_permission(request, campaign)
        and campaign.status != CampaignStatus.CANCELLED,
        "simulated_sessions": [s.name for s in campaign.sessions.all() if s.is_simulated],
        "scheduled_display": when(campaign.scheduled_at) if campaign.scheduled_at else "",
        "progress_url": reverse("campaigns:progress", args=[campaign.pk]),
        "charts_url": reverse("campaigns:charts", args=[campaign.pk]),
        "export_url": reverse("campaigns:export", args=[campaign.pk]) if may_export_results(request) else "",
        "results_url": results_url if results else "",
        # After the send: for staff who may see results, once the campaign has rows.
        "report": _report(campaign) if results and snapshot["total"] else None,
        "report_url": reverse("campaigns:report", args=[campaign.pk]),
        "report_polling": polling(campaign),
        **follow_up_context(model_admin, request, campaign),
    }


def follow_up_context(model_admin: admin.ModelAdmin, request: HttpRequest, campaign: Campaign) -> dict:
    """*Follow up…* (for staff who may add campaigns and see results; on a draft too: a scheduled
    follow-up is made with the campaign), the follow-ups made from it, and the campaign it follows
    up, with when."""
    allowed = model_admin.has_add_permission(request) and may_see_results(request)
    follow_ups = (
        Campaign.objects.filter(Q(follow_up_of=campaign) | Q(segments__follow_up_of=campaign))
        .distinct()
        .order_by("created_at")
        .only("name", "status", "follow_up_hours", "follow_up_of", "created_at")  # what the link shows
    )
    first = campaign.follow_up_of if campaign.follow_up_hours else None
    return {
        "follow_up_url": reverse("admin:campaigns_campaign_follow_up", args=[campaign.pk])
        if allowed and campaign.status != CampaignStatus.CANCELLED
        else "",
        "follow_ups": list(follow_ups),
        "follows_up": first,
        "follow_up_due": when(campaign.follow_up_due()) if first and campaign.follow_up_due() else "",
    }


def _report(campaign: Campaign) -> dict:
    """The after-the-send report (cached by its own key, which costs three queries to make),
    reused as the page's other blocks are (in the viewer's time zone: its chart is cut in it)."""
    return reused("report", (campaign.pk, campaign_state(campaign)), lambda: after_send_report(campaign))
