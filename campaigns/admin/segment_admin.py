"""The segments' admin: a segment's name and definition (JSON in the language of
:mod:`campaigns.models.segment_rules`), and on its page the conditions in words, the live count,
a sample of about 20 people and, for each, which conditions they meet. Marketing builds segments,
Reviewers read them; the sample is personal data (results' view permission). Every save and
deletion is audited."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction

from ..models import Segment
from ..models.segment_rules import SegmentInvalid, rules
from .access import may_see_results

EXAMPLE = {
    "lists": {"ids": [1], "match": "any"},
    "tags": [{"tag": "VIP", "has": True}],
    "fields": [
        {"field": "city", "op": "is", "value": "Berlin"},
        {"field": "total_spent", "op": "gte", "value": 100},
    ],
    "engagement": [{"event": "not_read", "campaign": 7, "within_hours": 24}],
    "exclude": {"segments": [], "lists": []},
}


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "description", "definition"]
        widgets = {"definition": forms.Textarea(attrs={"rows": 14, "cols": 90, "class": "tgc-code"})}
        help_texts = {
            "definition": "Every part is optional; the parts are combined with AND. Example: "
            + json.dumps(EXAMPLE)
            + " — see docs/using.md “Segments” for every condition."
        }

    def clean_definition(self):
        definition = self.cleaned_data["definition"]
        try:
            rules(definition, depth=1)  # also follows excluded segments (a cycle is refused)
        except SegmentInvalid as exc:
            raise forms.ValidationError(str(exc)) from exc
        return definition


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    list_display = ("name", "description", "created_by", "updated_at")
    search_fields = ("name", "description")
    readonly_fields = ("follow_up_of",)

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        segment = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if segment is not None:
            extra.update(segment_panel(segment, personal=may_see_results(request)))
        return super().change_view(request, object_id, form_url, extra)

    def save_model(self, request: HttpRequest, obj: Segment, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        audit.record(request, AuditAction.SEGMENT_CHANGE, f"Segment {'changed' if change else 'added'}.", obj)

    def delete_model(self, request: HttpRequest, obj: Segment) -> None:
        audit.record(request, AuditAction.SEGMENT_CHANGE, "Segment deleted.", obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        audit.record(request, AuditAction.SEGMENT_CHANGE, "Segment deleted.", queryset)
        super().delete_queryset(request, queryset)


def segment_panel(segment: Segment, *, personal: bool) -> dict:
    """What a segment's page shows above the form: its conditions in words, the people in it now,
    the rows "did not read" leaves out (sent by bots), and — for staff who may see personal
    data — a sample with, per person, each condition and whether they meet it."""
    try:
        conditions = segment.conditions()
        count = segment.count()
    except SegmentInvalid as exc:
        return {"segment_error": str(exc)}
    sample = []
    if personal:
        rows = segment.sample()
        why = segment.explain(rows)
        sample = [(row, why.get(row.pk, [])) for row in rows]
    return {
        "segment_conditions": conditions,
        "segment_count": count,
        "segment_sample": sample,
        "segment_personal": personal,
        "segment_left_out": segment.left_out(),
    }
