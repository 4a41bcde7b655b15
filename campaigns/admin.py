"""The staff side: upload recipient lists, compose and control campaigns, review and export results.

Every action and button is a thin caller: load, call :mod:`campaigns.engine` (or the importer,
the media inspector), report with ``message_user``. Computed columns are annotated in
``get_queryset`` so a changelist costs a fixed number of queries whatever its length.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString

from . import engine
from . import media as media_service
from .exports import campaign_csv_response, campaigns_csv_response, results_csv_response
from .forms import CampaignForm, RecipientListUploadForm, SuppressionBulkForm, SuppressionForm
from .importing import ImportRefused
from .models import (
    Campaign,
    CampaignStatus,
    DeliveryAttempt,
    MessageResult,
    Recipient,
    RecipientList,
    ResultStatus,
    Suppression,
)
from .preview import campaign_preview
from .progress import STATUS_COLOURS, progress_snapshot

# Invalid/duplicate rows listed on a recipient list's page; the rest are one click away.
REPORT_ROWS_SHOWN = 200


# Recipient lists ---------------------------------------------------------------------------------
@admin.register(RecipientList)
class RecipientListAdmin(admin.ModelAdmin):
    """Lists are created only by uploading a file (the add page is the upload form) and are
    read-only afterwards except for their name and consent note: the recipients are the file's."""

    list_display = (
        "name",
        "consent_basis",
        "valid_count",
        "invalid_count",
        "duplicate_count",
        "total_rows",
        "created_at",
    )
    list_filter = ("consent_basis",)
    search_fields = ("name",)
    date_hierarchy = "created_at"
    fields = (
        "name",
        "consent_basis",
        "consent_note",
        "file",
        "default_region",
        "recipient_column",
        "encoding",
        "created_by",
        "created_at",
        "validation_report",
    )
    readonly_fields = (
        "consent_basis",
        "file",
        "default_region",
        "recipient_column",
        "encoding",
        "created_by",
        "created_at",
        "validation_report",
    )

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None) -> HttpResponse:
        """Upload and import in one step; a refused file is a form error and creates nothing."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = RecipientListUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                recipient_list, _report = form.import_list(request.user)
            except ImportRefused as exc:
                form.add_error("file", str(exc))
            else:
                self.log_addition(request, recipient_list, [{"added": {}}])
                self.message_user(request, _import_summary(recipient_list), messages.SUCCESS)
                return redirect("admin:campaigns_recipientlist_change", recipient_list.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload a recipient list",
            "opts": self.opts,
            "form": form,
            "has_view_permission": self.has_view_permission(request),
        }
        return TemplateResponse(request, "admin/campaigns/recipientlist/upload.html", context)

    @admin.display(description="Validation report")
    def validation_report(self, obj: RecipientList) -> SafeString:
        problems = obj.recipients.exclude(status=Recipient.Status.VALID).order_by("row_number")
        context = {
            "list": obj,
            "problems": problems[:REPORT_ROWS_SHOWN],
            "more": max(0, obj.invalid_count + obj.duplicate_count - REPORT_ROWS_SHOWN),
            "file_notes": _file_notes(obj.report or {}),
            "recipients_url": reverse("admin:campaigns_recipient_changelist")
            + f"?recipient_list__id__exact={obj.pk}",
        }
        return render_to_string("admin/campaigns/recipientlist/_report.html", context)

    class Media:
        css = {"all": ("campaigns/admin.css",)}


def _file_notes(report: dict) -> dict[str, str]:
    """How the importer read the file (format, encoding, delimiter, column), for staff to check."""
    delimiters = {",": "comma", ";": "semicolon", "\t": "tab"}
    notes = {
        "format": str(report.get("file_format", "")).upper(),
        "sheet": report.get("sheet", ""),
        "encoding": report.get("encoding", ""),
        "delimiter": delimiters.get(report.get("delimiter", ""), report.get("delimiter", "")),
        "recipient column": report.get("recipient_column", ""),
    }
    return {name: value for name, value in notes.items() if value}


def file_size(size: int) -> str:
    """``size`` bytes for people: "193 bytes", "12.5 KiB", "3.4 MiB"."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


def _why_not_a_photo(campaign: Campaign, info: dict) -> str:
    """Why an image goes as a document: the inspector's reason for refusing it as a photo
    (too wide, too large, not a photo format), or "" when it would be a fine photo (staff chose
    document) or is no image."""
    if info.get("media_type") != "document" or not str(info.get("mime_type", "")).startswith("image/"):
        return ""
    try:
        media_service.inspect_media(campaign.media.path, "photo")
    except media_service.MediaRefused as exc:
        return str(exc)
    except (OSError, ValueError, NotImplementedError):  # file gone or storage without paths
        return ""
    return ""


def _import_summary(recipient_list: RecipientList) -> str:
    return (
        f"“{recipient_list}” imported: {recipient_list.valid_count} valid, "
        f"{recipient_list.invalid_count} invalid, {recipient_list.duplicate_count} duplicate "
        f"of {recipient_list.total_rows} rows."
    )


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin):
    """Read-only: recipients change only by uploading a new list."""

    list_display = ("row_number", "key", "kind", "status", "error", "raw_value", "recipient_list")
    list_filter = ("recipient_list", "status", "kind")
    search_fields = ("key", "raw_value")
    list_select_related = ("recipient_list",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


# Campaigns ---------------------------------------------------------------------------------------
def _count_results(status: str | None = None) -> Coalesce:
    """A correlated COUNT of the campaign's results (of one status): one subquery per column
    instead of a JOIN whose row multiplication the sessions M2M would inflate."""
    rows = MessageResult.objects.filter(campaign=OuterRef("pk"))
    if status:
        rows = rows.filter(status=status)
    count = rows.order_by().values("campaign").annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(count, output_field=IntegerField()), Value(0))


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
# Operations offered as buttons, with the campaign statuses they make sense in.
OPERATIONS = {
    "launch": ("Launch", (CampaignStatus.DRAFT,)),
    "pause": ("Pause", (CampaignStatus.RUNNING, CampaignStatus.SCHEDULED)),
    "resume": ("Resume", (CampaignStatus.PAUSED,)),
    "cancel": ("Cancel", (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING, CampaignStatus.PAUSED)),
    "retry_failed": ("Retry failed", ()),
    "resend_unknown": ("Resend unknown", ()),
}
CONFIRMED_OPERATIONS = ("cancel", "resend_unknown")


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
                    "flood_wait_threshold",
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
                n_total=_count_results(),
                n_sent=_count_results(ResultStatus.SENT),
                n_failed=_count_results(ResultStatus.FAILED),
                n_skipped=_count_results(ResultStatus.SKIPPED),
            )
            .prefetch_related("sessions")
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> tuple[str, ...]:
        if obj is not None and obj.status != CampaignStatus.DRAFT:
            return self.readonly_fields + LOCKED_AFTER_LAUNCH
        return self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        """A campaign that may still send is cancelled, not deleted: its rows are the record."""
        if obj is not None and obj.status in (
            CampaignStatus.SCHEDULED,
            CampaignStatus.RUNNING,
            CampaignStatus.PAUSED,
        ):
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
        if reason := _why_not_a_photo(obj, info):
            summary += f" — sent as a document: {reason}"
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
        offered = {
            op: label
            for op, (label, statuses) in OPERATIONS.items()
            if campaign.status in statuses
            or (op == "retry_failed" and counts["failed"] and campaign.status != CampaignStatus.CANCELLED)
            or (op == "resend_unknown" and counts["unknown"])
        }
        simulated = [s.name for s in campaign.sessions.all() if s.is_simulated]
        return {
            "progress": snapshot,
            "preview": campaign_preview(campaign),
            "operations": offered,
            "simulated_sessions": simulated,
            "can_operate": self.has_change_permission(request, campaign),
            "progress_url": reverse("campaigns:progress", args=[campaign.pk]),
            "export_url": reverse("campaigns:export", args=[campaign.pk]),
            "results_url": reverse("admin:campaigns_messageresult_changelist")
            + f"?campaign__id__exact={campaign.pk}",
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
        if not self.has_change_permission(request, campaign):
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
            "title": f"{OPERATIONS[operation][0]}: are you sure?",
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
            return
        campaign.refresh_from_db(fields=["status", "scheduled_at"])
        if campaign.status == CampaignStatus.SCHEDULED:
            when = timezone.localtime(campaign.scheduled_at).strftime("%Y-%m-%d %H:%M %Z")
            self.message_user(request, f"“{campaign}” is scheduled to start at {when}.", messages.SUCCESS)
        else:
            counts = dict(counts or {})
            total = counts.pop("total", sum(counts.values()))
            summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
            self.message_user(
                request, f"“{campaign}” launched: {total} recipients ({summary}).", messages.SUCCESS
            )

    def pause(self, request: HttpRequest, campaign: Campaign) -> None:
        if engine.pause(campaign, reason=f"Paused by {request.user.get_username()}"):
            self.message_user(request, f"“{campaign}” paused: no session sends again until you resume it.")
        else:
            self.message_user(
                request, f"“{campaign}” is not running, so it was not paused.", messages.WARNING
            )

    def resume(self, request: HttpRequest, campaign: Campaign) -> None:
        if engine.resume(campaign):
            self.message_user(request, f"“{campaign}” resumed.", messages.SUCCESS)
        else:
            self.message_user(
                request, f"“{campaign}” is not paused, so it was not resumed.", messages.WARNING
            )

    def cancel(self, request: HttpRequest, campaign: Campaign) -> None:
        n = engine.cancel(campaign)
        self.message_user(
            request, f"“{campaign}” cancelled: {n} unsent messages will not be sent.", messages.SUCCESS
        )

    def retry_failed(self, request: HttpRequest, campaign: Campaign) -> None:
        n = engine.retry_failed(campaign)
        level = messages.SUCCESS if n else messages.WARNING
        self.message_user(request, f"“{campaign}”: {n} failed messages queued to be sent again.", level)

    def resend_unknown(self, request: HttpRequest, campaign: Campaign) -> None:
        n = engine.resend_unknown(campaign)
        level = messages.SUCCESS if n else messages.WARNING
        self.message_user(
            request, f"“{campaign}”: {n} messages of unknown outcome queued to be sent again.", level
        )

    # Admin actions: the same operations over a selection ---------------------------------------
    @admin.action(description="Launch selected campaigns", permissions=["change"])
    def launch_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            self.launch(request, campaign)

    @admin.action(description="Pause selected campaigns", permissions=["change"])
    def pause_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            self.pause(request, campaign)

    @admin.action(description="Resume selected campaigns", permissions=["change"])
    def resume_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            self.resume(request, campaign)

    @admin.action(description="Cancel selected campaigns…", permissions=["change"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]):
        if "confirmed" not in request.POST:
            return self._confirm(request, queryset, "cancel", via_action=True)
        for campaign in queryset:
            self.cancel(request, campaign)

    @admin.action(description="Retry failed messages of selected campaigns", permissions=["change"])
    def retry_failed_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            self.retry_failed(request, campaign)

    @admin.action(description="Resend messages of unknown outcome…", permissions=["change"])
    def resend_unknown_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]):
        """Unknown rows may have arrived: they are re-sent only after this explicit confirmation."""
        if self._nothing_unknown(request, list(queryset)):
            return None
        if "confirmed" not in request.POST:
            return self._confirm(request, queryset, "resend_unknown", via_action=True)
        for campaign in queryset:
            self.resend_unknown(request, campaign)

    @admin.action(description="Export results as CSV", permissions=["view"])
    def export_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]):
        """One campaign: its usual export. Several: one file, each row naming its campaign."""
        campaigns = list(queryset)
        if len(campaigns) == 1:
            return campaign_csv_response(campaigns[0])
        return campaigns_csv_response(Campaign.objects.filter(pk__in=[c.pk for c in campaigns]))

    class Media:
        css = {"all": ("campaigns/admin.css",)}


# Results ------------------------------------------------------------------------------------------
class ErrorCodeFilter(admin.SimpleListFilter):
    """Only the error codes present (in the chosen campaign, if one is chosen), with counts."""

    title = "error code"
    parameter_name = "error_code"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        rows = MessageResult.objects.exclude(error_code="")
        if campaign_id := request.GET.get("campaign__id__exact"):
            rows = rows.filter(campaign_id=campaign_id)
        codes = rows.values_list("error_code").annotate(n=Count("id")).order_by("error_code")
        return [(code, f"{code} ({n})") for code, n in codes]

    def queryset(self, request: HttpRequest, queryset: QuerySet[MessageResult]) -> QuerySet[MessageResult]:
        if self.value():
            return queryset.filter(error_code=self.value())
        return queryset


class DeliveryAttemptInline(admin.TabularInline):
    """One numbered row per request to Telegram, read-only."""

    model = DeliveryAttempt
    template = "admin/campaigns/messageresult/attempts_inline.html"
    fields = ("started_at", "took", "session", "outcome", "error_code", "error_text")
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description="Took")
    def took(self, obj: DeliveryAttempt) -> str:
        return f"{(obj.finished_at - obj.started_at).total_seconds() * 1000:.0f} ms"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(MessageResult)
class MessageResultAdmin(admin.ModelAdmin):
    """Read-only: the engine writes results; staff filter, inspect and export them."""

    list_display = (
        "recipient_display",
        "source",
        "campaign",
        "status_badge",
        "session_name",
        "error_code",
        "attempts",
        "message_id",
        "sent",
    )
    list_filter = ("campaign", "status", ("session", admin.RelatedOnlyFieldListFilter), ErrorCodeFilter)
    search_fields = ("key", "recipient__raw_value")
    list_select_related = ("campaign", "session", "recipient__recipient_list")
    # COUNT(*) over every result ever sent is slow on big tables and tells staff nothing.
    show_full_result_count = False
    list_per_page = 200
    inlines = [DeliveryAttemptInline]
    actions = ["export_selected"]
    fields = (
        "campaign",
        "key",
        "as_written",
        "source",
        "kind",
        "status",
        "session",
        "message_text",
        "telegram_message_id",
        "error_code",
        "error_text",
        "attempts",
        "random_id",
        "fields",
        "created_at",
        "sending_at",
        "sent_at",
        "next_attempt_at",
    )
    readonly_fields = ("as_written", "source", "message_text")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Message for this recipient")
    def message_text(self, obj: MessageResult) -> str:
        """The campaign's message rendered with this row's fields, as the engine renders it."""
        from . import messages as campaign_messages

        if not obj.key:
            return "—"
        try:
            text = campaign_messages.render(obj.campaign.message, obj.fields or {}, obj.campaign.parse_mode)
        except campaign_messages.MessageError as exc:
            return f"(cannot be rendered: {exc})"
        # render() returns a SafeString (Django templates); the page must show it as text.
        return format_html('<div class="tgc-message" style="white-space: pre-wrap">{}</div>', escape(text))

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        """Without the campaign column when filtered to one campaign: the columns then fit 1400 px."""
        if request.GET.get("campaign__id__exact"):
            return tuple(c for c in self.list_display if c != "campaign")
        return self.list_display

    @admin.display(description="Session", ordering="session__name")
    def session_name(self, obj: MessageResult) -> str:
        return obj.session.name if obj.session else "—"

    @admin.display(description="Sent at", ordering="sent_at")
    def sent(self, obj: MessageResult) -> str:
        return timezone.localtime(obj.sent_at).strftime("%Y-%m-%d %H:%M:%S") if obj.sent_at else "—"

    @admin.display(description="Recipient", ordering="key")
    def recipient_display(self, obj: MessageResult) -> str:
        """The key, or for a row skipped as invalid (no key) the value as written in the file."""
        if obj.key:
            return obj.key
        raw = obj.recipient.raw_value if obj.recipient else ""
        return format_html(
            '<span class="tgc-raw" title="as written in the file">“{}”</span>', raw or "(empty)"
        )

    @admin.display(description="As written")
    def as_written(self, obj: MessageResult) -> str:
        if obj.recipient is None:
            return "—"
        return obj.recipient.raw_value or "(empty)"

    @admin.display(description="From")
    def source(self, obj: MessageResult) -> str:
        """The recipient list and row the result was made from."""
        if obj.recipient is None:
            return "—"
        recipient_list = obj.recipient.recipient_list
        return format_html(
            '<a href="{}">{}</a>, row {}',
            reverse("admin:campaigns_recipientlist_change", args=[recipient_list.pk]),
            recipient_list,
            obj.recipient.row_number,
        )

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: MessageResult) -> str:
        return format_html('<span class="tgc-badge tgc-{}">{}</span>', obj.status, obj.status)

    @admin.display(description="Message id", ordering="telegram_message_id")
    def message_id(self, obj: MessageResult) -> int | None:
        return obj.telegram_message_id

    @admin.action(description="Export selected results as CSV", permissions=["view"])
    def export_selected(self, request: HttpRequest, queryset: QuerySet[MessageResult]):
        return self._csv(request, queryset)

    def get_urls(self):
        export = path(
            "export/", self.admin_site.admin_view(self.export_view), name="campaigns_messageresult_export"
        )
        return [export] + super().get_urls()

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """The results the changelist shows for the same query string (filters, search), as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            results = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            return redirect("admin:campaigns_messageresult_changelist")
        return self._csv(request, results)

    def _csv(self, request: HttpRequest, results: QuerySet[MessageResult]) -> HttpResponse:
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        # Unless the changelist is filtered to one campaign, each row says which one it is.
        one_campaign = request.GET.get("campaign__id__exact", "").isdigit()
        return results_csv_response(results, f"results-{stamp}.csv", with_campaign=not one_campaign)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = dict(extra_context or {})
        campaign_id = request.GET.get("campaign__id__exact", "")
        if campaign_id.isdigit():
            campaign = Campaign.objects.filter(pk=campaign_id).prefetch_related("sessions").first()
            if campaign and any(s.is_simulated for s in campaign.sessions.all()):
                extra_context["simulated"] = True
        return super().changelist_view(request, extra_context)

    class Media:
        css = {"all": ("campaigns/admin.css",)}


# Suppressions -----------------------------------------------------------------------------------
@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    """Opt-outs, honoured before every send. Keys are normalised like recipient keys."""

    form = SuppressionForm
    list_display = ("key", "source", "note", "created_at")
    list_filter = ("source",)
    search_fields = ("key", "note")
    date_hierarchy = "created_at"

    def get_urls(self):
        bulk = path(
            "bulk-add/", self.admin_site.admin_view(self.bulk_add_view), name="campaigns_suppression_bulk_add"
        )
        return [bulk] + super().get_urls()

    def bulk_add_view(self, request: HttpRequest) -> HttpResponse:
        """Paste many opt-outs; invalid entries are listed, the valid ones are added."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = SuppressionBulkForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            entries, note = form.cleaned_data["keys"], form.cleaned_data["note"]
            keys = {key for _raw, key in entries if key}
            existing = set(Suppression.objects.filter(key__in=keys).values_list("key", flat=True))
            new = [
                Suppression(key=k, source=Suppression.Source.MANUAL, note=note)
                for k in sorted(keys - existing)
            ]
            Suppression.objects.bulk_create(new, ignore_conflicts=True)  # a concurrent add is fine
            self.message_user(
                request, f"{len(new)} added, {len(existing)} already suppressed.", messages.SUCCESS
            )
            if invalid := [raw for raw, key in entries if not key]:
                self.message_user(
                    request, f"Not recognised, not added: {', '.join(invalid)}", messages.WARNING
                )
            return HttpResponseRedirect(reverse("admin:campaigns_suppression_changelist"))
        context = {**self.admin_site.each_context(request), "title": "Add suppressions", "opts": self.opts}
        return TemplateResponse(
            request, "admin/campaigns/suppression/bulk_add.html", {**context, "form": form}
        )
