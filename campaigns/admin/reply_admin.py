"""Admin for replies: what recipients answered, read-only, filtered, searched and exported.

Reply text is personal data: seeing a reply needs the results' view permission, exporting it the
results' export permission (docs/design.md "Personal data"). A reply's text is written by a stranger,
so the CSV neutralises a text cell that a spreadsheet would run as a formula (OWASP "CSV
injection": a leading ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading ``'``).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import reverse
from django.utils.html import format_html

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction

from ..models import MessageResult, Reply
from ..reporting.exports import csv_chunks, csv_value
from .access import may_export_results, may_see_results

COLUMNS = ["campaign", "key", "peer_id", "message_id", "received_at", "text", "is_opt_out", "session"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would take it for a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def reply_rows(replies: QuerySet[Reply]) -> Iterator[list]:
    """The header, then one row per reply (:data:`COLUMNS`), streamed."""
    yield COLUMNS
    rows = replies.select_related("campaign", "session", "result").order_by("received_at", "id")
    for r in rows.iterator(chunk_size=2000):
        yield [
            r.campaign.name,
            r.result.key,
            r.peer_id,
            r.message_id,
            r.received_at,
            neutralised(r.text),
            r.is_opt_out,
            r.session.name if r.session else "",
        ]


def replies_csv_response(replies: QuerySet[Reply], filename: str = "replies.csv") -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        (
            chunk.encode("utf-8")
            for chunk in csv_chunks([csv_value(v) for v in row] for row in reply_rows(replies))
        ),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class PersonalData:
    """Viewing needs the results' view permission; nothing is added, changed or deleted here."""

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return may_see_results(request)

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Reply)
class ReplyAdmin(PersonalData, admin.ModelAdmin):
    """Read-only: the listener and the catch-up write replies; staff filter, read and export."""

    list_display = ("received_at", "campaign", "recipient", "text", "session", "is_opt_out")
    list_filter = ("campaign", "session", "is_opt_out")
    search_fields = ("text", "result__key")
    search_help_text = "Words of the reply, or the recipient as written in the list (@name, phone, user id)."
    list_select_related = ("campaign", "session", "result")
    list_per_page = 100
    show_full_result_count = False
    actions = ["export_selected"]
    fields = (
        "campaign",
        "result_link",
        "peer_id",
        "message_id",
        "received_at",
        "text",
        "is_opt_out",
        "session",
    )
    readonly_fields = fields

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # The result page links here with ?result__id__exact=<id>.
        return lookup == "result__id__exact" or super().lookup_allowed(lookup, value, request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return may_export_results(request)

    @admin.display(description="Recipient", ordering="result__key")
    def recipient(self, obj: Reply) -> str:
        return obj.result.key or "(erased)"

    @admin.display(description="Result")
    def result_link(self, obj: Reply) -> str:
        url = reverse("admin:campaigns_messageresult_change", args=[obj.result_id])
        return format_html('<a href="{}">{}</a>', url, obj.result.key or obj.result_id)

    @admin.action(description="Export selected replies as CSV", permissions=["export"])
    def export_selected(self, request: HttpRequest, queryset: QuerySet[Reply]):
        """Reply text is personal data: the export is audited like the results' exports."""
        n = queryset.count()
        audit.record(request, AuditAction.RESULTS_EXPORT, f"Replies exported as CSV ({n} replies).")
        return replies_csv_response(queryset)


class ReplyInline(PersonalData, admin.TabularInline):
    """The replies a result received, read-only, on the result's page."""

    model = Reply
    fields = ("received_at", "text", "is_opt_out", "session")
    readonly_fields = fields
    extra = 0


def replies_link(result: MessageResult) -> str:
    """A link to the Replies page filtered to ``result`` (with its count), or "—"."""
    if not result.reply_count:
        return "—"
    url = reverse("admin:campaigns_reply_changelist") + f"?result__id__exact={result.pk}"
    return format_html(
        '<a href="{}">{} repl{}</a>', url, result.reply_count, "y" if result.reply_count == 1 else "ies"
    )
