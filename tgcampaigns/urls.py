"""URL configuration: the Django admin, the staff-only campaign endpoints (progress, export) and
the uploaded files, served to staff only: recipient lists hold personal data, so MEDIA_URL is never
public, with or without DEBUG."""

import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from campaigns.views import media_file, time_zone

from .metrics import metrics_view
from .probes import HealthView

# A database outage raised before any view (a middleware's session or user lookup): the 503 page.
handler500 = "tgcampaigns.outage.server_error"

admin.site.site_header = "tgcampaigns"
admin.site.site_title = "tgcampaigns"
admin.site.index_title = "Telegram campaigns"
# The home page: campaigns running, scheduled and recently finished, sessions that need attention.
admin.site.index_template = "admin/tgc_index.html"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # For load balancers and probes (no login, no personal data): 200 or 503, JSON.
    path("health/", HealthView.as_view(), name="health"),
    # Prometheus; off unless TGC_METRICS_TOKEN or TGC_METRICS_NETWORKS is set.
    path("metrics", metrics_view, name="metrics"),
    path("admin/time-zone/", admin.site.admin_view(time_zone), name="time_zone"),
    path("admin/", admin.site.urls),
    path("campaigns/", include("campaigns.urls")),
    # The REST API (docs/api.md): tokens, JSON problems, /api/v1/schema/ and /api/v1/docs/.
    path("api/v1/", include("campaigns.rest.routes")),
    re_path(rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}(?P<path>.+)$", media_file, name="media"),
]
