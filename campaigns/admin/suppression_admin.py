"""Admin for the suppression list (opt-outs, honoured before every send) and *Erase a person*."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction
from tgcampaigns.edit_conflicts import EditConflictGuard

from ..models import Suppression
from ..people import erasure as privacy
from .forms import ErasureForm, SuppressionForm
from .recipient_list_forms import SuppressionBulkForm


@admin.register(Suppression)
class SuppressionAdmin(EditConflictGuard, admin.ModelAdmin):
    """Opt-outs, honoured before every send. Keys are normalised like recipient keys."""

    form = SuppressionForm
    list_display = ("key", "source", "note", "created_at")
    list_filter = ("source",)
    search_fields = ("key", "note")
    date_hierarchy = "created_at"

    def save_model(self, request: HttpRequest, obj: Suppression, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        action = AuditAction.SUPPRESSION_CHANGE if change else AuditAction.SUPPRESSION_ADD
        audit.record(request, action, f"Suppression {'changed' if change else 'added'} ({obj.source}).", obj)

    def delete_model(self, request: HttpRequest, obj: Suppression) -> None:
        audit.record(request, AuditAction.SUPPRESSION_DELETE, "Suppression deleted.", obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        audit.record(request, AuditAction.SUPPRESSION_DELETE, "Suppression deleted.", queryset)
        super().delete_queryset(request, queryset)

    def get_urls(self):
        bulk = path(
            "bulk-add/", self.admin_site.admin_view(self.bulk_add_view), name="campaigns_suppression_bulk_add"
        )
        erase = path(
            "erase/", self.admin_site.admin_view(self.erase_view), name="campaigns_suppression_erase"
        )
        return [bulk, erase] + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context=None):
        can_erase = request.user.has_perm("campaigns.erase_person")
        return super().changelist_view(request, {**(extra_context or {}), "can_erase": can_erase})

    def erase_view(self, request: HttpRequest) -> HttpResponse:
        """Erase a person by any identity: every row and file that holds them (campaigns.people.erasure)."""
        if not request.user.has_perm("campaigns.erase_person"):
            raise PermissionDenied
        form = ErasureForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                report = privacy.erase_person(form.cleaned_data["identity"], actor=request)
            except privacy.ErasureError as exc:
                form.add_error("identity", str(exc))
            else:
                self.message_user(request, report.summary(), messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:campaigns_suppression_changelist"))
        context = {**self.admin_site.each_context(request), "title": "Erase a person", "opts": self.opts}
        return TemplateResponse(request, "admin/campaigns/suppression/erase.html", {**context, "form": form})

    def bulk_add_view(self, request: HttpRequest) -> HttpResponse:
        """Paste many opt-outs, read like a list's column; the valid ones are added and the page
        reports every entry (added, already suppressed, invalid with its reason, duplicate)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = SuppressionBulkForm(request.POST or None)
        report = None
        if request.method == "POST" and form.is_valid():
            entries = form.entries()
            added, existing = Suppression.objects.add(
                (e.key for e in entries if e.status == "valid"),
                source=Suppression.Source.MANUAL,
                note=form.cleaned_data["note"],
            )
            report = _report(entries, set(added))
            said = f"{len(added)} added, {len(existing)} already suppressed."
            audit.record(request, AuditAction.SUPPRESSION_IMPORT, f"Bulk add: {said}")
            self.message_user(request, said, messages.SUCCESS)
            if invalid := [e.raw for e in entries if e.status == "invalid"]:
                self.message_user(
                    request, f"Not recognised, not added: {', '.join(invalid)}", messages.WARNING
                )
            form = SuppressionBulkForm(initial={**form.cleaned_data, "keys": ""})
        context = {
            **self.admin_site.each_context(request),
            "title": "Add suppressions",
            "opts": self.opts,
            "form": form,
            "report": report,
            "changelist_url": reverse("admin:campaigns_suppression_changelist"),
        }
        return TemplateResponse(request, "admin/campaigns/suppression/bulk_add.html", context)


def _report(entries: list, added: set[str]) -> dict:
    """Counts and one row per entry, for the page: each valid entry is "added" or "already
    suppressed"; invalid and duplicate entries keep their reason."""
    rows = []
    for e in entries:
        outcome = e.status
        if e.status == "valid":
            outcome = "added" if e.key in added else "already suppressed"
        error = e.error or ""
        if error.startswith("no country code"):  # the page's own field reads them, not a list's
            error = (
                "no country code: choose the default region above, or write it with + and its country code"
            )
        rows.append({"number": e.number, "raw": e.raw, "key": e.key, "outcome": outcome, "error": error})
    counts = {
        "added": sum(r["outcome"] == "added" for r in rows),
        "existing": sum(r["outcome"] == "already suppressed" for r in rows),
        "invalid": sum(r["outcome"] == "invalid" for r in rows),
        "duplicate": sum(r["outcome"] == "duplicate" for r in rows),
    }
    return {"rows": rows, "counts": counts, "total": len(rows)}
