"""URL configuration: the Django admin, plus two staff-only campaign endpoints (progress, export)."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "tgcampaigns"
admin.site.site_title = "tgcampaigns"
admin.site.index_title = "Telegram campaigns"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("campaigns/", include("campaigns.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
