"""Admin for recipient lists (the add page is the upload) and their recipients, read-only."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.safestring import SafeString

from .. import audit
from ..lists.importing import ImportRefused
from ..models import AuditAction, Recipient, RecipientList
from .forms import RecipientListUploadForm

# Invalid/duplicate rows listed on a recipient list's page; the rest are one click away.
REPORT_ROWS_SHOWN = 200


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
                audit.record(request, AuditAction.LIST_IMPORT, recipient_list.summary(), recipient_list)
                self.message_user(request, recipient_list.summary(), messages.SUCCESS)
                return redirect("admin:campaigns_recipientlist_change", recipient_list.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload a recipient list",
            "opts": self.opts,
            "form": form,
            "has_view_permission": self.has_view_permission(request),
        }
        return TemplateResponse(request, "admin/campaigns/recipientlist/upload.html", context)

    def delete_model(self, request: HttpRequest, obj: RecipientList) -> None:
        audit.record(request, AuditAction.LIST_DELETE, f"“{obj}” deleted with its file.", obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        audit.record(request, AuditAction.LIST_DELETE, "Deleted with its file.", queryset)
        super().delete_queryset(request, queryset)

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
