"""Results and replies: filtered, cursor-paginated on id (newest first; a page is one index range
scan at any depth), and the results' streaming CSV export (:mod:`campaigns.reporting.exports`,
the admin's own columns). Both hold personal data: the results' view permission is needed, as in
the admin; the export needs the export permission too and is audited."""

from __future__ import annotations

from django.db.models import F, QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, renderers, serializers
from rest_framework.response import Response

from tgcampaigns import audit
from tgcampaigns.apitokens.paging import IdCursor
from tgcampaigns.apitokens.views import ApiView
from tgcampaigns.audit import AuditAction
from tgcampaigns.bounds import BIGINT_MAX

from ..lists.normalise import normalise
from ..models import MessageResult, Reply, ResultStatus
from ..reporting.exports import results_csv_response

VIEW_RESULTS = ("campaigns.view_messageresult",)


class ResultFilter(serializers.Serializer):
    """The results' filters, as query parameters; all optional, combined with AND."""

    campaign = serializers.IntegerField(required=False, min_value=1, max_value=BIGINT_MAX)  # an id
    status = serializers.ChoiceField(choices=ResultStatus.choices, required=False)
    error_code = serializers.CharField(required=False, max_length=100)
    identity = serializers.CharField(required=False, max_length=500, help_text="@name, +phone or user id")
    replied = serializers.BooleanField(required=False, allow_null=True, default=None)

    def apply(self, results: QuerySet[MessageResult]) -> QuerySet[MessageResult]:
        data = self.validated_data
        for name in ("campaign", "status", "error_code"):
            if name in data:
                results = results.filter(**{name: data[name]})
        if "identity" in data:
            found = normalise(data["identity"])
            results = results.filter(key=found.key if found.is_valid else data["identity"].strip())
        if data.get("replied") is not None:
            results = results.filter(replied_at__isnull=not data["replied"])
        return results


def _filtered(view, queryset: QuerySet) -> QuerySet:
    form = view.filter_class(data=view.request.query_params)
    form.is_valid(raise_exception=True)
    return form.apply(queryset)


class ResultSerializer(serializers.ModelSerializer):
    session = serializers.CharField(source="session.name", default=None, allow_null=True)

    class Meta:
        model = MessageResult
        fields = [
            "id", "campaign", "key", "kind", "status", "session", "telegram_message_id", "error_code",
            "error_text", "attempts", "variant", "fields", "created_at", "sent_at", "read_at", "replied_at",
            "reply_count",
        ]  # fmt: skip


# The columns of a result as the API gives them (:class:`ResultSerializer` documents them).
RESULT_COLUMNS = (
    "id", "campaign_id", "key", "kind", "status", "telegram_message_id", "error_code", "error_text",
    "attempts", "variant", "fields", "created_at", "sent_at", "read_at", "replied_at", "reply_count",
)  # fmt: skip
TIMES = ("created_at", "sent_at", "read_at", "replied_at")


def _when(value):
    """A time as DRF writes one (ISO 8601 in the current zone, ``Z`` for UTC)."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class ResultsView(ApiView, generics.ListAPIView):
    """GET: results, newest first, filtered; ``next`` holds the following page's URL.

    Rows are read as values and written out directly: DRF's model serializer took half of a
    page's time (about 0.5 ms a row)."""

    serializer_class = ResultSerializer
    pagination_class = IdCursor
    filter_class = ResultFilter
    perms = {"GET": VIEW_RESULTS}

    @extend_schema(parameters=[ResultFilter])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet:
        results = MessageResult.objects.values(*RESULT_COLUMNS, session_name=F("session__name"))
        return _filtered(self, results)

    def list(self, request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = []
        for row in page:
            row["campaign"], row["session"] = row.pop("campaign_id"), row.pop("session_name")
            for name in TIMES:
                row[name] = _when(row[name])
            rows.append(row)
        return self.get_paginated_response(rows)


class CsvRenderer(renderers.BaseRenderer):
    """Lets a client ask for ``text/csv``; the export answers with its own streaming response."""

    media_type = "text/csv"
    format = "csv"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class ResultsExportView(ApiView):
    """GET: every result the filters select, as CSV (UTF-8 with BOM, streamed: memory stays flat
    at a million rows), the admin export's columns."""

    perms = {"GET": (*VIEW_RESULTS, "campaigns.export_messageresult")}
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]
    filter_class = ResultFilter

    @extend_schema(
        parameters=[ResultFilter],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The results as CSV.")},
    )
    def get(self, request):
        results = _filtered(self, MessageResult.objects.all())
        audit.record(request, AuditAction.RESULTS_EXPORT, "Results exported as CSV through the API.")
        return results_csv_response(results.order_by("id"), "results.csv")


class ReplyFilter(serializers.Serializer):
    campaign = serializers.IntegerField(required=False, min_value=1, max_value=BIGINT_MAX)  # an id
    opt_out = serializers.BooleanField(required=False, allow_null=True, default=None)

    def apply(self, replies: QuerySet[Reply]) -> QuerySet[Reply]:
        data = self.validated_data
        if "campaign" in data:
            replies = replies.filter(campaign=data["campaign"])
        if data.get("opt_out") is not None:
            replies = replies.filter(is_opt_out=data["opt_out"])
        return replies


class ReplySerializer(serializers.ModelSerializer):
    key = serializers.CharField(source="result.key")

    class Meta:
        model = Reply
        fields = ["id", "campaign", "result", "key", "text", "received_at", "is_opt_out"]


class RepliesView(ApiView, generics.ListAPIView):
    """GET: replies recipients sent after a campaign's message, newest first, filtered."""

    serializer_class = ReplySerializer
    pagination_class = IdCursor
    filter_class = ReplyFilter
    perms = {"GET": ("campaigns.view_reply", *VIEW_RESULTS)}

    @extend_schema(parameters=[ReplyFilter])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Reply]:
        return _filtered(self, Reply.objects.select_related("result"))
