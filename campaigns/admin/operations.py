"""The campaign operations as buttons and admin actions: launch (after its summary, see
:mod:`.launching`), pause, resume, cancel, retry failed (after its dialog, :mod:`.retry`), resend
unknown, clone. Each is a thin caller of :mod:`campaigns.engine` (or the model), recorded in the
audit trail; the campaign decides which make sense (:meth:`Campaign.operations`), the user's
permissions which are offered."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction

from .. import engine
from ..models import Campaign, CampaignStatus, MessageResult, ResultStatus
from ..timezones import when

# Button labels of the operations a campaign offers (Campaign.operations decides which; clone is
# offered for every campaign). A label ending in "…" opens a page first (a summary, a dialog).
OPERATIONS = {
    "launch": "Launch…",
    "pause": "Pause",
    "resume": "Resume",
    "cancel": "Cancel…",
    "retry_failed": "Retry failed…",
    "resend_unknown": "Resend unknown…",
    "choose_winner": "Choose the winner…",
    "clone": "Clone",
}
CONFIRMED_OPERATIONS = ("cancel", "resend_unknown")
# The permission each operation needs (CampaignAdmin.has_<name>_permission).
OPERATION_PERMISSIONS = {op: "control" for op in OPERATIONS} | {"launch": "launch", "clone": "add"}


class CampaignOperations:
    """Mixed into :class:`~campaigns.admin.campaigns.CampaignAdmin`."""

    def may_run(self, request: HttpRequest, operation: str) -> bool:
        return getattr(self, f"has_{OPERATION_PERMISSIONS[operation]}_permission")(request)

    def offered(self, request: HttpRequest, campaign: Campaign, counts: dict[str, int]) -> dict[str, str]:
        """Operation → label, for the buttons of ``campaign``'s page."""
        ops = [*campaign.operations(counts), "clone"]
        return {op: OPERATIONS[op] for op in ops if self.may_run(request, op)}

    def operation_view(self, request: HttpRequest, object_id: str, operation: str) -> HttpResponse:
        """POST target of the change page's buttons; cancel and resend-unknown confirm first,
        launch goes through its summary and retry through its dialog."""
        campaign = self.get_object(request, object_id)
        if campaign is None or operation not in OPERATIONS:
            raise Http404
        if not self.may_run(request, operation):
            raise PermissionDenied
        if operation == "launch":
            return redirect("admin:campaigns_campaign_launch", campaign.pk)
        if operation == "retry_failed":
            return redirect("admin:campaigns_campaign_retry", campaign.pk)
        if operation == "choose_winner":
            return redirect("admin:campaigns_campaign_winner", campaign.pk)
        if request.method != "POST":
            return redirect("admin:campaigns_campaign_change", campaign.pk)
        if operation == "resend_unknown" and self._nothing_unknown(request, [campaign]):
            return redirect("admin:campaigns_campaign_change", campaign.pk)
        if operation in CONFIRMED_OPERATIONS and "confirmed" not in request.POST:
            return self._confirm(
                request, Campaign.objects.filter(pk=campaign.pk), operation, via_action=False
            )
        if operation == "clone":
            copy = self.clone(request, campaign)
            return redirect("admin:campaigns_campaign_change", copy.pk)
        getattr(self, operation)(request, campaign)
        return redirect("admin:campaigns_campaign_change", campaign.pk)

    def _nothing_unknown(self, request: HttpRequest, campaigns: list[Campaign]) -> bool:
        """True (and says so) when no row of ``campaigns`` has an unknown outcome: there is
        nothing to resend, so nothing to confirm."""
        if MessageResult.objects.filter(campaign__in=campaigns, status=ResultStatus.UNKNOWN).exists():
            return False
        names = ", ".join(f"“{c}”" for c in campaigns)
        self.message_user(
            request, f"{names}: no message has an unknown outcome, so there is nothing to resend."
        )
        return True

    def _confirm(
        self, request: HttpRequest, queryset: QuerySet[Campaign], operation: str, *, via_action: bool
    ):
        context = {
            **self.admin_site.each_context(request),
            "title": f"{OPERATIONS[operation].rstrip('…')}: are you sure?",
            "opts": self.opts,
            "operation": operation,
            "campaigns": [(c, c.counts()) for c in queryset],
            "via_action": via_action,
            "action_name": request.POST.get("action", ""),
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
        }
        return TemplateResponse(request, "admin/campaigns/campaign/confirm_operation.html", context)

    # Operations: one campaign each, called by the buttons and the actions ----------------------
    def launch(self, request: HttpRequest, campaign: Campaign) -> None:
        try:
            counts = engine.launch(campaign)
        except engine.LaunchError as exc:
            self.message_user(request, f"“{campaign}” was not launched: {exc}", messages.ERROR)
            audit.record(request, AuditAction.CAMPAIGN_LAUNCH, f"Launch refused: {exc}", campaign)
            return
        campaign.refresh_from_db(fields=["status", "scheduled_at"])
        if campaign.status == CampaignStatus.LAUNCHING:
            said = (
                f"“{campaign}” is being prepared in the background ({engine.recipients_estimate(campaign)} "
                "recipients in its lists); sending starts when they are ready. This page shows its progress."
            )
        elif campaign.status == CampaignStatus.SCHEDULED:
            said = f"“{campaign}” is scheduled to start at {when(campaign.scheduled_at)}."
        else:
            counts = dict(counts or {})
            total = counts.pop("total", sum(counts.values()))
            summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
            said = f"“{campaign}” launched: {total} recipients ({summary})."
        audit.record(request, AuditAction.CAMPAIGN_LAUNCH, said, campaign)
        self.message_user(request, said, messages.SUCCESS)

    def pause(self, request: HttpRequest, campaign: Campaign) -> None:
        if engine.pause(campaign, reason=f"Paused by {request.user.get_username()}"):
            audit.record(request, AuditAction.CAMPAIGN_PAUSE, f"“{campaign}” paused.", campaign)
            self.message_user(
                request,
                f"“{campaign}” paused: no session sends again until you resume it. You may change its "
                "sessions meanwhile.",
            )
        else:
            self.message_user(
                request, f"“{campaign}” is not running, so it was not paused.", messages.WARNING
            )

    def resume(self, request: HttpRequest, campaign: Campaign) -> None:
        if campaign.waits_for_winner(campaign.counts()):
            self.message_user(
                request,
                f"“{campaign}” was not resumed: only the recipients held for the winner are left. "
                "Choose the winner (Choose the winner…) to send it to them.",
                messages.WARNING,
            )
            return
        if engine.resume(campaign):
            audit.record(request, AuditAction.CAMPAIGN_RESUME, f"“{campaign}” resumed.", campaign)
            self.message_user(request, f"“{campaign}” resumed.", messages.SUCCESS)
        else:
            self.message_user(
                request, f"“{campaign}” is not paused, so it was not resumed.", messages.WARNING
            )

    def cancel(self, request: HttpRequest, campaign: Campaign) -> None:
        n = engine.cancel(campaign)
        audit.record(request, AuditAction.CAMPAIGN_CANCEL, f"“{campaign}” cancelled: {n} unsent.", campaign)
        self.message_user(
            request, f"“{campaign}” cancelled: {n} unsent messages will not be sent.", messages.SUCCESS
        )

    def retry_failed(self, request: HttpRequest, campaign: Campaign, codes: list[str] | None = None) -> None:
        n = engine.retry_failed(campaign) if codes is None else engine.retry_failed(campaign, codes=codes)
        which = f" ({', '.join(codes)})" if codes else ""
        audit.record(
            request, AuditAction.CAMPAIGN_RETRY, f"“{campaign}”: {n} failed queued again{which}.", campaign
        )
        level = messages.SUCCESS if n else messages.WARNING
        self.message_user(
            request, f"“{campaign}”: {n} failed messages queued to be sent again{which}.", level
        )

    def resend_unknown(self, request: HttpRequest, campaign: Campaign) -> None:
        n = engine.resend_unknown(campaign)
        audit.record(
            request, AuditAction.CAMPAIGN_RESEND, f"“{campaign}”: {n} unknown queued again.", campaign
        )
        level = messages.SUCCESS if n else messages.WARNING
        self.message_user(
            request, f"“{campaign}”: {n} messages of unknown outcome queued to be sent again.", level
        )

    def clone(self, request: HttpRequest, campaign: Campaign) -> Campaign:
        copy = campaign.clone(by=request.user)
        audit.record(request, AuditAction.CAMPAIGN_CLONE, f"Cloned from “{campaign}” (#{campaign.pk}).", copy)
        self.message_user(
            request,
            f"“{copy}” is a new draft with the message, lists, sessions and settings of “{campaign}”, "
            "and no results. Change what you need, save, then launch it.",
            messages.SUCCESS,
        )
        return copy

    # Admin actions: the same operations over a selection ---------------------------------------
    @admin.action(description="Pause selected campaigns", permissions=["control"])
    def pause_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            self.pause(request, campaign)

    @admin.action(description="Resume selected campaigns", permissions=["control"])
    def resume_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            self.resume(request, campaign)

    @admin.action(description="Cancel selected campaigns…", permissions=["control"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]):
        if "confirmed" not in request.POST:
            return self._confirm(request, queryset, "cancel", via_action=True)
        for campaign in queryset:
            self.cancel(request, campaign)

    @admin.action(description="Retry failed messages of selected campaigns…", permissions=["control"])
    def retry_failed_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]):
        """Retryable failures by default; permanent ones only when ticked (:mod:`.retry`)."""
        return self.retry_dialog(request, list(queryset), via_action=True)

    @admin.action(description="Resend messages of unknown outcome…", permissions=["control"])
    def resend_unknown_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]):
        """Unknown rows may have arrived: they are re-sent only after this explicit confirmation."""
        if self._nothing_unknown(request, list(queryset)):
            return None
        if "confirmed" not in request.POST:
            return self._confirm(request, queryset, "resend_unknown", via_action=True)
        for campaign in queryset:
            self.resend_unknown(request, campaign)

    @admin.action(description="Clone selected campaigns (as new drafts)", permissions=["add"])
    def clone_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            self.clone(request, campaign)
