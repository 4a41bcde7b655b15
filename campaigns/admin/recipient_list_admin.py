"""Admin for recipient lists (the add page is the upload, then the mapping step) and their
recipients, read-only.

Upload: the add page stores the file and shows its first rows on the mapping page
(``<id>/mapping/``), where staff say how to read it and confirm; a small file is imported at once,
a large one in a worker while the list's page shows the progress.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction
from tgcampaigns.edit_conflicts import EditConflictGuard

from ..lists import jobs
from ..lists.file_preview import preview_file
from ..lists.mapping import KIND_LABELS, Mapping, MappingError
from ..lists.search import search_recipients
from ..lists.table import ImportRefused
from ..models import ImportStatus, Recipient, RecipientList
from .display import fields_table
from .person_admin import person_link
from .recipient_list_forms import RecipientListChangeForm, RecipientListMappingForm, RecipientListUploadForm
from .recipient_tag_actions import add_tags, remove_tags

# Invalid/duplicate rows listed on a recipient list's page; the rest are one click away.
REPORT_ROWS_SHOWN = 200
_BUSY = (ImportStatus.QUEUED, ImportStatus.RUNNING)


@admin.register(RecipientList)
class RecipientListAdmin(EditConflictGuard, admin.ModelAdmin):
    """Lists are created only by uploading a file (the add page is the upload form) and are
    read-only afterwards except for their name, consent note and default time zone: the
    recipients are the file's."""

    form = RecipientListChangeForm

    list_display = (
        "name",
        "consent_basis",
        "import_state",
        "valid_count",
        "invalid_count",
        "duplicate_count",
        "total_rows",
        "created_at",
    )
    list_filter = ("consent_basis", "import_status")
    search_fields = ("name",)
    date_hierarchy = "created_at"
    fields = (
        "name",
        "consent_basis",
        "consent_note",
        "default_time_zone",
        "uploaded_file",
        "import_state",
        "how_read",
        "created_by",
        "created_at",
        "validation_report",
    )
    readonly_fields = (
        "consent_basis",
        "uploaded_file",
        "import_state",
        "how_read",
        "created_by",
        "created_at",
        "validation_report",
    )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/mapping/", view(self.mapping_view), name="campaigns_recipientlist_mapping"),
            path("<int:pk>/retry-import/", view(self.retry_view), name="campaigns_recipientlist_retry"),
        ] + super().get_urls()

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None) -> HttpResponse:
        """Step 1: the file. A file that cannot be a recipient list is a form error and creates
        nothing; otherwise the mapping step follows."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        data, files = request.POST or None, request.FILES or None  # reading them runs the upload handlers
        refused = getattr(request, "upload_refused", "")
        form = RecipientListUploadForm(data, files, upload_refused=refused)
        if request.method == "POST" and form.is_valid():
            try:
                recipient_list = form.stage(request.user)
            except ImportRefused as exc:
                form.add_error("file", str(exc))
            else:
                self.log_addition(request, recipient_list, [{"added": {}}])
                return redirect("admin:campaigns_recipientlist_mapping", recipient_list.pk)
        context = {**self._context(request, "Upload a recipient list"), "form": form}
        return TemplateResponse(request, "admin/campaigns/recipientlist/upload.html", context)

    def mapping_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Step 2: the first rows as they will be read; "Update preview" reads them again with
        the choices made, "Import" imports (or queues) the list, "Cancel" deletes the upload."""
        recipient_list = get_object_or_404(RecipientList, pk=pk)
        if not self.has_add_permission(request):
            raise PermissionDenied
        if recipient_list.import_status != ImportStatus.MAPPING:
            return redirect("admin:campaigns_recipientlist_change", pk)
        if request.method == "POST" and "_cancel" in request.POST:
            name = str(recipient_list)
            recipient_list.file.delete(save=False)
            recipient_list.delete()
            self.message_user(request, f"The upload of “{name}” was cancelled; nothing was imported.")
            return redirect("admin:campaigns_recipientlist_changelist")
        error = ""
        try:
            preview = preview_file(recipient_list.file, Mapping.from_json(recipient_list.mapping))
        except (ImportRefused, MappingError) as exc:
            preview, error = preview_file(recipient_list.file, Mapping()), str(exc)
        zone = recipient_list.default_time_zone
        form = RecipientListMappingForm(preview=preview, default_time_zone=zone)
        if request.method == "POST":
            columns = sum(1 for name in request.POST if name.startswith("role_"))
            form = RecipientListMappingForm(request.POST, preview=preview, columns=columns)
            if form.is_valid():
                try:
                    preview = preview_file(recipient_list.file, form.mapping())
                    error = ""
                except (ImportRefused, MappingError) as exc:
                    error = str(exc)
                else:
                    recipient_list.mapping = preview.mapping.as_json()
                    recipient_list.default_time_zone = form.cleaned_data["default_time_zone"]
                    recipient_list.save(update_fields=["mapping", "default_time_zone"])
                    if "_import" in request.POST and not preview.roles_reset:
                        return self._import(request, recipient_list, preview)
                    form = RecipientListMappingForm(
                        preview=preview, default_time_zone=recipient_list.default_time_zone
                    )
        context = {
            **self._context(request, f"How to read “{recipient_list}”"),
            "list": recipient_list,
            "file_name": recipient_list.file_shown_name,
            "form": form,
            "preview": preview,
            "error": error,
        }
        return TemplateResponse(request, "admin/campaigns/recipientlist/mapping.html", context)

    def _import(self, request: HttpRequest, recipient_list: RecipientList, preview) -> HttpResponse:
        try:
            with transaction.atomic():
                report = jobs.start_import(
                    recipient_list, preview.mapping, estimated_rows=preview.estimated_rows
                )
        except ImportRefused as exc:
            self.message_user(request, f"The file was refused: {exc}", messages.ERROR)
            return redirect("admin:campaigns_recipientlist_mapping", recipient_list.pk)
        if report is None:
            audit.record(request, AuditAction.LIST_IMPORT, "Import queued for a worker.", recipient_list)
            self.message_user(
                request,
                f"“{recipient_list}” is being imported in the background; this page shows its progress.",
            )
        else:
            audit.record(request, AuditAction.LIST_IMPORT, recipient_list.summary(), recipient_list)
            self.message_user(request, recipient_list.summary(), messages.SUCCESS)
        return redirect("admin:campaigns_recipientlist_change", recipient_list.pk)

    def delete_model(self, request: HttpRequest, obj: RecipientList) -> None:
        audit.record(request, AuditAction.LIST_DELETE, f"“{obj}” deleted with its file.", obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        audit.record(request, AuditAction.LIST_DELETE, "Deleted with its file.", queryset)
        super().delete_queryset(request, queryset)

    def retry_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """POST: queue a failed or stalled import again."""
        recipient_list = get_object_or_404(RecipientList, pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, recipient_list):
            raise PermissionDenied
        if jobs.retry_import(recipient_list):
            self.message_user(request, "The import was queued again.")
        else:
            self.message_user(
                request, "The import is not failed or stalled: nothing to do.", messages.WARNING
            )
        return redirect("admin:campaigns_recipientlist_change", pk)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        recipient_list = self.get_object(request, object_id)
        if recipient_list is not None and recipient_list.import_status == ImportStatus.MAPPING:
            return redirect("admin:campaigns_recipientlist_mapping", recipient_list.pk)
        extra_context = dict(extra_context or {})
        if recipient_list is not None:
            extra_context["importing"] = recipient_list.import_status in _BUSY
            extra_context["can_retry"] = (
                recipient_list.import_status == ImportStatus.FAILED or jobs.is_stalled(recipient_list)
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def _context(self, request: HttpRequest, title: str) -> dict:
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "has_view_permission": self.has_view_permission(request),
            "media": self.media,
        }

    @admin.display(description="Import", ordering="import_status")
    def import_state(self, obj: RecipientList) -> SafeString:
        """The import's status; while it runs, rows read of about how many."""
        label = obj.get_import_status_display()
        if obj.import_status in _BUSY and obj.import_total:
            done = min(100, round(100 * obj.import_progress / obj.import_total))
            return format_html(
                '<span class="tgc-badge tgc-running">{}</span> {} of about {} rows ({}%)'
                '<div class="tgc-bar tgc-bar-small"><span style="width: {}%; background: #1565c0"></span></div>',
                label,
                f"{obj.import_progress:,}",
                f"{obj.import_total:,}",
                done,
                done,
            )
        if obj.import_status == ImportStatus.FAILED:
            return format_html('<span class="tgc-badge tgc-failed">{}</span> {}', label, obj.import_error)
        css = {ImportStatus.DONE: "completed", ImportStatus.MAPPING: "draft"}.get(
            obj.import_status, "running"
        )
        return format_html('<span class="tgc-badge tgc-{}">{}</span>', css, label)

    @admin.display(description="File")
    def uploaded_file(self, obj: RecipientList) -> str:
        """The file, named as it was uploaded (not by its stored path)."""
        if not obj.file:
            return "—"
        return format_html('<a href="{}">{}</a>', obj.file.url, obj.file_shown_name)

    @admin.display(description="How the file was read")
    def how_read(self, obj: RecipientList) -> SafeString:
        return render_to_string("admin/campaigns/recipientlist/_how_read.html", {"notes": _file_notes(obj)})

    @admin.display(description="Validation report")
    def validation_report(self, obj: RecipientList) -> SafeString:
        if obj.import_status != ImportStatus.DONE:
            return "—"
        problems = obj.recipients.exclude(status=Recipient.Status.VALID).order_by("row_number")
        noted = obj.recipients.filter(status=Recipient.Status.VALID).exclude(error="").order_by("row_number")
        no_consent = obj.no_consent_count()
        context = {
            "list": obj,
            "invalid": obj.invalid_count - no_consent,
            "no_consent": no_consent,
            "problems": problems[:REPORT_ROWS_SHOWN],
            "noted": noted[:REPORT_ROWS_SHOWN],
            "more": max(0, obj.invalid_count + obj.duplicate_count - REPORT_ROWS_SHOWN),
            "recipients_url": reverse("admin:campaigns_recipient_changelist")
            + f"?recipient_list__id__exact={obj.pk}",
        }
        return render_to_string("admin/campaigns/recipientlist/_report.html", context)

    class Media:
        css = {"all": ("campaigns/admin.css",)}


def _file_notes(obj: RecipientList) -> dict[str, str]:
    """How the importer read the file (format, encoding, delimiter, columns, identity order,
    region), for staff to check."""
    report, mapping = obj.report or {}, obj.mapping or {}
    delimiters = {",": "comma", ";": "semicolon", "\t": "tab"}
    order = mapping.get("identity_order") or report.get("identity_order") or []
    notes = {
        "format": str(report.get("file_format", "")).upper(),
        "sheet": report.get("sheet", ""),
        "encoding": report.get("encoding", ""),
        "delimiter": delimiters.get(report.get("delimiter", ""), report.get("delimiter", "")),
        "identity columns": report.get("recipient_column", "") or obj.recipient_column,
        "identity order": ", then ".join(KIND_LABELS.get(k, k) for k in order),
        "default region": obj.default_region,
        "other identities kept": f"{report['other_identities']:,}" if report.get("other_identities") else "",
        "tags": ", ".join(f"{name} ({count:,})" for name, count in (report.get("tags") or {}).items()),
    }
    return {name: value for name, value in notes.items() if value}


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin):
    """Read-only: recipients change only by uploading a new list."""

    list_display = ("row_number", "key", "kind", "status", "error", "raw_value", "recipient_list", "person")
    list_filter = ("recipient_list", "status", "kind", "tags")
    actions = [add_tags, remove_tags]
    search_fields = ("key", "raw_value", "other_identities__key")
    search_help_text = (
        "A recipient as written (@name, phone, user id), the start of a phone (07700, +1 415) or of a name."
    )
    list_select_related = ("recipient_list",)
    show_full_result_count = False
    readonly_fields = ("identities", "personalisation")

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        # Index look-ups only (campaigns.lists.search), never LIKE '%…%' over a million rows.
        return search_recipients(queryset, search_term), True

    fields = (
        "recipient_list",
        "row_number",
        "raw_value",
        "key",
        "kind",
        "status",
        "error",
        "identities",
        "personalisation",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_add_tags_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.add_recipienttag")

    def has_remove_tags_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.delete_recipienttag")

    @admin.display(description="Person")
    def person(self, obj: Recipient) -> str:
        # The results' permission guards the person's page (personal data, history).
        return person_link(obj.pk) if obj.key else ""

    @admin.display(description="Personalisation fields")
    def personalisation(self, obj: Recipient) -> str:
        return fields_table(obj.fields)

    @admin.display(description="Identities (key first)")
    def identities(self, obj: Recipient) -> str:
        return ", ".join(obj.identities()) or "—"
