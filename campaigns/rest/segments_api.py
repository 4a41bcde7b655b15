"""Segments, read-only: the saved choices of people a campaign may target (``segments`` of a
draft). They are built in the admin (*Segments*); their definition is the segment language of
:mod:`campaigns.models.segment_rules`."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from tgcampaigns.apitokens.views import ApiView

from ..models import Segment


class SegmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = ["id", "name", "description", "definition", "updated_at"]
        read_only_fields = fields


class SegmentsView(ApiView):
    """GET: every segment, by name (id, name, description, definition, updated_at). Counting
    one's people is the launch summary's job (``/campaigns/{id}/launch/``)."""

    perms = {"GET": ("campaigns.view_segment",)}
    serializer_class = SegmentSerializer

    @extend_schema(responses={200: SegmentSerializer(many=True)})
    def get(self, request) -> Response:
        return Response(SegmentSerializer(Segment.objects.order_by("name", "pk"), many=True).data)
