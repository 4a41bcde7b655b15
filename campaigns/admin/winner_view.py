"""*Choose the winner…*: an A/B test's page of each variant's wording, its sent and failed counts
and its read and reply rates with the sample size (the after-the-send report's test figures), with
a radio; choosing sends the winning wording to the held recipients
(:func:`campaigns.engine.choose_winner`), through :class:`WinnerView`."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction

from .. import engine
from ..content.variants import labels_of, text_of
from ..models import Campaign, ResultStatus
from ..reporting.report import MIN_SAMPLE, TOO_FEW, build_report
from .campaign_operations import say
from .campaign_views import CampaignView, page_context


def variant_counts(campaign: Campaign, by_variant: list[dict] | None = None) -> list[dict]:
    """Per variant label: ``text`` (its template source, as saved), ``sent``, ``failed``,
    ``to_send`` (not settled yet) and ``rate`` (sent of settled, percent; None before any is
    settled), plus the test's figures from ``by_variant`` (the after-the-send report's rows):
    ``n``, ``read``, ``replied``, ``user_sent``, ``read_rate_display``, ``reply_rate_display``
    and ``note`` ("too few to compare (n = 4, …)"). One grouped read of the campaign's rows."""
    figures = {row["variant"]: row for row in by_variant or []}
    rows = (
        campaign.results.exclude(variant="")
        .values_list("variant", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    by: dict[str, dict[str, int]] = {}
    for variant, status, n in rows:
        by.setdefault(variant, {})[status] = n
    found = []
    for label in labels_of(campaign.variants):
        counts = by.get(label, {})
        sent, failed = counts.get(ResultStatus.SENT, 0), counts.get(ResultStatus.FAILED, 0)
        settled = sent + failed
        tested = figures.get(label, {})
        n = tested.get("n", 0)
        found.append(
            {
                "label": label,
                "text": text_of(campaign.message, campaign.variants, label),
                "n": n,
                "read": tested.get("read", 0),
                "replied": tested.get("replied", 0),
                "user_sent": tested.get("user_sent", 0),
                "read_rate_display": tested.get("read_rate_display", "—"),
                "reply_rate_display": tested.get("reply_rate_display", "—"),
                "note": tested.get("note")
                or (f"{TOO_FEW} (n = {n}, fewer than {MIN_SAMPLE} sent)" if n < MIN_SAMPLE else ""),
                "sent": sent,
                "failed": failed,
                "to_send": sum(
                    counts.get(s, 0)
                    for s in (ResultStatus.PENDING, ResultStatus.CLAIMED, ResultStatus.SENDING)
                ),
                "rate": round(100 * sent / settled, 1) if settled else None,
            }
        )
    return found


class WinnerView(CampaignView):
    """``<id>/winner/`` (``control_campaign``). GET: the variants' counts and a radio. POST
    ``variant``: choose it; a refused choice shows the page again with the reason."""

    def allowed(self, request: HttpRequest, campaign: Campaign) -> bool:
        return self.model_admin.has_control_permission(request, campaign)

    def get(self, request: HttpRequest, error: str = "") -> HttpResponse:
        campaign = self.campaign
        context = page_context(
            self.model_admin,
            request,
            title="Choose the winner",
            campaign=campaign,
            variants=variant_counts(campaign, build_report(campaign)["by_variant"]),
            min_sample=MIN_SAMPLE,
            held=campaign.results.filter(status=ResultStatus.HELD).count(),
            error=error,
        )
        return TemplateResponse(request, "admin/campaigns/campaign/winner.html", context)

    def post(self, request: HttpRequest) -> HttpResponse:
        campaign, label = self.campaign, request.POST.get("variant", "").strip()
        if not label:
            return self.get(
                request, error="Choose one of the variants first: its wording goes to the held recipients."
            )
        try:
            n = engine.choose_winner(campaign, label)
        except engine.WinnerRefused as exc:
            return self.get(request, error=str(exc))
        said = f"Variant {label} won “{campaign}”: it goes to the {n} held recipients."
        audit.record(request, AuditAction.CAMPAIGN_WINNER, said, campaign)
        say(request, said, messages.SUCCESS)
        return redirect("admin:campaigns_campaign_change", campaign.pk)
