"""Admin for campaigns: the changelist (columns, filters, admin actions) and the change form
(fieldsets, what locks after the launch). The rest of the page is elsewhere, each a small room:
the composer and the panel (:mod:`.campaign_change_page`); the extra pages as view classes wired
in :meth:`CampaignAdmin.get_urls` (:mod:`.campaign_views`: the buttons and the launch summary;
:mod:`.retry_view`, :mod:`.winner_view`, :mod:`.send_test_view`, :mod:`.composer_views`); the
operations they and the actions call (:mod:`.campaign_operations`). The campaign decides which
operations make sense (:meth:`Campaign.operations`), the user's permissions which of them are
offered (launching needs ``launch_campaign``, the others ``control_campaign``, a test
``send_test_campaign``, exporting the results' ``export_messageresult``), and each one is
recorded in the audit trail.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path
from django.utils.html import format_html, format_html_join

from tgcampaigns import audit, conf
from tgcampaigns.audit import AuditAction
from tgcampaigns.edit_conflicts import EditConflictGuard

from ..content.preview import campaign_preview
from ..models import Campaign, CampaignStatus, ResultStatus
from ..people.timezones import when, zone_label
from ..reporting.counts import count_results
from ..reporting.exports import campaign_csv_response, campaigns_csv_response
from ..reporting.page_cache import saved_state
from ..reporting.progress import STATUS_COLOURS
from . import campaign_operations as operations
from .access import may_export_results
from .campaign_change_page import composer_context, panel_context
from .campaign_views import LaunchSummaryView, OperationView, confirm_operation_page, launch_selection
from .composer_views import ComposerDefaultView, ComposerPreviewView, ComposerRecipientsView
from .display import file_size
from .follow_up_view import FollowUpView
from .forms import CampaignForm
from .retry_view import RetryView, retry_dialog
from .reused_fieldsets import fieldsets_key
from .send_test_view import SendTestView
from .winner_view import WinnerView

# Fields fixed once a campaign has left draft: rows were materialised from them. A paused
# campaign's sessions may change (PAUSED_EDITABLE): the pool is bound to no session.
LOCKED_AFTER_LAUNCH = (
    "parse_mode",
    "message",
    "media",
    "media_type",
    "lists",
    "segments",
    "sessions",
    "strategy",
    "scheduled_at",
    "send_window_start",
    "send_window_end",
)
# The send window too: rows keep their time zones, and each claim reads the window as saved.
PAUSED_EDITABLE = ("sessions", "send_window_start", "send_window_end")
# Locked, these show as their names (CampaignAdmin.lists_chosen, segments_chosen, media_file).
READ_ONLY_AS = {"lists": "lists_chosen", "segments": "segments_chosen", "media": "media_file"}


def _names(related) -> str:
    """ "A, B" of a many-to-many relation's names, sorted ("—" for none); one query."""
    return ", ".join(related.order_by("name").values_list("name", flat=True)) or "—"


@admin.register(Campaign)
class CampaignAdmin(EditConflictGuard, admin.ModelAdmin):
    # A stale tab's save is refused (tgcampaigns.edit_conflicts); the wordings are quoted.
    conflict_texts = ("message", "variant_b", "variant_c", "variant_d")
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
        ("Recipients", {"fields": ("lists", "segments")}),
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
        """The changelist's rows: each with its counts per status (the *Progress* column)."""
        return self.rows(request).annotate(
            n_total=count_results(),
            n_sent=count_results(ResultStatus.SENT),
            n_failed=count_results(ResultStatus.FAILED),
            n_skipped=count_results(ResultStatus.SKIPPED),
            n_cancelled=count_results(ResultStatus.CANCELLED),
        )

    def rows(self, request: HttpRequest) -> QuerySet[Campaign]:
        """Campaigns without counts, their sessions prefetched (one campaign's pages read their
        counts from the tally, :meth:`Campaign.counts`)."""
        return super().get_queryset(request).prefetch_related("sessions")

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        """The campaign of ``object_id`` (``None`` when there is none or the id is malformed), as
        Django's ``get_object`` reads it but from :meth:`rows`: five count subqueries per page
        saved. Read once per GET: the change page's panel and Django's form show the same row."""
        read = request.__dict__.setdefault("_campaigns_read", {}) if request.method == "GET" else {}
        if (object_id, from_field) not in read:
            field = Campaign._meta.pk if from_field is None else Campaign._meta.get_field(from_field)
            try:
                found = self.rows(request).get(**{field.name: field.to_python(object_id)})
            except (Campaign.DoesNotExist, ValidationError, ValueError):
                found = None
            read[object_id, from_field] = found
        return read[object_id, from_field]

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> tuple[str, ...]:
        if obj is not None and obj.status == CampaignStatus.PAUSED:
            locked = tuple(f for f in LOCKED_AFTER_LAUNCH if f not in PAUSED_EDITABLE)
        elif obj is not None and obj.status != CampaignStatus.DRAFT:
            locked = LOCKED_AFTER_LAUNCH
        else:
            return self.readonly_fields
        return self.readonly_fields + tuple(READ_ONLY_AS.get(f, f) for f in locked)

    def get_fieldsets(self, request: HttpRequest, obj=None):
        """The fieldsets, with the A/B test section open on a campaign that has variants (folded,
        it would hide from staff that the campaign sends several wordings), and a locked
        campaign's lists and segments shown by name (:data:`READ_ONLY_AS`)."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        read_only = set(self.get_readonly_fields(request, obj))
        renamed = {field: shown for field, shown in READ_ONLY_AS.items() if shown in read_only}
        opened = {"classes": ()} if obj.variants else {}
        return [
            (
                name,
                {
                    **options,
                    "fields": tuple(renamed.get(f, f) for f in options["fields"]),
                    **(opened if name == "A/B test" else {}),
                },
            )
            for name, options in fieldsets
        ]

    @admin.display(description="Lists")
    def lists_chosen(self, obj: Campaign) -> str:
        """The campaign's lists by name (one query for the names: Django's read-only field reads
        every list whole, its import report included)."""
        return _names(obj.lists)

    @admin.display(description="Segments")
    def segments_chosen(self, obj: Campaign) -> str:
        """The campaign's segments by name."""
        return _names(obj.segments)

    @admin.display(description="Media")
    def media_file(self, obj: Campaign) -> str:
        """The media file, named as it was uploaded (not by its stored path)."""
        if not obj.media:
            return "—"
        return format_html('<a href="{}">{}</a>', obj.media.url, obj.media_file_name)

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

    def has_send_test_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return request.user.has_perm("campaigns.send_test_campaign")

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
        extra_context = {**(extra_context or {}), **composer_context(self, request, None)}
        return super().add_view(request, form_url, extra_context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        campaign = self.get_object(request, object_id)
        if campaign is not None:
            extra_context = {
                **(extra_context or {}),
                **panel_context(self, request, campaign),
                **composer_context(self, request, campaign),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def render_change_form(
        self, request: HttpRequest, context, add=False, change=False, form_url="", obj=None
    ):
        """The page, its fieldsets and progress block drawn once and reused while what they show is
        unchanged (:mod:`.reused_fieldsets`, ``progress_key``)."""
        if obj is not None and obj.pk is not None:
            context["fieldsets_key"] = fieldsets_key(request, context["adminform"], saved_state(obj))
            context["page_cache_seconds"] = conf.page_cache_seconds()
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        """The extra pages: each a view class given this admin, behind ``admin_view`` (login,
        staff, CSRF); each checks its own permission."""

        def wrap(view_class):
            return self.admin_site.admin_view(view_class.as_view(model_admin=self))

        one = "<path:object_id>"
        return [
            path(f"{one}/do/<str:operation>/", wrap(OperationView), name="campaigns_campaign_operation"),
            path(f"{one}/launch/", wrap(LaunchSummaryView), name="campaigns_campaign_launch"),
            path(f"{one}/retry/", wrap(RetryView), name="campaigns_campaign_retry"),
            path(f"{one}/winner/", wrap(WinnerView), name="campaigns_campaign_winner"),
            path(f"{one}/follow-up/", wrap(FollowUpView), name="campaigns_campaign_follow_up"),
            path(f"{one}/test-send/", wrap(SendTestView), name="campaigns_campaign_test_send"),
            path("composer/preview/", wrap(ComposerPreviewView), name="campaigns_campaign_composer_preview"),
            path(
                "composer/recipients/",
                wrap(ComposerRecipientsView),
                name="campaigns_campaign_composer_recipients",
            ),
            path("composer/default/", wrap(ComposerDefaultView), name="campaigns_campaign_composer_default"),
        ] + super().get_urls()

    # Admin actions: the operations over a selection -------------------------------------------------
    @admin.action(description="Launch selected campaigns…", permissions=["launch"])
    def launch_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]):
        """First the summary of each; then launch each one confirmed unchanged."""
        return launch_selection(self, request, list(queryset))

    @admin.action(description="Pause selected campaigns", permissions=["control"])
    def pause_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            operations.pause(request, campaign)

    @admin.action(description="Resume selected campaigns", permissions=["control"])
    def resume_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            operations.resume(request, campaign)

    @admin.action(description="Cancel selected campaigns…", permissions=["control"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]):
        if "confirmed" not in request.POST:
            return confirm_operation_page(self, request, queryset, "cancel", via_action=True)
        for campaign in queryset:
            operations.cancel(request, campaign)
        return None

    @admin.action(description="Retry failed messages of selected campaigns…", permissions=["control"])
    def retry_failed_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]):
        """Retryable failures by default; permanent ones only when ticked (:mod:`.retry_view`)."""
        return retry_dialog(self, request, list(queryset), via_action=True)

    @admin.action(description="Resend messages of unknown outcome…", permissions=["control"])
    def resend_unknown_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]):
        """Unknown rows may have arrived: they are re-sent only after this explicit confirmation."""
        if operations.nothing_unknown(request, list(queryset)):
            return None
        if "confirmed" not in request.POST:
            return confirm_operation_page(self, request, queryset, "resend_unknown", via_action=True)
        for campaign in queryset:
            operations.resend_unknown(request, campaign)
        return None

    @admin.action(description="Clone selected campaigns (as new drafts)", permissions=["add"])
    def clone_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            operations.clone(request, campaign)

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
