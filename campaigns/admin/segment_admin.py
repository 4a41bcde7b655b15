"""The segments' admin: a segment's name and conditions — built with plain fields
(:mod:`.segment_forms`) into a definition in the language of :mod:`campaigns.models.segment_rules`,
edited as JSON only when the fields cannot show a saved one — and on its page the conditions in words, the live count,
a sample of about 20 people and, for each, which conditions they meet. Marketing builds segments,
Reviewers read them; the sample is personal data (results' view permission). Every save and
deletion is audited."""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction

from ..models import Segment
from ..models.segment_rules import SegmentInvalid
from .access import may_see_results
from .segment_forms import ENGAGEMENT_ROWS, FIELD_ROWS, SegmentForm, SegmentJsonForm, representable

FIELDSETS = [
    ("Lists", {"fields": ["lists", "lists_match"]}),
    ("Tags", {"fields": ["has_tags", "has_not_tags"]}),
    (
        "Field conditions",
        {
            "fields": [
                (f"field_{n}_name", f"field_{n}_op", f"field_{n}_value") for n in range(1, FIELD_ROWS + 1)
            ],
            "description": "A field of the person's row (a column of the imported file). “is” and “is not” "
            "compare text in any case; >, ≥, <, ≤ and = compare numbers, and a value that is no number never "
            "matches them.",
        },
    ),
    (
        "Engagement",
        {
            "fields": [
                tuple(f"engagement_{n}_{part}" for part in ("event", "campaign", "days", "within_hours"))
                for n in range(1, ENGAGEMENT_ROWS + 1)
            ],
            "description": "What the person did with one campaign, or with any campaign sent in the last "
            "days (leave the campaign on “any campaign” and give the days).",
        },
    ),
    ("Opted in", {"fields": ["opted_in_since"]}),
    ("Exclude", {"fields": ["exclude_segments", "exclude_lists"]}),
]


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    list_display = ("name", "description", "created_by", "updated_at")
    search_fields = ("name", "description")
    readonly_fields = ("follow_up_of", "definition_json")

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        view_only = change and not self.has_change_permission(request, obj)
        kwargs["form"] = SegmentForm if representable(obj) and not view_only else SegmentJsonForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj=None):
        """The plain fields in sections, and the definition as JSON read-only (collapsed); for a
        definition the fields cannot show, the JSON to edit instead."""
        if obj is not None and not self.has_change_permission(request, obj):
            return [(None, {"fields": ["name", "description", "follow_up_of", "definition_json"]})]
        if not representable(obj):
            return [(None, {"fields": ["name", "description", "definition", "follow_up_of"]})]
        main = [(None, {"fields": ["name", "description"] + (["follow_up_of"] if obj else [])})]
        advanced = [
            ("Advanced: the definition as JSON", {"classes": ["collapse"], "fields": ["definition_json"]})
        ]
        return main + FIELDSETS + (advanced if obj else [])

    @admin.display(description="definition")
    def definition_json(self, obj: Segment) -> str:
        return format_html(
            '<pre class="tgc-code" id="tgc-segment-json">{}</pre>', json.dumps(obj.definition, indent=2)
        )

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
