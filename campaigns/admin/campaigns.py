"""Admin for campaigns: compose, the change page with its buttons, progress and preview, and the
operations (launch, pause, resume, cancel, retry failed, resend unknown) as buttons and actions.

Every button and action is a thin caller of :mod:`campaigns.engine`; the campaign decides which
operations make sense (:meth:`Campaign.operations`), the user's permissions which of them are
offered (launching needs ``launch_campaign``, the others ``control_campaign``, exporting the
results' ``export_messageresult``), and each one is recorded in the audit trail.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from .. import audit, engine
from ..content.preview import campaign_preview
from ..exports import campaign_csv_response, campaigns_csv_response
from ..models import AuditAction, Campaign, CampaignStatus, MessageResult, ResultStatus
from ..progress import STATUS_COLOURS, progress_snapshot
from .access import may_export_results, may_see_results
from .display import file_size
from .forms import CampaignForm
from .scale import count_results

# Fields fixed once a campaign has left draft: rows were materialised from them.
LOCKED_AFTER_LAUNCH = (
    "parse_mode",
    "message",
    "media",
    "media_type",
    "lists",
    "sessions",
    "strategy",
    "scheduled_at",
)
# Button labels of the operations a campaign offers (Campaign.operations decides which).
OPERATIONS = {
    "launch": "Launch",
    "pause": "Pause",
    "resume": "Resume",
    "cancel": "Cancel",
    "retry_failed": "Retry failed",
    "resend_unknown": "Resend unknown",
}
CONFIRMED_OPERATIONS = ("cancel", "resend_unknown")
# The permission each operation needs (CampaignAdmin.has_<name>_permission).
OPERATION_PERMISSIONS = {op: "launch" if op == "launch" else "control" for op in OPERATIONS}


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = ("name", "status_badge", "progress", "strategy", "sessions_list", "launched")
    list_filter = ("status", "strategy")
    search_fields = ("name",)
    date_hierarchy = "created_at"
    actions = [
        "launch_selected",
        "pause_selected",
        "resume_selected",
        "cancel_selected",
        "retry_failed_selected",
    ]
    actions += ["resend_unknown_selected", "export_selected"]
    readonly_fields = ("status", "status_reason", "launched_at", "finished_at", "created_by", "media_summary")
    fieldsets = (
        (None, {"fields": ("name", "status", "status_reason")}),
        ("Message", {"fields": ("parse_mode", "message", "media", "media_type", "media_summary")}),
        ("Recipients", {"fields": ("lists",)}),
        (
            "Sending",
            {
                "fields": (
                    "sessions",
                    "strategy",
                    "delay_seconds",
                    "max_attempts",
                    "priority",
                    "scheduled_at",
                )
            },
        ),
        ("History", {"fields": ("created_by", "launched_at", "finished_at"), "classes": ("collapse",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_total=count_results(),
                n_sent=count_results(ResultStatus.SENT),
                n_failed=count_results(ResultStatus.FAILED),
                n_skipped=count_results(ResultStatus.SKIPPED),
            )
            .prefetch_related("sessions")
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> tuple[str, ...]:
        if obj is not None and obj.status != CampaignStatus.DRAFT:
            return self.readonly_fields + LOCKED_AFTER_LAUNCH
        return self.readonly_fields

    def has_launch_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return request.user.has_perm("campaigns.launch_campaign")

    def has_control_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return request.user.has_perm("campaigns.control_campaign")

    def has_export_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return may_export_results(request)

    def may_run(self, request: HttpRequest, operation: str) -> bool:
        return getattr(self, f"has_{OPERATION_PERMISSIONS[operation]}_permission")(request)

    def has_delete_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        """A campaign that may still send is cancelled, not deleted: its rows are the record."""
        if obj is not None and obj.is_live:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Campaign, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """After the lists are saved, tell staff now about problems that would refuse the launch."""
        super().save_related(request, form, formsets, change)
        for problem in campaign_preview(form.instance).problems:
            self.message_user(request, f"Before launch: {problem}", messages.WARNING)

    # Columns -------------------------------------------------------------------------------------
    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Campaign) -> str:
        return format_html('<span class="tgc-badge tgc-{}">{}</span>', obj.status, obj.get_status_display())

    @admin.display(description="Progress", ordering="n_total")
    def progress(self, obj: Campaign) -> str:
        """Counts in words under a bar of the same parts ("4 sent · 3 skipped of 7"), zeros left out."""
        if not obj.n_total:
            return "—"
        parts = [(obj.n_sent, "sent"), (obj.n_failed, "failed"), (obj.n_skipped, "skipped")]
        bar = format_html_join(
            "",
            '<span style="width:{}%;background:{}"></span>',
            ((100 * n / obj.n_total, STATUS_COLOURS[status]) for n, status in parts),
        )
        words = " · ".join(f"{n} {status}" for n, status in parts if n) or "0 sent"
        return format_html(
            '<span class="tgc-minibar">{}</span><span class="tgc-nowrap">{} of {}</span>',
            bar,
            words,
            obj.n_total,
        )

    @admin.display(description="Sessions")
    def sessions_list(self, obj: Campaign) -> str:
        sessions = list(obj.sessions.all())  # prefetched
        names = ", ".join(s.name for s in sessions) or "—"
        if sessions and all(s.is_simulated for s in sessions):
            return format_html(
                '{} <span class="tgc-sim" title="Simulated sessions: no real messages">SIMULATOR</span>',
                names,
            )
        return names

    @admin.display(description="Launched", ordering="launched_at")
    def launched(self, obj: Campaign) -> str:
        if not obj.launched_at:
            return "—"
        return timezone.localtime(obj.launched_at).strftime("%Y-%m-%d %H:%M")

    @admin.display(description="Media details")
    def media_summary(self, obj: Campaign) -> str:
        info = obj.media_info or {}
        if not info:
            return "—"
        size = f"{info['width']}×{info['height']}" if info.get("width") and info.get("height") else ""
        bits = [info.get("media_type", ""), info.get("mime_type", ""), size]
        if info.get("duration"):
            bits.append(f"{float(info['duration']):.1f} s")
        if info.get("size"):
            bits.append(file_size(int(info["size"])))
        if info.get("media_type") == "video":
            bits.append(f"streaming: {'yes' if info.get('supports_streaming') else 'no'}")
        summary = " · ".join(str(b) for b in bits if b)
        if info.get("note"):
            summary += f" — {info['note']}"
        return summary

    # The change page: status, buttons, progress, preview --------------------------------------
    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        campaign = self.get_object(request, object_id)
        if campaign is not None:
            extra_context = {**(extra_context or {}), **self._panel_context(request, campaign)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _panel_context(self, request: HttpRequest, campaign: Campaign) -> dict:
        snapshot = progress_snapshot(campaign)
        counts = snapshot["counts"]
        offered = {op: OPERATIONS[op] for op in campaign.operations(counts) if self.may_run(request, op)}
        simulated = [s.name for s in campaign.sessions.all() if s.is_simulated]
        results = may_see_results(request)
        return {
            "progress": snapshot,
            "preview": campaign_preview(campaign, personal=results),
            "operations": offered,
            "simulated_sessions": simulated,
            "can_operate": bool(offered),
            "progress_url": reverse("campaigns:progress", args=[campaign.pk]),
            "export_url": reverse("campaigns:export", args=[campaign.pk])
            if may_export_results(request)
            else "",
            "results_url": reverse("admin:campaigns_messageresult_changelist")
            + f"?campaign__id__exact={campaign.pk}"
            if results
            else "",
        }

    def get_urls(self):
        view = self.admin_site.admin_view(self.operation_view)
        return [
            path("<path:object_id>/do/<str:operation>/", view, name="campaigns_campaign_operation")
        ] + super().get_urls()

    def operation_view(self, request: HttpRequest, object_id: str, operation: str) -> HttpResponse:
        """POST target of the change page's buttons; cancel and resend-unknown confirm first."""
        campaign = self.get_object(request, object_id)
        if campaign is None or operation not in OPERATIONS:
            raise Http404
        if not self.may_run(request, operation):
            raise PermissionDenied
        if request.method != "POST":
            return redirect("admin:campaigns_campaign_change", campaign.pk)
        if operation == "resend_unknown" and self._nothing_unknown(request, [campaign]):
            return redirect("admin:campaigns_campaign_change", campaign.pk)
        if operation in CONFIRMED_OPERATIONS and "confirmed" not in request.POST:
            return self._confirm(
                request, Campaign.objects.filter(pk=campaign.pk), operation, via_action=False
            )
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
            "title": f"{OPERATIONS[operation]}: are you sure?",
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
            when = timezone.localtime(campaign.scheduled_at).strftime("%Y-%m-%d %H:%M %Z")
            said = f"“{campaign}” is scheduled to start at {when}."
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
            self.message_user(request, f"“{campaign}” paused: no session sends again until you resume it.")
        else:
            self.message_user(
                request, f"“{campaign}” is not running, so it was not paused.", messages.WARNING
            )

    def resume(self, request: HttpRequest, campaign: Campaign) -> None:
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

    def retry_failed(self, request: HttpRequest, campaign: Campaign) -> None:
        n = engine.retry_failed(campaign)
        audit.record(request, AuditAction.CAMPAIGN_RETRY, f"“{campaign}”: {n} failed queued again.", campaign)
        level = messages.SUCCESS if n else messages.WARNING
        self.message_user(request, f"“{campaign}”: {n} failed messages queued to be sent again.", level)

    def resend_unknown(self, request: HttpRequest, campaign: Campaign) -> None:
        n = engine.resend_unknown(campaign)
        audit.record(
            request, AuditAction.CAMPAIGN_RESEND, f"“{campaign}”: {n} unknown queued again.", campaign
        )
        level = messages.SUCCESS if n else messages.WARNING
        self.message_user(
            request, f"“{campaign}”: {n} messages of unknown outcome queued to be sent again.", level
        )

    # Admin actions: the same operations over a selection ---------------------------------------
    @admin.action(description="Launch selected campaigns", permissions=["launch"])
    def launch_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            self.launch(request, campaign)

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

    @admin.action(description="Retry failed messages of selected campaigns", permissions=["control"])
    def retry_failed_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            self.retry_failed(request, campaign)

    @admin.action(description="Resend messages of unknown outcome…", permissions=["control"])
    def resend_unknown_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]):
        """Unknown rows may have arrived: they are re-sent only after this explicit confirmation."""
        if self._nothing_unknown(request, list(queryset)):
            return None
        if "confirmed" not in request.POST:
            return self._confirm(request, queryset, "resend_unknown", via_action=True)
        for campaign in queryset:
            self.resend_unknown(request, campaign)

    @admin.action(description="Export results as CSV", permissions=["export"])
    def export_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]):
        """One campaign: its usual export. Several: one file, each row naming its campaign."""
        campaigns = list(queryset)
        audit.record(request, AuditAction.RESULTS_EXPORT, "Results exported as CSV.", campaigns)
        if len(campaigns) == 1:
            return campaign_csv_response(campaigns[0])
        return campaigns_csv_response(Campaign.objects.filter(pk__in=[c.pk for c in campaigns]))

    class Media:
        css = {"all": ("campaigns/admin.css",)}
