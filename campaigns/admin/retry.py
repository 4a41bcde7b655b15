"""The *Retry failed* dialog: retryable failures (Telegram or the network failed) are ticked, the
permanent ones (blocked, no account, privacy) are listed apart, unticked, each with its count and
a plain explanation; re-sending to people who blocked us takes a second, explicit confirmation."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from ..models import Campaign, CampaignStatus, ResultTally
from ..reporting.errorcodes import split_by_retry


class RetryDialog:
    """Mixed into :class:`~campaigns.admin.campaigns.CampaignAdmin`."""

    def retry_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        campaign = self.get_object(request, object_id)
        if campaign is None:
            raise Http404
        if not self.may_run(request, "retry_failed"):
            raise PermissionDenied
        return self.retry_dialog(request, [campaign], via_action=False)

    def retry_dialog(self, request: HttpRequest, campaigns: list[Campaign], *, via_action: bool):
        """GET (or an action's first POST): the dialog. POST with ``confirmed``: retry the ticked
        codes of each campaign, refusing permanent ones without ``confirm_permanent``."""
        campaigns = [c for c in campaigns if c.status != CampaignStatus.CANCELLED]
        counts: dict[str, int] = {}
        for campaign in campaigns:
            for code, n in ResultTally.objects.errors(campaign.pk).items():
                counts[code] = counts.get(code, 0) + n
        retryable, permanent = split_by_retry(counts)
        back = "admin:campaigns_campaign_changelist" if via_action else "admin:campaigns_campaign_change"
        back_args = [] if via_action else [campaigns[0].pk] if campaigns else []
        if not counts:
            self.message_user(request, "No failed message to retry.", messages.WARNING)
            return redirect(back, *back_args)
        error = ""
        if request.method == "POST" and "confirmed" in request.POST:
            chosen = [c for c in request.POST.getlist("codes") if c in counts]
            permanent_chosen = [c for c in chosen if c in {e.code for e, _ in permanent}]
            if not chosen:
                error = "Tick at least one kind of failure to retry."
            elif permanent_chosen and "confirm_permanent" not in request.POST:
                n = sum(counts[c] for c in permanent_chosen)
                error = (
                    f"You ticked {n} permanent failure{'s' if n != 1 else ''} ({', '.join(permanent_chosen)}): "
                    "tick the confirmation below to message those people again, or untick them."
                )
            else:
                for campaign in campaigns:
                    self.retry_failed(request, campaign, codes=chosen)
                return redirect(back, *back_args)
        chosen = set(request.POST.getlist("codes")) if error else {e.code for e, _ in retryable}
        context = {
            **self.admin_site.each_context(request),
            "title": "Retry failed messages",
            "opts": self.opts,
            "campaigns": campaigns,
            "retryable": retryable,
            "permanent": permanent,
            "retryable_total": sum(n for _, n in retryable),
            "permanent_total": sum(n for _, n in permanent),
            "chosen": chosen,
            "error": error,
            "via_action": via_action,
            "action_name": request.POST.get("action", ""),
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "media": self.media,
        }
        return TemplateResponse(request, "admin/campaigns/campaign/retry.html", context)
