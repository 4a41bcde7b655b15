"""Campaigns: list, create and edit drafts (validated by the admin's own :class:`CampaignForm`),
read the launch summary with its fingerprint and launch with it (the admin's refusals), pause,
resume, cancel (the admin's :mod:`campaigns.admin.campaign_operations`), read the progress."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from sessions_app.models import Backend, TelegramSession
from tgcampaigns import audit
from tgcampaigns.apitokens.paging import IdCursor
from tgcampaigns.apitokens.problems import problem
from tgcampaigns.apitokens.views import ApiView
from tgcampaigns.audit import AuditAction
from tgcampaigns.permissions import may_view

from ..admin import campaign_operations as operations
from ..admin.forms import CampaignForm
from ..models import Campaign, CampaignStatus, MediaType
from ..reporting.progress import progress_snapshot
from ..reporting.summary import confirm_matches, launch_summary
from .outcome import told

VIEW = ("campaigns.view_campaign",)
WRITABLE = (
    "name", "message", "parse_mode", "lists", "segments", "sessions", "strategy", "delay_seconds", "max_attempts",
    "priority", "scheduled_at", "send_window_start", "send_window_end",
)  # fmt: skip
MANY = ("lists", "segments", "sessions")  # the campaign's many-to-many choices


class CampaignSerializer(serializers.ModelSerializer):
    """A campaign as the API reads it and writes it (drafts only are written)."""

    class Meta:
        model = Campaign
        fields = [
            "id", "name", "status", "status_reason", *WRITABLE[1:], "media_type", "launched_at",
            "finished_at", "created_at",
        ]  # fmt: skip
        read_only_fields = [
            "status",
            "status_reason",
            "media_type",
            "launched_at",
            "finished_at",
            "created_at",
        ]
        extra_kwargs = {
            "lists": {"required": False},
            "segments": {"required": False},
            "sessions": {"required": False},
            # A number out of range, or none (NaN, infinity), is refused naming the range: the
            # model's bounds, as the admin's form refuses it.
            **{
                name: {"error_messages": bounds.error_messages()}
                for name, bounds in Campaign.BOUNDS.items()
                if name in WRITABLE
            },
        }


def _form_data(campaign: Campaign | None, given: dict) -> dict:
    """The admin form's data: the campaign's saved values, overridden by ``given`` (API names)."""
    template = campaign or Campaign()  # a new one starts from the model's defaults
    data = {name: getattr(template, name) for name in WRITABLE if name not in MANY}
    if campaign is not None:
        data["media_type"] = (campaign.media_info or {}).get("asked", campaign.media_type)
        for name in MANY:
            data[name] = list(getattr(campaign, name).values_list("pk", flat=True))
        for name, text in zip(CampaignForm.VARIANT_FIELDS, campaign.variants or [], strict=False):
            data[name] = text
        for label, name in CampaignForm.SHARE_FIELDS.items():
            data[name] = (campaign.split or {}).get(label, "")
    data.update({k: v for k, v in given.items() if k in WRITABLE})
    for name in MANY:
        data[name] = [getattr(x, "pk", x) for x in data.get(name, [])]
    when = data.pop("scheduled_at", None)
    if when:
        local = timezone.localtime(when)
        data["scheduled_at_0"], data["scheduled_at_1"] = local.date().isoformat(), local.time().isoformat()
    for name in ("send_window_start", "send_window_end"):
        data[name] = data[name].strftime("%H:%M") if data.get(name) else ""
    return {k: ("" if v is None else v) for k, v in data.items()}


class CampaignsView(ApiView, generics.ListCreateAPIView):
    """GET: campaigns, newest first. POST: a new draft, checked as the admin's form checks it."""

    serializer_class = CampaignSerializer
    pagination_class = IdCursor
    queryset = Campaign.objects.prefetch_related(*MANY)
    perms = {"GET": VIEW, "POST": ("campaigns.add_campaign",)}

    def perform_create(self, serializer) -> None:
        serializer.instance = save_draft(self.request, None, serializer.validated_data)


class CampaignView(ApiView, generics.RetrieveUpdateAPIView):
    """GET: one campaign. PATCH/PUT: edit a draft (409 once it is launched)."""

    serializer_class = CampaignSerializer
    queryset = Campaign.objects.prefetch_related(*MANY)
    perms = {"GET": VIEW, "PATCH": ("campaigns.change_campaign",), "PUT": ("campaigns.change_campaign",)}

    def update(self, request, *args, **kwargs) -> Response:
        campaign = self.get_object()
        if campaign.status != CampaignStatus.DRAFT:
            return problem(
                409,
                f"“{campaign}” is {campaign.get_status_display().lower()}: only drafts are edited.",
                "not_draft",
            )
        return super().update(request, *args, **kwargs)

    def perform_update(self, serializer) -> None:
        serializer.instance = save_draft(self.request, serializer.instance, serializer.validated_data)


def save_draft(request, campaign: Campaign | None, given: dict, files: dict | None = None) -> Campaign:
    """Save ``given`` (and ``files``: the media) through the admin's form (its checks: the
    message, the A/B test, the window, the lists ready, the media against Telegram's limits);
    raises a ValidationError naming the form's fields."""
    data = _form_data(campaign, given)
    if files is not None:
        data["media_type"] = given.get("media_type", "")
        if not files:
            data["media-clear"] = "on"
    form = CampaignForm(data=data, files=files or None, instance=campaign)
    if not form.is_valid():
        errors = {("non_field_errors" if k == "__all__" else k): v for k, v in form.errors.items()}
        raise serializers.ValidationError(errors)
    saved = form.save(commit=False)
    if campaign is None:
        saved.created_by = request.user
    saved.save()
    form.save_m2m()
    audit.record(
        request, AuditAction.CAMPAIGN_SAVE, f"“{saved}” {'saved' if campaign else 'made'} as a draft.", saved
    )
    return saved


class MediaSerializer(serializers.Serializer):
    media = serializers.FileField(help_text="A photo, video, document, audio file or voice note.")
    media_type = serializers.ChoiceField(
        choices=[c for c in MediaType.values if c],
        required=False,
        help_text="Left out: from the file's content.",
    )


class MediaView(ApiView):
    """POST (multipart): attach a media file to a draft (the message becomes its caption),
    checked against Telegram's limits as in the admin. DELETE: send text only again."""

    perms = {"POST": ("campaigns.change_campaign",), "DELETE": ("campaigns.change_campaign",)}
    serializer_class = MediaSerializer

    @extend_schema(request=MediaSerializer, responses={200: CampaignSerializer})
    def post(self, request, pk: int) -> Response:
        form = MediaSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        given = {"media_type": form.validated_data.get("media_type", "")}
        return self._save(request, pk, given, {"media": form.validated_data["media"]})

    @extend_schema(responses={200: CampaignSerializer})
    def delete(self, request, pk: int) -> Response:
        return self._save(request, pk, {}, {})

    def _save(self, request, pk: int, given: dict, files: dict) -> Response:
        campaign = get_object_or_404(Campaign, pk=pk)
        if campaign.status != CampaignStatus.DRAFT:
            return problem(409, f"“{campaign}” is not a draft: its media is fixed.", "not_draft")
        return Response(CampaignSerializer(save_draft(request, campaign, given, files)).data)


class SummarySerializer(serializers.Serializer):
    fingerprint = serializers.CharField(help_text="Send it back to launch what this summary describes.")
    can_launch = serializers.BooleanField()
    problems = serializers.ListField(child=serializers.CharField(), help_text="What refuses the launch.")
    warnings = serializers.ListField(child=serializers.CharField())
    counts = serializers.DictField(child=serializers.IntegerField())
    sessions = serializers.ListField(child=serializers.DictField())
    starts_at = serializers.DateTimeField(allow_null=True)
    finish_at = serializers.DateTimeField(allow_null=True)
    in_background = serializers.BooleanField()
    approximate = serializers.BooleanField()
    history = serializers.CharField()


class LaunchSerializer(serializers.Serializer):
    fingerprint = serializers.CharField(max_length=128)


class OutcomeSerializer(serializers.Serializer):
    detail = serializers.CharField()
    campaign = CampaignSerializer()


class LaunchView(ApiView):
    """GET: what launching the campaign now would do, with its ``fingerprint``. POST
    ``{"fingerprint"}``: launch it, unless it changed since (409 ``fingerprint_mismatch``) or the
    launch is refused (409 ``refused``, with the admin's reason)."""

    perms = {"GET": ("campaigns.launch_campaign",), "POST": ("campaigns.launch_campaign",)}
    serializer_class = LaunchSerializer

    @extend_schema(responses={200: SummarySerializer})
    def get(self, request, pk: int) -> Response:
        campaign = get_object_or_404(Campaign, pk=pk)
        summary = launch_summary(campaign, personal=may_view(request.user, "campaigns.messageresult"))
        body = {name: getattr(summary, name) for name in SummarySerializer().fields if name != "sessions"}
        body["problems"], body["warnings"] = (
            [str(p) for p in summary.problems],
            [str(w) for w in summary.warnings],
        )
        body["sessions"] = [
            {"id": p.id, "name": p.name, "per_minute": p.per_minute, "status": p.status}
            for p in summary.sessions
        ]
        return Response(SummarySerializer(body).data)

    @extend_schema(request=LaunchSerializer, responses={200: OutcomeSerializer})
    def post(self, request, pk: int) -> Response:
        campaign = get_object_or_404(Campaign, pk=pk)
        form = LaunchSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        if not confirm_matches(campaign, form.validated_data["fingerprint"]):
            audit.record(
                request, AuditAction.CAMPAIGN_LAUNCH, "Launch refused: changed since its summary.", campaign
            )
            detail = (
                "Not launched: the campaign changed since this fingerprint's summary (or cannot be launched)."
            )
            return problem(409, detail, "fingerprint_mismatch", "fingerprint")
        return _operate(request, campaign, operations.launch)


def _operate(request, campaign: Campaign, operation) -> Response:
    """Run an admin operation; what it tells staff becomes the answer (a warning or error: 409)."""
    said = told(request, lambda r: operation(r, campaign))
    campaign.refresh_from_db()
    if said.refused:
        return problem(409, said.text, "refused")
    return Response(
        {"detail": said.text, "campaign": CampaignSerializer(campaign).data}, status=status.HTTP_200_OK
    )


class OperationView(ApiView):
    """POST: pause, resume or cancel (``operation`` in the path), as the admin's buttons do."""

    perms = {"POST": ("campaigns.control_campaign",)}
    serializer_class = OutcomeSerializer
    operation = ""

    @extend_schema(request=None, responses={200: OutcomeSerializer})
    def post(self, request, pk: int) -> Response:
        campaign = get_object_or_404(Campaign, pk=pk)
        return _operate(request, campaign, getattr(operations, self.operation))


class ProgressSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    status = serializers.CharField()
    status_reason = serializers.CharField(allow_blank=True)
    active = serializers.BooleanField()
    counts = serializers.DictField(child=serializers.IntegerField())
    total = serializers.IntegerField()
    in_lists = serializers.IntegerField(allow_null=True)
    deliverable = serializers.IntegerField()
    done = serializers.IntegerField()
    waiting = serializers.IntegerField()
    held = serializers.IntegerField()
    percent_done = serializers.FloatField(allow_null=True)
    eta = serializers.CharField(allow_blank=True)
    finish_at = serializers.CharField(allow_null=True)
    rate_per_minute = serializers.FloatField(allow_null=True)
    not_sending = serializers.CharField(allow_blank=True)


class ProgressView(ApiView):
    """GET: the progress block's figures: counts per status, done of deliverable, pace and ETA."""

    perms = {"GET": VIEW}
    serializer_class = ProgressSerializer

    def get(self, request, pk: int) -> Response:
        snapshot = progress_snapshot(get_object_or_404(Campaign, pk=pk))
        pace = snapshot["pace"]
        body = {
            **snapshot,
            **{k: pace.get(k) for k in ("eta", "finish_at", "rate_per_minute", "not_sending")},
        }
        body["eta"], body["not_sending"] = body["eta"] or "", body["not_sending"] or ""
        return Response(ProgressSerializer(body).data)


class SessionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    simulated = serializers.BooleanField()


class SessionsView(ApiView):
    """GET: the Telegram sessions a campaign may send from (what the campaign form offers to
    whoever composes one): id, name, kind, status, and whether it is a simulator."""

    perms = {"GET": ("campaigns.add_campaign",)}
    serializer_class = SessionSerializer

    @extend_schema(responses={200: SessionSerializer(many=True)})
    def get(self, request) -> Response:
        sessions = TelegramSession.objects.order_by("name")
        rows = [
            {
                "id": s.pk,
                "name": s.name,
                "kind": s.kind,
                "status": s.status,
                "simulated": s.backend == Backend.SIMULATOR,
            }
            for s in sessions
        ]
        return Response(SessionSerializer(rows, many=True).data)
