"""Staff-only views outside the admin's pages: the progress JSON and the results download.

Both are read-only and reached from the campaign change page; the admin holds everything else.
"""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache

from .exports import campaign_csv_response
from .models import Campaign
from .progress import progress_snapshot


@never_cache
@staff_member_required
def progress(request: HttpRequest, pk: int) -> JsonResponse:
    """The campaign's progress as data, plus the progress block's HTML rendered from the same
    snapshot, so the page's script swaps it in and never re-implements the layout."""
    if not request.user.has_perm("campaigns.view_campaign"):
        raise PermissionDenied
    snapshot = progress_snapshot(get_object_or_404(Campaign, pk=pk))
    html = render_to_string("admin/campaigns/campaign/_progress.html", {"progress": snapshot}, request)
    return JsonResponse({**snapshot, "html": html})


@staff_member_required
def export(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """Every result of the campaign as a streamed, Excel-safe CSV download."""
    if not request.user.has_perm("campaigns.view_messageresult"):
        raise PermissionDenied
    return campaign_csv_response(get_object_or_404(Campaign, pk=pk))
