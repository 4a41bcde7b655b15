"""The *Retry failed* dialog: retryable failures (Telegram or the network failed) are ticked, the
permanent ones (blocked, no account, privacy) are listed apart, unticked, each with its count and
a plain explanation; re-sending to people who blocked us takes a second, explicit confirmation.
Opened from the change page (:class:`RetryView`) and by the admin action over a selection."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from ..models import Campaign, CampaignStatus, ResultTally
from ..reporting.errorcodes import split_by_retry
from . import campaign_operations as operations
from .campaign_operations import may_run, say
from .campaign_views import CampaignView, action_context, page_context


class RetryView(CampaignView):
    """``<id>/retry/``: the dialog for one campaign (``control_campaign``)."""

    def allowed(self, request: HttpRequest, campaign: Campaign) -> bool:
        return may_run(self.model_admin, request, "retry_failed")

    def get(self, request: HttpRequest) -> HttpResponse:
        return retry_dialog(self.model_admin, request, [self.campaign], via_action=False)

    post = get


def error_counts(campaigns: list[Campaign]) -> dict[str, int]:
    """Error code → failed rows over ``campaigns``, from the tally."""
    counts: dict[str, int] = {}
    for campaign in campaigns:
        for code, n in ResultTally.objects.errors(campaign.pk).items():
            counts[code] = counts.get(code, 0) + n
    return counts


def chosen_codes(request: HttpRequest, counts: dict[str, int], permanent: list) -> tuple[list[str], str]:
    """The ticked codes of a confirmed POST, and the error that refuses them ("" when none)."""
    chosen = [c for c in request.POST.getlist("codes") if c in counts]
    permanent_chosen = [c for c in chosen if c in {e.code for e, _ in permanent}]
    if not chosen:
        return chosen, "Tick at least one kind of failure to retry."
    if permanent_chosen and "confirm_permanent" not in request.POST:
        n = sum(counts[c] for c in permanent_chosen)
        return chosen, (
            f"You ticked {n} permanent failure{'s' if n != 1 else ''} ({', '.join(permanent_chosen)}): "
            "tick the confirmation below to message those people again, or untick them."
        )
    return chosen, ""


def retry_dialog(
    model_admin: admin.ModelAdmin, request: HttpRequest, campaigns: list[Campaign], *, via_action: bool
):
    """GET (or an action's first POST): the dialog. POST with ``confirmed``: retry the ticked
    codes of each campaign, refusing permanent ones without ``confirm_permanent``."""
    campaigns = [c for c in campaigns if c.status != CampaignStatus.CANCELLED]
    counts = error_counts(campaigns)
    retryable, permanent = split_by_retry(counts)
    back = "admin:campaigns_campaign_changelist" if via_action else "admin:campaigns_campaign_change"
    back_args = [] if via_action else [campaigns[0].pk] if campaigns else []
    if not counts:
        say(request, "No failed message to retry.", messages.WARNING)
        return redirect(back, *back_args)
    error = ""
    if request.method == "POST" and "confirmed" in request.POST:
        chosen, error = chosen_codes(request, counts, permanent)
        if not error:
            for campaign in campaigns:
                operations.retry_failed(request, campaign, codes=chosen)
            return redirect(back, *back_args)
    context = page_context(
        model_admin,
        request,
        title="Retry failed messages",
        campaigns=campaigns,
        retryable=retryable,
        permanent=permanent,
        retryable_total=sum(n for _, n in retryable),
        permanent_total=sum(n for _, n in permanent),
        chosen=set(request.POST.getlist("codes")) if error else {e.code for e, _ in retryable},
        error=error,
        **action_context(request, via_action=via_action),
    )
    return TemplateResponse(request, "admin/campaigns/campaign/retry.html", context)
