"""Suppressions (opt-outs) and persons: add an opt-out, check or remove one for every identity
of the person (:func:`campaigns.people.erasure.identities_of`, as the admin sees a person), look a
person up by any identity, and erase them everywhere (:func:`campaigns.people.erasure.erase_person`).

``{identity}`` in a path is any recipient identity: ``@name``, ``+49…`` or a user id (URL-encode
``+`` as ``%2B``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from tgcampaigns import audit
from tgcampaigns.apitokens.problems import problem
from tgcampaigns.apitokens.views import ApiView
from tgcampaigns.audit import AuditAction

from ..admin.access import may_erase_persons, may_see_persons
from ..admin.display import identity_refused
from ..lists.normalise import normalise, typed_identity
from ..models import MessageResult, Recipient, Suppression
from ..people import erasure


class SuppressionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Suppression
        fields = ["key", "source", "note", "created_at"]


class SuppressionAddSerializer(serializers.Serializer):
    identity = serializers.CharField(max_length=500, help_text="@name, t.me link, +phone or user id")
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")

    def validate_identity(self, raw: str) -> str:
        result = typed_identity(raw)
        if not result.is_valid:
            raise serializers.ValidationError(identity_refused(raw, result.error))
        return result.key


class SuppressionCheckSerializer(serializers.Serializer):
    identity = serializers.CharField()
    identities = serializers.ListField(child=serializers.CharField())
    suppressed = serializers.BooleanField()
    suppressions = SuppressionSerializer(many=True)


def _person(identity: str) -> tuple[set[str], set[int]] | Response:
    """Every key and recipient row of the person ``identity`` names, or a 400 problem."""
    try:
        return erasure.identities_of(identity)
    except erasure.ErasureError as exc:
        return problem(400, str(exc), "invalid_identity", "identity")


class SuppressionsView(ApiView):
    """POST: opt a person out (source *manual*, as an entry made in the admin). 201 when added,
    200 when the identity was already suppressed."""

    perms = {"POST": ("campaigns.add_suppression",)}
    serializer_class = SuppressionAddSerializer

    @extend_schema(
        request=SuppressionAddSerializer, responses={200: SuppressionSerializer, 201: SuppressionSerializer}
    )
    def post(self, request) -> Response:
        form = SuppressionAddSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        key, note = form.validated_data["identity"], form.validated_data["note"]
        added, _existing = Suppression.objects.add([key], source=Suppression.Source.MANUAL, note=note)
        row = Suppression.objects.get(key=key)
        if added:
            audit.record(request, AuditAction.SUPPRESSION_ADD, "Suppression added (manual).", row)
        code = status.HTTP_201_CREATED if added else status.HTTP_200_OK
        return Response(SuppressionSerializer(row).data, status=code)


class SuppressionView(ApiView):
    """GET: whether the person is suppressed under any of their identities. DELETE: remove the
    suppressions of every identity of the person (they may be messaged again)."""

    perms = {"GET": ("campaigns.view_suppression",), "DELETE": ("campaigns.delete_suppression",)}
    serializer_class = SuppressionCheckSerializer

    @extend_schema(responses={200: SuppressionCheckSerializer})
    def get(self, request, identity: str) -> Response:
        found = _person(identity)
        if isinstance(found, Response):
            return found
        keys, _rows = found
        rows = Suppression.objects.filter(key__in=keys).order_by("key")
        body = {
            "identity": normalise(identity).key,
            "identities": sorted(keys),
            "suppressed": rows.exists(),
            "suppressions": SuppressionSerializer(rows, many=True).data,
        }
        return Response(body)

    @extend_schema(
        responses={200: inline_serializer("SuppressionsRemoved", {"removed": serializers.IntegerField()})}
    )
    def delete(self, request, identity: str) -> Response:
        found = _person(identity)
        if isinstance(found, Response):
            return found
        rows = list(Suppression.objects.filter(key__in=found[0]))
        if not rows:
            return problem(404, "No identity of this person is suppressed.", "not_found", "identity")
        audit.record(request, AuditAction.SUPPRESSION_DELETE, "Suppression deleted.", rows)
        Suppression.objects.filter(pk__in=[r.pk for r in rows]).delete()
        return Response({"removed": len(rows)})


class PersonRecipientSerializer(serializers.ModelSerializer):
    list = serializers.IntegerField(source="recipient_list_id")
    list_name = serializers.CharField(source="recipient_list.name")

    class Meta:
        model = Recipient
        fields = ["id", "list", "list_name", "row_number", "key", "kind", "status", "error", "fields"]


class PersonSerializer(serializers.Serializer):
    identity = serializers.CharField()
    identities = serializers.ListField(child=serializers.CharField())
    suppressed = serializers.BooleanField()
    results = serializers.IntegerField(help_text="Messages (results) addressed to the person.")
    recipients = PersonRecipientSerializer(many=True)


class PersonView(ApiView):
    """GET: a person by any identity: every identity known for them, the list rows that hold
    them, whether they are suppressed and how many messages went to them. Allowed as the admin's
    *Persons* pages are (:func:`campaigns.admin.access.may_see_persons`): to who may see results,
    and to who may erase the person (who erases someone finds them first)."""

    perms = {"GET": may_see_persons}
    serializer_class = PersonSerializer

    def get(self, request, identity: str) -> Response:
        found = _person(identity)
        if isinstance(found, Response):
            return found
        keys, row_ids = found
        if not keys - {normalise(identity).key} and not row_ids:
            if not Suppression.objects.filter(key__in=keys).exists():
                return problem(
                    404, "No list, result or suppression holds this person.", "not_found", "identity"
                )
        rows = Recipient.objects.filter(pk__in=row_ids).select_related("recipient_list").order_by("pk")[:1000]
        body = {
            "identity": normalise(identity).key,
            "identities": sorted(keys),
            "suppressed": Suppression.objects.filter(key__in=keys).exists(),
            "results": MessageResult.objects.filter(key__in=keys).count(),
            "recipients": PersonRecipientSerializer(rows, many=True).data,
        }
        return Response(body)


class ErasureSerializer(serializers.Serializer):
    identities = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())
    lists = serializers.ListField(child=serializers.CharField())
    summary = serializers.CharField()


class PersonErasureView(ApiView):
    """POST: erase the person everywhere (results anonymised, rows, replies and files removed, a
    hash kept so they are never imported or messaged again). 409 while a message to them is
    being sent: try again in a minute."""

    perms = {"POST": may_erase_persons}  # as *Erase this person* in the admin
    serializer_class = ErasureSerializer

    @extend_schema(request=None, responses={200: ErasureSerializer})
    def post(self, request, identity: str) -> Response:
        if not normalise(identity).is_valid:
            return problem(
                400, identity_refused(identity, normalise(identity).error), "invalid_identity", "identity"
            )
        try:
            report = erasure.erase_person(identity, actor=request)
        except erasure.ErasureError as exc:
            return problem(409, str(exc), "busy", "identity")
        body = {"identities": report.identities, "counts": report.counts, "lists": report.lists}
        return Response({**body, "summary": report.summary()})
