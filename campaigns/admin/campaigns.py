"""Admin for campaigns: compose (with the live preview), the change page with its buttons,
progress, charts, and the operations.

Every button and action is a thin caller of :mod:`campaigns.engine` (or the model); the rooms
beside this one hold them: :mod:`.operations` (pause, resume, cancel, resend, clone),
:mod:`.launching` (launch through its summary), :mod:`.retry` (the *Retry failed* dialog),
:mod:`.testsends` (*Send test…*), :mod:`.winner` (an A/B test's *Choose the winner…*), :mod:`.composer` (the live preview's endpoints). The campaign
decides which operations make sense (:meth:`Campaign.operations`), the user's permissions which
of them are offered (launching needs ``launch_campaign``, the others ``control_campaign``, a test
``send_test_campaign``, exporting the results' ``export_messageresult``), and each one is
recorded in the audit trail.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction

from ..content.composer import Draft, compose_preview, first_recipient
from ..content.preview import campaign_preview
from ..exports import campaign_csv_response, campaigns_csv_response
from ..models import Campaign, CampaignStatus, ResultStatus
from ..progress import STATUS_COLOURS, progress_snapshot
from ..report import after_send_report, polling
from ..timezones import when, zone_label
from .access import may_export_results, may_see_results
from .composer import ComposerViews
from .display import file_size
from .forms import CampaignForm
from .launching import FROM_FORM, LaunchViews
from .operations import CampaignOperations
from .retry import RetryDialog
from .scale import count_results
from .testsends import TestSendViews
from .winner import WinnerViews

# Fields fixed once a campaign has left draft: rows were materialised from them. A paused
# campaign's sessions may change (PAUSED_EDITABLE): the pool is bound to no session.
LOCKED_AFTER_LAUNCH = (
    "parse_mode",
    "message",
    "media",
    "media_type",
    "lists",
    "sessions",
    "strategy",
    "scheduled_at",
    "send_window_start",
    "send_window_end",
)
# The send window too: rows keep their time zones, and each claim reads the window as saved.
PAUSED_EDITABLE = ("sessions", "send_window_start", "send_window_end")


@admin.register(Campaign)
class CampaignAdmin(
    CampaignOperations,
    LaunchViews,
    RetryDialog,
    WinnerViews,
    TestSendViews,
    ComposerViews,
    admin.ModelAdmin,
):
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
        "resend_unknown_selected",
        "clone_selected",
        "export_selected",
    ]
    readonly_fields = ("status", "status_reason", "launched_at", "finished_at", "created_by", "media_summary")
    fieldsets = (
        (None, {"fields": ("name", "status", "status_reason")}),
        # Lists first: the preview under the message personalises for their recipients.
        ("Recipients", {"fields": ("lists",)}),
        ("Message", {"fields": ("parse_mode", "message", "media", "media_type", "media_summary")}),
        (
            "A/B test",
            {
                "fields": (
                    "variant_b",
                    "variant_c",
                    "variant_d",
                    ("share_a", "share_b", "share_c", "share_d", "share_hold"),
                ),
                "classes": ("collapse",),
                "description": "Up to four wordings: each recipient gets one, by the split. Leave empty "
                "to send the message alone.",
            },
        ),
        (
            "Sending",
            {"fields": ("sessions", "strategy", "delay_seconds", "max_attempts", "priority", "scheduled_at")},
        ),
        ("Quiet hours", {"fields": (("send_window_start", "send_window_end"),)}),
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
                n_cancelled=count_results(ResultStatus.CANCELLED),
            )
            .prefetch_related("sessions")
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> tuple[str, ...]:
        if obj is not None and obj.status == CampaignStatus.PAUSED:
            return self.readonly_fields + tuple(f for f in LOCKED_AFTER_LAUNCH if f not in PAUSED_EDITABLE)
        if obj is not None and obj.status != CampaignStatus.DRAFT:
            return self.readonly_fields + LOCKED_AFTER_LAUNCH
        return self.readonly_fields

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if "scheduled_at" in form.base_fields:
            form.base_fields[
                "scheduled_at"
            ].help_text = f"In your time zone, {zone_label()}. Leave empty to start on launch."
        return form

    def has_launch_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return request.user.has_perm("campaigns.launch_campaign")

    def has_control_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return request.user.has_perm("campaigns.control_campaign")

    def has_export_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return may_export_results(request)

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
        """After the lists are saved, tell staff now about problems that would refuse the launch;
        a paused campaign's new sessions are recorded."""
        super().save_related(request, form, formsets, change)
        campaign = form.instance
        if campaign.status == CampaignStatus.PAUSED and "sessions" in form.changed_data:
            names = ", ".join(s.name for s in campaign.sessions.all()) or "none"
            audit.record(request, AuditAction.CAMPAIGN_SESSIONS, f"Sessions now: {names}.", campaign)
            self.message_user(request, f"“{campaign}” will send from {names} when resumed.")
        if campaign.status == CampaignStatus.DRAFT:
            for problem in campaign_preview(campaign).problems:
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
        parts = [
            (obj.n_sent, "sent"),
            (obj.n_failed, "failed"),
            (obj.n_skipped, "skipped"),
            (obj.n_cancelled, "cancelled"),
        ]
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
        return when(obj.launched_at) if obj.launched_at else "—"

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

    # The pages: the change page's panel and the composer, on the add page too --------------------
    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        extra_context = {**(extra_context or {}), **self._composer_context(request, None)}
        return super().add_view(request, form_url, extra_context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        campaign = self.get_object(request, object_id)
        if campaign is not None:
            extra_context = {
                **(extra_context or {}),
                **self._panel_context(request, campaign),
                **self._composer_context(request, campaign),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def _composer_context(self, request: HttpRequest, campaign: Campaign | None) -> dict:
        personal = may_see_results(request)
        draft = Draft()
        if campaign is not None:
            draft = Draft(
                message=campaign.message,
                parse_mode=campaign.parse_mode,
                has_media=bool(campaign.media),
                list_ids=list(campaign.lists.values_list("pk", flat=True)),
            )
        recipient = first_recipient(draft) if personal and draft.list_ids else None
        return {
            "composer": compose_preview(draft, recipient, personal=personal),
            "composer_urls": {
                "preview": reverse("admin:campaigns_campaign_composer_preview"),
                "recipients": reverse("admin:campaigns_campaign_composer_recipients") if personal else "",
                "default": reverse("admin:campaigns_campaign_composer_default")
                if self._may_compose(request)
                else "",
            },
            "composer_campaign": campaign.pk if campaign else "",
            "media_url": campaign.media.url if campaign is not None and campaign.media else "",
        }

    def _panel_context(self, request: HttpRequest, campaign: Campaign) -> dict:
        snapshot = progress_snapshot(campaign)
        results = may_see_results(request)
        return {
            "progress": snapshot,
            "preview": campaign_preview(campaign, personal=results),
            "operations": self.offered(request, campaign, snapshot["counts"] | {"total": snapshot["total"]}),
            "launch_form_field": FROM_FORM,
            "can_test": self.has_send_test_permission(request, campaign)
            and campaign.status != CampaignStatus.CANCELLED,
            "simulated_sessions": [s.name for s in campaign.sessions.all() if s.is_simulated],
            "scheduled_display": when(campaign.scheduled_at) if campaign.scheduled_at else "",
            "progress_url": reverse("campaigns:progress", args=[campaign.pk]),
            "charts_url": reverse("campaigns:charts", args=[campaign.pk]),
            "export_url": reverse("campaigns:export", args=[campaign.pk])
            if may_export_results(request)
            else "",
            "results_url": reverse("admin:campaigns_messageresult_changelist")
            + f"?campaign__id__exact={campaign.pk}"
            if results
            else "",
            # After the send: for staff who may see results, once the campaign has rows.
            "report": after_send_report(campaign) if results and snapshot["total"] else None,
            "report_url": reverse("campaigns:report", args=[campaign.pk]),
            "report_polling": polling(campaign),
        }

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/do/<str:operation>/",
                view(self.operation_view),
                name="campaigns_campaign_operation",
            ),
            path("<path:object_id>/launch/", view(self.launch_view), name="campaigns_campaign_launch"),
            path("<path:object_id>/retry/", view(self.retry_view), name="campaigns_campaign_retry"),
            path("<path:object_id>/winner/", view(self.winner_view), name="campaigns_campaign_winner"),
            path(
                "<path:object_id>/test-send/", view(self.test_send_view), name="campaigns_campaign_test_send"
            ),
            path(
                "composer/preview/",
                view(self.composer_preview_view),
                name="campaigns_campaign_composer_preview",
            ),
            path(
                "composer/recipients/",
                view(self.composer_recipients_view),
                name="campaigns_campaign_composer_recipients",
            ),
            path(
                "composer/default/",
                view(self.composer_default_view),
                name="campaigns_campaign_composer_default",
            ),
        ] + super().get_urls()

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
