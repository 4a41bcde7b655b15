"""The API's URLs under ``/api/v1/`` (included by :mod:`tgcampaigns.urls`), with the OpenAPI
schema and its documentation page (Swagger UI from drf-spectacular-sidecar: nothing loads from a
CDN)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from . import campaigns_api, lists_api, people_api, results_api, segments_api

app_name = "api"


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema (YAML; ``?format=json`` for JSON), open to all: it holds no data."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


class DocsView(SpectacularSwaggerView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="api:schema"), name="docs"),
    path("lists/", lists_api.ListsView.as_view(), name="lists"),
    path("lists/<int:pk>/", lists_api.ListView.as_view(), name="list"),
    path("lists/<int:pk>/file/", lists_api.ListFileView.as_view(), name="list-file"),
    path("lists/<int:pk>/recipients/", lists_api.ListRecipientsView.as_view(), name="list-recipients"),
    path("sessions/", campaigns_api.SessionsView.as_view(), name="sessions"),
    path("segments/", segments_api.SegmentsView.as_view(), name="segments"),
    path("campaigns/", campaigns_api.CampaignsView.as_view(), name="campaigns"),
    path("campaigns/<int:pk>/", campaigns_api.CampaignView.as_view(), name="campaign"),
    path("campaigns/<int:pk>/media/", campaigns_api.MediaView.as_view(), name="campaign-media"),
    path("campaigns/<int:pk>/launch/", campaigns_api.LaunchView.as_view(), name="campaign-launch"),
    path("campaigns/<int:pk>/progress/", campaigns_api.ProgressView.as_view(), name="campaign-progress"),
    *[
        path(
            f"campaigns/<int:pk>/{op}/",
            campaigns_api.OperationView.as_view(operation=op),
            name=f"campaign-{op}",
        )
        for op in ("pause", "resume", "cancel")
    ],
    path("results/", results_api.ResultsView.as_view(), name="results"),
    path("results/export/", results_api.ResultsExportView.as_view(), name="results-export"),
    path("replies/", results_api.RepliesView.as_view(), name="replies"),
    path("suppressions/", people_api.SuppressionsView.as_view(), name="suppressions"),
    path("suppressions/<str:identity>/", people_api.SuppressionView.as_view(), name="suppression"),
    path("persons/<str:identity>/", people_api.PersonView.as_view(), name="person"),
    path("persons/<str:identity>/erase/", people_api.PersonErasureView.as_view(), name="person-erase"),
]
