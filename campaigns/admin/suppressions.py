"""Admin for the suppression list: opt-outs, honoured before every send."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from ..models import Suppression
from .forms import SuppressionForm
from .listforms import SuppressionBulkForm


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
            self.message_user(
                request, f"{len(added)} added, {len(existing)} already suppressed.", messages.SUCCESS
            )
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
        rows.append({"number": e.number, "raw": e.raw, "key": e.key, "outcome": outcome, "error": e.error})
    counts = {
        "added": sum(r["outcome"] == "added" for r in rows),
        "existing": sum(r["outcome"] == "already suppressed" for r in rows),
        "invalid": sum(r["outcome"] == "invalid" for r in rows),
        "duplicate": sum(r["outcome"] == "duplicate" for r in rows),
    }
    return {"rows": rows, "counts": counts, "total": len(rows)}
