"""Admin for message results: read-only, filtered, inspected with their delivery attempts, exported."""

from __future__ import annotations

import functools
from html import escape as _h

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import get_script_prefix, path, reverse
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from sessions_app.models import Backend, TelegramSession
from tgcampaigns import audit
from tgcampaigns.audit import AuditAction

from ..content import template
from ..content.outgoing import recipient_text
from ..content.preview import entities_html
from ..models import Campaign, DeliveryAttempt, MessageResult, ParseMode, Recipient, ResultStatus
from ..people.timezones import when
from ..reporting.errorcodes import explain
from ..reporting.exports import results_response
from ..reporting.progress import STATUS_LABELS
from .access import may_export_results
from .display import fields_table
from .malformed_query import MALFORMED_QUERY_ERRORS, bad_query, guarded_queryset
from .person_admin import person_link
from .reply_admin import ReplyInline, replies_link
from .result_filters import (
    CampaignFilter,
    ErrorCodeFilter,
    ReadFilter,
    RepliedFilter,
    SessionFilter,
    VariantFilter,
    read_display,
)
from .results_changelist import (
    BoundedChangeList,
    TallyPaginator,
    campaign_filter,
    page_rows,
    search_results,
    source_row,
    tally_count,
)

# A status's words on the page: the progress block's, else the status's label.
_STATUS_WORDS = {value: str(STATUS_LABELS.get(value) or label) for value, label in ResultStatus.choices}


def list_url(pk: int) -> str:
    """A recipient list's admin page: reversed once per list and page prefix (each row of the
    changelist links its list; a hundred ``reverse`` calls were a tenth of the page)."""
    return _list_url(get_script_prefix(), pk)


@functools.lru_cache(maxsize=1024)
def _list_url(prefix: str, pk: int) -> str:
    return reverse("admin:campaigns_recipientlist_change", args=[pk])


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
        "error_explained",
        "attempts",
        "message_id",
        "sent",
        "read",
        "replied",
    )
    list_filter = (
        ("campaign", CampaignFilter),
        "status",
        SessionFilter,
        ErrorCodeFilter,
        ReadFilter,
        RepliedFilter,
        VariantFilter,
    )
    # The search is search_results(): a recipient key, exact or by prefix, from an index.
    search_fields = ("key",)
    search_help_text = (
        "A recipient as written in a list (@name, t.me link, phone, user id), or the start of one."
    )
    # A page's rows are read by page_rows() (get_paginator): the row each was made from as
    # four values, the sessions once each.
    list_select_related = ("campaign",)
    # COUNT(*) over every result ever sent is slow on big tables and tells staff nothing.
    show_full_result_count = False
    list_per_page = 100
    inlines = [DeliveryAttemptInline, ReplyInline]
    actions = ["export_selected"]
    fields = (
        "campaign",
        "key",
        "person",
        "as_written",
        "source",
        "kind",
        "status",
        "session",
        "message_text",
        "telegram_message_id",
        "error_code",
        "error_meaning",
        "error_text",
        "attempts",
        "personalisation",
        "created_at",
        "sending_at",
        "sent_at",
        "next_attempt_at",
        "variant",
        "read_at",
        "replied_at",
        "reply_count",
        "replies",
        "technical_details",
    )
    readonly_fields = (
        "person",
        "as_written",
        "source",
        "message_text",
        "error_meaning",
        "personalisation",
        "replies",
        "technical_details",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def action_checkbox(self, obj: MessageResult) -> str:
        """Django's row checkbox, the same HTML written directly: its widget renders a template
        per row, a third of a 100-row page's time. (The changelist's cells are written with
        :func:`html.escape`, Django's ``escape`` without its check for lazy text per argument.)"""
        label = gettext("Select this object for an action - {}").format(_h(str(obj)))
        return SafeString(
            f'<input type="checkbox" name="{ACTION_CHECKBOX_NAME}" value="{obj.pk}" class="action-select" '
            f'aria-label="{label}">'
        )

    @admin.display(description="Error code", ordering="error_code")
    def error_explained(self, obj: MessageResult) -> str:
        """The code, with its plain explanation on hover."""
        if not obj.error_code:
            return "—"
        return SafeString(
            f'<code title="{_h(explain(obj.error_code).explanation)}">{_h(obj.error_code)}</code>'
        )

    @admin.display(description="What the error means")
    def error_meaning(self, obj: MessageResult) -> str:
        if not obj.error_code:
            return "—"
        explained = explain(obj.error_code)
        retry = (
            "a retry usually works" if explained.retryable else "a retry would most likely fail the same way"
        )
        return f"{explained.explanation} ({retry})"

    @admin.display(description="Personalisation fields")
    def personalisation(self, obj: MessageResult) -> str:
        return fields_table(obj.fields)

    @admin.display(description="Message for this recipient")
    def message_text(self, obj: MessageResult) -> str:
        """The wording of this row's variant rendered with its fields, as the engine renders it
        (a row held for an A/B test's winner has none yet)."""
        if not obj.key:
            return "—"
        if obj.status == ResultStatus.HELD:
            return "(held for the winning variant: the winner's wording once chosen)"
        text = recipient_text(obj.campaign, obj.fields, obj.variant)
        try:  # as the recipient saw it: Markdown or HTML applied, as the composer's bubble shows it
            plain, entities = template.preview(str(text), obj.campaign.parse_mode)
            shown = entities_html(plain, entities)
        except Exception:  # noqa: BLE001 — a text that no longer parses is shown as its source
            return format_html(
                '<div class="tgc-message" style="white-space: pre-wrap">{}</div>', escape(text)
            )
        if obj.campaign.parse_mode == ParseMode.PLAIN:
            return format_html('<div class="tgc-bubble tgc-message">{}</div>', shown)
        return format_html(
            '<div class="tgc-bubble tgc-message">{}</div><details class="tgc-source"><summary>As written '
            '({})</summary><div style="white-space: pre-wrap"><code>{}</code></div></details>',
            shown,
            obj.campaign.get_parse_mode_display(),
            escape(text),
        )

    @admin.display(description="Technical details")
    def technical_details(self, obj: MessageResult) -> str:
        """Identifiers for a support request, folded away: Telegram's ``random_id`` (the 64-bit
        number that makes a re-sent request a duplicate Telegram drops)."""
        return format_html(
            "<details><summary>For support</summary>random_id sent to Telegram (makes a re-sent request "
            "one message): <code>{}</code></details>",
            obj.random_id,
        )

    def has_delete_permission(self, request: HttpRequest, obj: MessageResult | None = None) -> bool:
        """With the permission, results of a campaign that no longer sends (a row of a live
        campaign is the engine's). Erasing a person (*Erase a person…*) and the retention purge
        are the usual ways results go."""
        if obj is not None and obj.campaign.is_live:
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MessageResult]) -> None:
        """The selected rows of campaigns that no longer send; rows of live campaigns are kept."""
        from ..models import LIVE_STATUSES

        live = queryset.filter(campaign__status__in=LIVE_STATUSES).count()
        deletable = queryset.exclude(campaign__status__in=LIVE_STATUSES)
        campaigns = list(Campaign.objects.filter(pk__in=deletable.values("campaign_id")))
        n, _ = deletable.delete()
        audit.record(
            request, AuditAction.RESULTS_DELETE, f"{n} rows deleted (results and attempts).", campaigns
        )
        if live:
            self.message_user(request, f"{live} result(s) of live campaigns were kept.", messages.WARNING)

    def delete_model(self, request: HttpRequest, obj: MessageResult) -> None:
        campaign = obj.campaign
        super().delete_model(request, obj)
        audit.record(request, AuditAction.RESULTS_DELETE, "1 result deleted.", campaign)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return may_export_results(request)

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        return search_results(queryset, search_term), False

    def get_changelist(self, request: HttpRequest, **kwargs):
        return BoundedChangeList

    def get_paginator(self, request: HttpRequest, queryset, per_page, orphans=0, allow_empty_first_page=True):
        """Counts from the tally where the filters allow it, else capped (see .scale)."""
        known = None if request.GET.get("q") else tally_count(request.GET.dict())
        joins_campaign = "campaign" in self.get_list_select_related(request)
        return TallyPaginator(
            queryset,
            per_page,
            known_count=known,
            # Only what the columns show: a page reads and builds no message, JSON or settings.
            rows=lambda rows: page_rows(rows, joins_campaign=joins_campaign),
            orphans=orphans,
            allow_empty_first_page=allow_empty_first_page,
        )

    def get_list_select_related(self, request: HttpRequest) -> tuple[str, ...]:
        """Filtered to one campaign, the rows do not join it (its column is hidden): a page does
        not read a hundred copies of its row, message and JSON included."""
        if campaign_filter(request):
            return tuple(r for r in self.list_select_related if r != "campaign")
        return self.list_select_related

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        """Without the campaign column when filtered to one campaign: the columns then fit 1400 px."""
        if campaign_filter(request):
            return tuple(c for c in self.list_display if c != "campaign")
        return self.list_display

    @admin.display(description="Session", ordering="session__name")
    def session_name(self, obj: MessageResult) -> str:
        return obj.session.name if obj.session else "—"

    @admin.display(description="Sent at", ordering="sent_at")
    def sent(self, obj: MessageResult) -> str:
        return when(obj.sent_at, seconds=True) if obj.sent_at else "—"

    @admin.display(description="Read", ordering="read_at")
    def read(self, obj: MessageResult) -> str:
        """When it was read; else "read status hidden or not yet read", or for a bot's message
        "not available for bots" (never "unread")."""
        kind, words = read_display(obj)
        if kind == "read":
            return when(obj.read_at, seconds=True)
        if not kind:
            return "—"
        return SafeString(f'<span class="tgc-muted tgc-read-{kind}">{_h(words)}</span>')

    @admin.display(description="Replied", ordering="replied_at")
    def replied(self, obj: MessageResult) -> str:
        """The first reply's time, and how many replies when more than one."""
        if not obj.replied_at:
            return "—"
        more = f" ({obj.reply_count} replies)" if obj.reply_count > 1 else ""
        return when(obj.replied_at, seconds=True) + more

    @admin.display(description="Recipient", ordering="key")
    def recipient_display(self, obj: MessageResult) -> str:
        """The key, or for a row skipped as invalid (no key) the value as written in the file."""
        if obj.key:
            return obj.key
        raw = source_row(obj)[2]
        return format_html(
            '<span class="tgc-raw" title="as written in the file">“{}”</span>', raw or "(empty)"
        )

    @admin.display(description="Person")
    def person(self, obj: MessageResult) -> str:
        """A link to the person's page: through the row the result was made from, else a row
        with its key (one indexed look-up); "—" when no list holds them any more."""
        row_id = obj.recipient_id or (
            Recipient.objects.filter(key=obj.key).values_list("pk", flat=True).first() if obj.key else None
        )
        return person_link(row_id, "Everything about this person") or "—"

    @admin.display(description="As written")
    def as_written(self, obj: MessageResult) -> str:
        list_id, _, raw, _ = source_row(obj)
        return "—" if list_id is None else raw or "(empty)"

    @admin.display(description="From")
    def source(self, obj: MessageResult) -> str:
        """The recipient list and row the result was made from."""
        list_id, list_name, _, row_number = source_row(obj)
        if list_id is None:
            return "—"
        return SafeString(f'<a href="{_h(list_url(list_id))}">{_h(list_name)}</a>, row {row_number}')

    @admin.display(description="Replies")
    def replies(self, obj: MessageResult) -> str:
        return replies_link(obj)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: MessageResult) -> str:
        """The status in the progress block's words ("Waiting", "Held for the winner"), its
        display label where that block has none; the value stays in the CSS class."""
        label = _STATUS_WORDS.get(obj.status) or obj.get_status_display()
        return SafeString(f'<span class="tgc-badge tgc-{_h(obj.status)}">{_h(str(label))}</span>')

    @admin.display(description="Message id", ordering="telegram_message_id")
    def message_id(self, obj: MessageResult) -> int | None:
        return obj.telegram_message_id

    @admin.action(description="Export selected results as CSV", permissions=["export"])
    def export_selected(self, request: HttpRequest, queryset: QuerySet[MessageResult]):
        return self._csv(request, queryset)

    def get_urls(self):
        export = path(
            "export/", self.admin_site.admin_view(self.export_view), name="campaigns_messageresult_export"
        )
        return [export] + super().get_urls()

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """The results the changelist shows for the same query string (filters, search), as CSV
        or, with ``format=xlsx``, as XLSX."""
        if not self.has_export_permission(request):
            raise PermissionDenied
        request.GET = request.GET.copy()
        file_format = "xlsx" if request.GET.pop("format", [""])[-1] == "xlsx" else "csv"
        try:
            results = guarded_queryset(self.get_changelist_instance(request).get_queryset(request))
        except IncorrectLookupParameters:
            return redirect("admin:campaigns_messageresult_changelist")
        except MALFORMED_QUERY_ERRORS:
            return bad_query()
        return self._csv(request, results, file_format)

    def _csv(
        self, request: HttpRequest, results: QuerySet[MessageResult], file_format: str = "csv"
    ) -> HttpResponse:
        query = request.GET.urlencode() or "none"
        audit.record(
            request,
            AuditAction.RESULTS_EXPORT,
            f"Results exported as {file_format.upper()} (filters: {query}).",
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        # Unless the changelist is filtered to one campaign, each row says which one it is.
        one_campaign = campaign_filter(request) is not None
        return results_response(
            results, f"results-{stamp}.csv", with_campaign=not one_campaign, file_format=file_format
        )

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = dict(extra_context or {})
        extra_context["can_export"] = self.has_export_permission(request)
        if campaign_id := campaign_filter(request):
            simulated = TelegramSession.objects.filter(campaigns=campaign_id, backend=Backend.SIMULATOR)
            extra_context["simulated"] = simulated.exists()
        return super().changelist_view(request, extra_context)

    class Media:
        css = {"all": ("campaigns/admin.css",)}
