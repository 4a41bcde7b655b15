"""Staff-only views outside the admin's pages: the progress, charts and report JSON, the results
download (CSV or XLSX), the uploaded files, and the time zone staff choose for themselves.

All are read-only and reached from the admin's pages; the admin holds everything else.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.cache import never_cache

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction
from tgcampaigns.permissions import may_view

from .admin.access import may_export_results
from .lists.zonenames import zone_choices
from .models import Campaign, RecipientList, StaffPreference
from .people.timezones import set_preferred_zone, when, zone_label
from .reporting.charts import chart_data
from .reporting.exports import campaign_csv_response
from .reporting.progress import live_progress
from .reporting.report import after_send_report

# Types a browser may show inline from our origin; anything else (HTML, SVG, PDF with scripts…)
# is downloaded, so an uploaded file can never run script on the admin's pages.
INLINE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "video/", "audio/")


@never_cache
@staff_member_required
def progress(request: HttpRequest, pk: int) -> JsonResponse:
    """The campaign's progress as data, plus the progress block's HTML rendered from the same
    snapshot, so the page's script swaps it in and never re-implements the layout."""
    if not may_view(request.user, "campaigns.campaign"):
        raise PermissionDenied
    snapshot = live_progress(get_object_or_404(Campaign, pk=pk))
    html = render_to_string("admin/campaigns/campaign/_progress.html", {"progress": snapshot}, request)
    return JsonResponse({**snapshot, "html": html})


@never_cache
@staff_member_required
def charts(request: HttpRequest, pk: int) -> JsonResponse:
    """The campaign's charts as data (:func:`campaigns.reporting.charts.chart_data`), from the tallies; the
    links to filtered results only for staff who may see results."""
    if not may_view(request.user, "campaigns.campaign"):
        raise PermissionDenied
    campaign = get_object_or_404(Campaign, pk=pk)
    return JsonResponse(chart_data(campaign, with_links=may_view(request.user, "campaigns.messageresult")))


@never_cache
@staff_member_required
def report(request: HttpRequest, pk: int) -> JsonResponse:
    """The campaign's after-the-send report (:func:`campaigns.reporting.report.after_send_report`, cached
    briefly) plus its section's HTML rendered from the same data. Read and reply figures are about
    people: the results' view permission, as for the results themselves."""
    if not (
        may_view(request.user, "campaigns.campaign") and may_view(request.user, "campaigns.messageresult")
    ):
        raise PermissionDenied
    data = after_send_report(get_object_or_404(Campaign, pk=pk))
    html = render_to_string("admin/campaigns/campaign/_report.html", {"report": data}, request)
    return JsonResponse({**data, "html": html})


@staff_member_required
def export(request: HttpRequest, pk: int) -> HttpResponse:
    """Every result of the campaign: CSV for machines (default) or ``?format=xlsx`` for people
    (personal data: needs the results' view and export permissions; recorded in the audit trail)."""
    if not may_export_results(request):
        raise PermissionDenied
    campaign = get_object_or_404(Campaign, pk=pk)
    file_format = "xlsx" if request.GET.get("format") == "xlsx" else "csv"
    audit.record(
        request, AuditAction.RESULTS_EXPORT, f"All results exported as {file_format.upper()}.", campaign
    )
    return campaign_csv_response(campaign, file_format)


def _file_owners() -> dict[str, tuple[type[Model], str, str, bool]]:
    """Top folder under MEDIA_ROOT → (model, file field, the field of its name as uploaded,
    download as attachment)."""
    owners = ((RecipientList, "file", "file_name", True), (Campaign, "media", "media_name", False))
    return {
        str(model._meta.get_field(field).upload_to).split("/")[0]: (model, field, named, attachment)
        for model, field, named, attachment in owners
    }


@staff_member_required
def media_file(request: HttpRequest, path: str) -> FileResponse:
    """An uploaded file, for staff who may view its owner: a recipient list's file (personal data:
    always a download) or a campaign's media. 404 for anything else: a path outside MEDIA_ROOT
    (``../``), a folder no model uploads to, a file no row refers to (a refused upload)."""
    root = Path(settings.MEDIA_ROOT).resolve()
    try:
        target = (root / path).resolve()
        found = target.is_relative_to(root) and target.is_file()
    except (OSError, ValueError):  # a NUL byte, a name too long
        found = False
    if not found:
        raise Http404
    name = target.relative_to(root).as_posix()
    owner = _file_owners().get(name.split("/")[0])
    if owner is None:
        raise Http404
    model, field, named, attachment = owner
    if not may_view(request.user, model._meta.label_lower):
        raise PermissionDenied
    uploaded_as = model._default_manager.filter(**{field: name}).values_list(named, flat=True).first()
    if uploaded_as is None:
        raise Http404
    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    inline = not attachment and content_type.startswith(INLINE_TYPES)
    # Saved under the name it was uploaded with, not the one the storage gave it.
    filename = uploaded_as or target.name
    response = FileResponse(target.open("rb"), as_attachment=not inline, filename=filename)
    response["Content-Security-Policy"] = "sandbox"
    patch_cache_control(response, private=True)
    return response


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        required=False,
        help_text="Times on every page are shown in it, and times you enter (a scheduled start) are read in it.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        site = settings.TIME_ZONE
        self.fields["time_zone"].choices = [("", f"The site's time zone ({site})")] + zone_choices()


def time_zone(request: HttpRequest) -> HttpResponse:
    """Staff choose the time zone they see and enter times in (wrapped by the admin site's
    ``admin_view``: staff only). Recorded in the audit trail."""
    current = (
        StaffPreference.objects.filter(user=request.user).values_list("time_zone", flat=True).first() or ""
    )
    form = TimeZoneForm(request.POST or None, initial={"time_zone": current})
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data["time_zone"]
        set_preferred_zone(request, chosen)
        audit.record(request, AuditAction.STAFF_TIME_ZONE, f"Time zone: {chosen or 'the site’s'}.")
        messages.success(request, f"Times are now shown in {zone_label()}.")
        return redirect("time_zone")
    context = {
        **admin.site.each_context(request),
        "title": "Your time zone",
        "form": form,
        "zone": zone_label(),
        "now": when(timezone.now()),
    }
    return TemplateResponse(request, "admin/time_zone.html", context)
