"""Recipient lists: list and create them, upload a file (read with the admin's mapping options and
imported as the admin imports it: now when small, by a worker when large), read the import's
state and report, and upsert recipients by identity as JSON (:mod:`campaigns.lists.upsert`)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from tgcampaigns import audit
from tgcampaigns.apitokens.paging import IdCursor
from tgcampaigns.apitokens.problems import problem
from tgcampaigns.apitokens.views import ApiView
from tgcampaigns.audit import AuditAction

from ..admin.recipient_list_forms import clean_region, clean_time_zone, default_region
from ..lists import jobs
from ..lists.columns import ROLES
from ..lists.file_preview import preview_file
from ..lists.mapping import Mapping, MappingError
from ..lists.normalise import KINDS
from ..lists.reading import ImportRefused
from ..lists.upsert import MAX_BATCH, UpsertRefused, upsert_recipients
from ..models import ImportStatus, Recipient, RecipientList
from ..models.lists import no_consent_rows

VIEW = ("campaigns.view_recipientlist",)
ADD = ("campaigns.add_recipientlist",)
CHANGE = ("campaigns.change_recipientlist",)


class RecipientListSerializer(serializers.ModelSerializer):
    default_region = serializers.CharField(max_length=2, required=False, allow_blank=True)
    default_time_zone = serializers.CharField(
        max_length=64, required=False, allow_blank=True, validators=[clean_time_zone]
    )
    no_consent_count = serializers.SerializerMethodField(
        help_text="Of invalid_count, the rows the file's consent or opt-out column refused (a "
        "launch skips them as NO_CONSENT, the other invalid rows as INVALID_RECIPIENT)."
    )

    class Meta:
        model = RecipientList
        fields = [
            "id", "name", "consent_basis", "consent_note", "default_region", "default_time_zone",
            "import_status", "import_progress", "import_total", "import_error",
            "total_rows", "valid_count", "invalid_count", "no_consent_count", "duplicate_count", "report",
            "created_at",
        ]  # fmt: skip
        read_only_fields = [
            "import_status", "import_progress", "import_total", "import_error", "total_rows",
            "valid_count", "invalid_count", "duplicate_count", "report", "created_at",
        ]  # fmt: skip

    def validate_default_region(self, value: str) -> str:
        return clean_region(value)

    def get_no_consent_count(self, recipient_list: RecipientList) -> int:
        counted = getattr(recipient_list, "no_consent", None)  # annotated on lists read in pages
        return recipient_list.no_consent_count() if counted is None else counted


def with_no_consent(lists: QuerySet[RecipientList]) -> QuerySet[RecipientList]:
    """``lists`` each annotated with ``no_consent``, its rows refused for want of consent
    (:func:`campaigns.models.lists.no_consent_rows`), in the same statement: a page of lists is
    one query, not one more per list."""
    refused = (
        Recipient.objects.filter(no_consent_rows(), recipient_list=OuterRef("pk"))
        .order_by()
        .values("recipient_list")
        .annotate(n=Count("*"))
        .values("n")
    )
    return lists.annotate(no_consent=Coalesce(Subquery(refused), 0))


class ListsView(ApiView, generics.ListCreateAPIView):
    """GET: the recipient lists, newest first. POST: a new, empty list (``import_status`` done);
    fill it with a file or with recipients."""

    serializer_class = RecipientListSerializer
    pagination_class = IdCursor
    queryset = with_no_consent(RecipientList.objects.all())
    perms = {"GET": VIEW, "POST": ADD}

    def perform_create(self, serializer) -> None:
        recipient_list = serializer.save(created_by=self.request.user)
        audit.record(self.request, AuditAction.LIST_CREATE, f"“{recipient_list}” made.", recipient_list)


class ListView(ApiView, generics.RetrieveAPIView):
    """One list: its import's state (``import_status``: mapping, queued, running, done, failed;
    progress in rows of about ``import_total``; ``import_error``) and report."""

    serializer_class = RecipientListSerializer
    queryset = with_no_consent(RecipientList.objects.all())
    perms = {"GET": VIEW}


class UploadSerializer(serializers.Serializer):
    """A recipient file and how to read it: the admin's mapping step, as fields. Left out, each
    is detected (encoding, delimiter, sheet, header row) or guessed from the headers (roles)."""

    file = serializers.FileField(
        allow_empty_file=True, help_text="CSV, XLSX, XLS, ODS, vCard or a known contacts export."
    )
    encoding = serializers.CharField(required=False, allow_blank=True, max_length=40)
    delimiter = serializers.ChoiceField(choices=[",", ";", "\t"], required=False)
    sheet = serializers.CharField(required=False, allow_blank=True, max_length=200)
    header_row = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    header = serializers.BooleanField(required=False, allow_null=True, default=None)
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=ROLES), required=False, max_length=500,
        help_text="One role per column, in order (username, phone, user_id, any, field, ignore, …).",
    )  # fmt: skip
    identity_order = serializers.ListField(
        child=serializers.ChoiceField(choices=KINDS), required=False, min_length=3, max_length=3
    )
    default_region = serializers.CharField(required=False, allow_blank=True, max_length=2)

    def validate_default_region(self, value: str) -> str:
        return clean_region(value)

    def mapping(self, recipient_list: RecipientList) -> Mapping:
        """The mapping asked for; the region by default the list's (else ``TGC_DEFAULT_REGION``)."""
        data = self.validated_data
        start = Mapping(
            default_region=data.get("default_region", recipient_list.default_region or default_region())
        )
        try:
            return start.with_(
                encoding=data.get("encoding", ""),
                delimiter=data.get("delimiter", ""),
                sheet=data.get("sheet", ""),
                header_row=data.get("header_row", 0),
                header=data.get("header"),
                roles=tuple(data.get("roles", ())),
                identity_order=tuple(data.get("identity_order") or start.identity_order),
            )
        except MappingError as exc:
            raise serializers.ValidationError({"roles": [str(exc)]}) from None


class ListFileView(ApiView):
    """POST (multipart): the list's file, imported like an upload in the admin (its rows replace
    the list's). 201 with the report when imported at once; 202 when a worker imports it (read
    the list until ``import_status`` is done or failed)."""

    serializer_class = UploadSerializer
    perms = {"POST": ADD}

    @extend_schema(
        request=UploadSerializer, responses={201: RecipientListSerializer, 202: RecipientListSerializer}
    )
    def post(self, request, pk: int) -> Response:
        recipient_list = get_object_or_404(RecipientList, pk=pk)
        if refused := getattr(request._request, "upload_refused", ""):
            return problem(413, refused, "too_large", "file")
        form = UploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        if recipient_list.import_status in (ImportStatus.QUEUED, ImportStatus.RUNNING):
            return problem(409, "The list's file is being imported; wait until it is done.", "busy")
        try:
            queued = _stage_and_import(recipient_list, form)
        except (ImportRefused, MappingError) as exc:
            return problem(422, f"The file was refused: {exc}", "file_refused", "file")
        recipient_list.refresh_from_db()
        said = "Import queued for a worker." if queued else recipient_list.summary()
        audit.record(request, AuditAction.LIST_IMPORT, said, recipient_list)
        code = status.HTTP_202_ACCEPTED if queued else status.HTTP_201_CREATED
        return Response(RecipientListSerializer(recipient_list).data, status=code)


def _stage_and_import(recipient_list: RecipientList, form: UploadSerializer) -> bool:
    """Store the file, read it with the mapping asked for (or, without roles, the one of the
    last list with the same header row, as the admin offers), then import it; True when queued."""
    upload = form.validated_data["file"]
    old, old_name = recipient_list.file.name, recipient_list.file_name
    recipient_list.store_file(upload)
    try:
        # Recorded now: the import saves only its counts, and a refusal below puts the old back.
        recipient_list.save(update_fields=["file", "file_name"])
        mapping = form.mapping(recipient_list)
        preview = preview_file(recipient_list.file, mapping)
        earlier = None if mapping.roles else jobs.earlier_mapping(preview.mapping)
        if earlier is not None:
            try:
                preview = preview_file(recipient_list.file, earlier)
            except ImportRefused:
                pass  # read as guessed
        if preview.doubt:  # the recipients' column is only a guess: the client must give roles
            raise ImportRefused(preview.doubt)
        with transaction.atomic():
            report = jobs.start_import(recipient_list, preview.mapping, estimated_rows=preview.estimated_rows)
    except BaseException:
        recipient_list.file.storage.delete(recipient_list.file.name)
        RecipientList.objects.filter(pk=recipient_list.pk).update(file=old, file_name=old_name)
        raise
    if old and old != recipient_list.file.name:
        recipient_list.file.storage.delete(old)
    return report is None


class EntrySerializer(serializers.Serializer):
    """One person: any of their identities, and personalisation fields."""

    username = serializers.CharField(required=False, allow_blank=True, help_text="@name or t.me link")
    phone = serializers.CharField(
        required=False, allow_blank=True, help_text="+E.164, or national with the list's region"
    )
    user_id = serializers.CharField(required=False, allow_blank=True)
    fields = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)


class UpsertSerializer(serializers.Serializer):
    recipients = EntrySerializer(many=True, max_length=MAX_BATCH)


class UpsertReportSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    invalid = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    problems = serializers.ListField(child=serializers.DictField())
    problems_truncated = serializers.BooleanField()
    list = RecipientListSerializer()


class ListRecipientsView(ApiView):
    """POST: add or update up to 10,000 recipients by identity (:mod:`campaigns.lists.upsert`):
    normalised as a file's rows, a person the list holds under any identity updated, anyone
    else added; the report is an import's."""

    perms = {"POST": CHANGE}
    serializer_class = UpsertSerializer

    @extend_schema(request=UpsertSerializer, responses={200: UpsertReportSerializer})
    def post(self, request, pk: int) -> Response:
        recipient_list = get_object_or_404(RecipientList, pk=pk)
        entries = _entries(request.data)
        try:
            report = upsert_recipients(recipient_list, entries)
        except UpsertRefused as exc:
            return problem(409, f"Not applied: {exc}.", "busy")
        recipient_list.refresh_from_db()
        said = f"API upsert: {report.created} added, {report.updated} updated, {report.invalid} invalid."
        audit.record(request, AuditAction.LIST_UPSERT, said, recipient_list)
        return Response({**report.as_json(), "list": RecipientListSerializer(recipient_list).data})


def _entries(data) -> list[dict]:
    """The batch, checked by shape only (DRF's nested serializers take seconds on 10,000 rows);
    the values are read by the import's own row reader."""
    recipients = data.get("recipients") if isinstance(data, dict) else None
    if not isinstance(recipients, list):
        raise serializers.ValidationError({"recipients": ["A list of recipients is required."]})
    if len(recipients) > MAX_BATCH:
        raise serializers.ValidationError({"recipients": [f"At most {MAX_BATCH} recipients per request."]})
    scalar = (str, int, float, bool, type(None))
    for i, entry in enumerate(recipients):
        fields = entry.get("fields", {}) if isinstance(entry, dict) else None
        wrong = not isinstance(entry, dict) or set(entry) - {"username", "phone", "user_id", "fields"}
        if (
            wrong
            or not isinstance(fields, dict | type(None))
            or not all(
                isinstance(v, scalar) for v in [entry.get(k) for k in ("username", "phone", "user_id")]
            )
        ):
            raise serializers.ValidationError(
                {"recipients": {i: ["Expected {username, phone, user_id, fields}."]}}
            )
        if fields and not all(isinstance(v, scalar) and isinstance(k, str) for k, v in fields.items()):
            raise serializers.ValidationError(
                {"recipients": {i: {"fields": ["Values must be text or numbers."]}}}
            )
    return recipients
