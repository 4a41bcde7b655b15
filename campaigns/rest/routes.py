"""The API's URLs under ``/api/v1/`` (included by :mod:`tgcampaigns.urls`), with the OpenAPI
schema and its documentation page (Swagger UI from drf-spectacular-sidecar: nothing loads from a
CDN)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from . import lists_api

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
]
