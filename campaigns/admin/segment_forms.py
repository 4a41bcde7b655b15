"""The segment's form: plain fields — lists (on any / on all), tags it has and has not, up to
:data:`FIELD_ROWS` field conditions, up to :data:`ENGAGEMENT_ROWS` engagement conditions, opted in
since, exclusions — that :meth:`SegmentForm.clean` turns into a definition of
:mod:`campaigns.models.segment_rules` (the stored model, unchanged) and :func:`to_initial` reads
back. A saved definition the fields cannot show (:func:`to_initial` returns None) is edited as JSON
in :class:`SegmentJsonForm` instead, so nothing of it is lost."""

from __future__ import annotations

import re
from datetime import date

from django import forms
from django.contrib.admin.widgets import AdminDateWidget, FilteredSelectMultiple
from django.db.models import Q
from django.utils.html import format_html, format_html_join

from ..models import Campaign, ImportStatus, RecipientList, Segment, Tag
from ..models.lists import Recipient
from ..models.segment_rules import (
    DAYS,
    EVENTS,
    FIELD_NUMBER,
    NUMBER_OPS,
    OPTED_IN_EARLIEST,
    TEXT_OPS,
    WITHIN_HOURS,
    SegmentInvalid,
    opted_in_problem,
    rules,
    validate,
)
from ..models.tags import tag_key

FIELD_ROWS = 3
ENGAGEMENT_ROWS = 2
OPS = {**TEXT_OPS, **NUMBER_OPS}  # is, is not, >, ≥, <, ≤, =
NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
FIELD_NAMES_SAMPLE = 500  # the newest rows whose field names the field inputs propose
# Why a list is not offered yet, by its import's state (a list is usable once imported).
UNFINISHED = {
    ImportStatus.MAPPING: "its columns were never mapped",
    ImportStatus.QUEUED: "being imported",
    ImportStatus.RUNNING: "being imported",
    ImportStatus.FAILED: "its import failed",
}


def field_names() -> list[str]:
    """The field names of the newest :data:`FIELD_NAMES_SAMPLE` recipient rows, sorted: what the
    field inputs propose (any other name can still be typed). One query on the primary key."""
    names: set[str] = set()
    for fields in Recipient.objects.order_by("-pk").values_list("fields", flat=True)[:FIELD_NAMES_SAMPLE]:
        if isinstance(fields, dict):
            names.update(str(name) for name in fields)
    return sorted(names, key=str.casefold)


class FieldNameInput(forms.TextInput):
    """A text input with a ``<datalist>`` of known field names (:attr:`names`)."""

    names: list[str] = []

    def render(self, name, value, attrs=None, renderer=None):
        list_id = f"{(attrs or {}).get('id') or name}-names"
        html = super().render(name, value, {**(attrs or {}), "list": list_id}, renderer)
        options = format_html_join("", '<option value="{}">', ((n,) for n in self.names))
        return format_html('{}<datalist id="{}">{}</datalist>', html, list_id, options)


class Chooser(FilteredSelectMultiple):
    """The admin's filter box (as ``filter_horizontal`` shows it), wrapped as the admin wraps its
    own so the label stays on the left."""

    def render(self, name, value, attrs=None, renderer=None):
        return format_html(
            '<div class="related-widget-wrapper">{}</div>', super().render(name, value, attrs, renderer)
        )


def _multiple(queryset, label: str, help_text: str = "") -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        queryset,
        required=False,
        label=label,
        help_text=help_text,
        widget=Chooser(label, is_stacked=False),
    )


def _number_text(value) -> str:
    return str(value) if isinstance(value, int) else repr(value)


# Reading a definition into the fields --------------------------------------------------------------
def _all_exist(model, ids) -> bool:
    return model.objects.filter(pk__in=ids).count() == len(set(ids))


def _lists_initial(part: dict | None) -> dict | None:
    if part is None:
        return {}
    if set(part) - {"ids", "match"} or not part.get("ids") or not _all_exist(RecipientList, part["ids"]):
        return None
    return {"lists": list(part["ids"]), "lists_match": part.get("match", "any")}


def _tags_initial(items: list) -> dict | None:
    found: dict[bool, list[int]] = {True: [], False: []}
    for item in items:
        tag = Tag.objects.filter(key=tag_key(item["tag"])).first()
        has = item.get("has", True)
        if set(item) - {"tag", "has"} or tag is None or has not in (True, False):
            return None
        found[has].append(tag.pk)
    return {"has_tags": found[True], "has_not_tags": found[False]}


def _fields_initial(items: list) -> dict | None:
    if len(items) > FIELD_ROWS:
        return None
    initial = {}
    for n, item in enumerate(items, start=1):
        if set(item) - {"field", "op", "value"}:
            return None
        value = item["value"] if item["op"] in TEXT_OPS else _number_text(item["value"])
        initial.update(
            {f"field_{n}_name": item["field"], f"field_{n}_op": item["op"], f"field_{n}_value": value}
        )
    return initial


def _engagement_initial(items: list) -> dict | None:
    if len(items) > ENGAGEMENT_ROWS:
        return None
    initial = {}
    for n, item in enumerate(items, start=1):
        campaign = item.get("campaign")
        if set(item) - {"event", "campaign", "days", "within_hours"}:
            return None
        if campaign is not None and not Campaign.objects.filter(pk=campaign).exists():
            return None
        for name in ("event", "campaign", "days", "within_hours"):
            initial[f"engagement_{n}_{name}"] = item.get(name)
    return initial


def _exclude_initial(part: dict, segment_pk: int | None) -> dict | None:
    segments, lists = part.get("segments", []), part.get("lists", [])
    if segment_pk in segments or not _all_exist(Segment, segments) or not _all_exist(RecipientList, lists):
        return None
    return {"exclude_segments": list(segments), "exclude_lists": list(lists)}


def to_initial(definition, segment_pk: int | None = None) -> dict | None:
    """The form's initial values for ``definition`` ({field name: value}), or None when the fields
    cannot show all of it: a definition outside the language, more conditions than rows, a list,
    tag, campaign or segment that no longer exists, a key the language ignores, or the segment
    ``segment_pk`` excluding itself."""
    try:
        validate(definition)
    except SegmentInvalid:
        return None
    parts = [
        _lists_initial(definition.get("lists")),
        _tags_initial(definition.get("tags", [])),
        _fields_initial(definition.get("fields", [])),
        _engagement_initial(definition.get("engagement", [])),
        _exclude_initial(definition.get("exclude", {}), segment_pk),
    ]
    if any(part is None for part in parts):
        return None
    initial = {"lists_match": "any"}
    for part in parts:
        initial.update(part)
    if definition.get("opted_in_since"):
        initial["opted_in_since"] = date.fromisoformat(definition["opted_in_since"])
    return initial


def representable(segment: Segment | None) -> bool:
    """Whether ``segment``'s definition can be edited with :class:`SegmentForm` (a new one can)."""
    return segment is None or segment.pk is None or to_initial(segment.definition, segment.pk) is not None


def _field_row(n: int) -> dict[str, forms.Field]:
    return {
        f"field_{n}_name": forms.CharField(
            required=False, label=f"field {n}", widget=FieldNameInput(attrs={"size": 18})
        ),
        f"field_{n}_op": forms.ChoiceField(
            choices=[("", "—"), *OPS.items()], required=False, label="operator"
        ),
        f"field_{n}_value": forms.CharField(required=False, label="value", strip=False),
    }


def _engagement_row(n: int) -> dict[str, forms.Field]:
    return {
        f"engagement_{n}_event": forms.ChoiceField(
            choices=[("", "—"), *EVENTS.items()], required=False, label=f"event {n}"
        ),
        f"engagement_{n}_campaign": forms.ModelChoiceField(
            Campaign.objects.all(),
            required=False,
            empty_label="any campaign in the last … days",
            label="campaign",
        ),
        f"engagement_{n}_days": forms.IntegerField(
            required=False,
            min_value=DAYS.low,
            max_value=DAYS.high,
            label="days",
            widget=forms.NumberInput(attrs={"size": 4}),
        ),
        f"engagement_{n}_within_hours": forms.IntegerField(
            required=False,
            min_value=WITHIN_HOURS.low,
            max_value=WITHIN_HOURS.high,
            label="within hours",
            help_text="Optional: read / replied within this long of the send.",
        ),
    }


# The rows' fields, declared (the admin builds the form from its fieldsets' names).
_Rows = type(
    "_Rows",
    (forms.Form,),
    {
        **{k: v for n in range(1, FIELD_ROWS + 1) for k, v in _field_row(n).items()},
        **{k: v for n in range(1, ENGAGEMENT_ROWS + 1) for k, v in _engagement_row(n).items()},
    },
)


class SegmentForm(_Rows, forms.ModelForm):
    """A segment's name, description and conditions as plain fields; :meth:`clean` assembles the
    definition (``self.instance.definition``) and checks it as the language does, with excluded
    segments followed (a cycle is a form error)."""

    lists = _multiple(
        RecipientList.objects.all(), "lists", "Only people on these lists (none chosen: every list)."
    )
    lists_match = forms.ChoiceField(
        choices=[("any", "on any of them"), ("all", "on all of them")],
        widget=forms.RadioSelect,
        initial="any",
        required=False,
        label="A person is",
    )
    has_tags = _multiple(Tag.objects.all(), "has tags", "The person has every one of these tags.")
    has_not_tags = _multiple(Tag.objects.all(), "has not tags", "The person has none of these tags.")
    opted_in_since = forms.DateField(
        required=False,
        widget=AdminDateWidget,
        help_text=f"The person's list was imported on or after this day ({OPTED_IN_EARLIEST:%Y-%m-%d} "
        "to today).",
    )
    exclude_segments = _multiple(
        Segment.objects.all(), "exclude segments", "Leave out the people in these segments."
    )
    exclude_lists = _multiple(
        RecipientList.objects.all(), "exclude lists", "Leave out the people on these lists."
    )

    class Meta:
        model = Segment
        fields = ["name", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = field_names()
        for n in range(1, FIELD_ROWS + 1):
            self.fields[f"field_{n}_name"].widget.names = names
        self._offer_usable_lists()
        if self.instance.pk:
            self.fields["exclude_segments"].queryset = Segment.objects.exclude(pk=self.instance.pk)
            if not self.is_bound:
                self.initial.update(to_initial(self.instance.definition, self.instance.pk) or {})

    def _offer_usable_lists(self) -> None:
        """Lists whose import is done (and those the saved definition already names, a new file
        of theirs being imported); the help says which others are not offered and why."""
        definition = self.instance.definition if isinstance(self.instance.definition, dict) else {}
        chosen = set((definition.get("lists") or {}).get("ids") or [])
        chosen |= set((definition.get("exclude") or {}).get("lists") or [])
        usable = RecipientList.objects.filter(Q(import_status=ImportStatus.DONE) | Q(pk__in=chosen))
        waiting = (
            RecipientList.objects.exclude(import_status=ImportStatus.DONE)
            .exclude(pk__in=chosen)
            .order_by("name")
            .values_list("name", "import_status")
        )
        note = ", ".join(f"“{name}” ({UNFINISHED[status]})" for name, status in waiting)
        for name in ("lists", "exclude_lists"):
            self.fields[name].queryset = usable
            if note:
                self.fields[name].help_text += f" Not offered until their import is done: {note}."

    def clean_opted_in_since(self) -> date | None:
        """A date from Telegram's opening to today (:func:`~campaigns.models.segment_rules.opted_in_problem`)."""
        day = self.cleaned_data.get("opted_in_since")
        if day is not None and (problem := opted_in_problem(day)):
            raise forms.ValidationError(problem)
        return day

    def clean(self):
        cleaned = super().clean()
        definition: dict = {}
        if cleaned.get("lists"):
            definition["lists"] = {
                "ids": sorted(r.pk for r in cleaned["lists"]),
                "match": cleaned.get("lists_match") or "any",
            }
        tags = [{"tag": t.name, "has": True} for t in cleaned.get("has_tags") or []]
        tags += [{"tag": t.name, "has": False} for t in cleaned.get("has_not_tags") or []]
        if tags:
            definition["tags"] = tags
        fields = [item for n in range(1, FIELD_ROWS + 1) if (item := self._field_condition(n, cleaned))]
        if fields:
            definition["fields"] = fields
        engagement = [item for n in range(1, ENGAGEMENT_ROWS + 1) if (item := self._engagement(n, cleaned))]
        if engagement:
            definition["engagement"] = engagement
        if cleaned.get("opted_in_since"):
            definition["opted_in_since"] = cleaned["opted_in_since"].isoformat()
        exclude = {
            part: sorted(x.pk for x in cleaned.get(f"exclude_{part}") or []) for part in ("segments", "lists")
        }
        if any(exclude.values()):
            definition["exclude"] = {part: ids for part, ids in exclude.items() if ids}
        if not self.errors:
            try:
                rules(definition, depth=1)  # also follows excluded segments (a cycle is refused)
            except SegmentInvalid as exc:
                raise forms.ValidationError(str(exc)) from exc
            self.instance.definition = definition
        return cleaned

    def _field_condition(self, n: int, cleaned: dict) -> dict | None:
        """Row ``n`` of the field conditions as the language's item; None for an empty row (or a
        wrong one, its error added to the form)."""
        name, op = (cleaned.get(f"field_{n}_name") or "").strip(), cleaned.get(f"field_{n}_op") or ""
        value = cleaned.get(f"field_{n}_value") or ""
        if not (name or op or value):
            return None
        if not name:
            self.add_error(f"field_{n}_name", "Name the field this condition reads.")
        if not op:
            self.add_error(f"field_{n}_op", "Choose how the field is compared.")
        if op in NUMBER_OPS:
            text = value.strip()
            if not NUMBER.fullmatch(text) or float(text) not in FIELD_NUMBER:
                self.add_error(
                    f"field_{n}_value",
                    f"“{OPS[op]}” compares numbers: write a number {FIELD_NUMBER.words}, e.g. 99.5.",
                )
                return None
            value = int(text) if re.fullmatch(r"-?\d+", text) else float(text)
        return {"field": name, "op": op, "value": value} if name and op else None

    def _engagement(self, n: int, cleaned: dict) -> dict | None:
        """Row ``n`` of the engagement conditions as the language's item; None for an empty row
        (or a wrong one, its error added to the form)."""
        event, campaign = cleaned.get(f"engagement_{n}_event") or "", cleaned.get(f"engagement_{n}_campaign")
        days, hours = cleaned.get(f"engagement_{n}_days"), cleaned.get(f"engagement_{n}_within_hours")
        if not (event or campaign or days or hours):
            return None
        if not event:
            self.add_error(f"engagement_{n}_event", "Choose what the person did (or did not do).")
        if campaign is None and days is None:
            self.add_error(
                f"engagement_{n}_days", "Choose a campaign, or the number of days for any campaign."
            )
        elif campaign is not None and days is not None:
            self.add_error(
                f"engagement_{n}_days", "Either one campaign or any campaign in the last days: not both."
            )
        if not event or (campaign is None) == (days is None):
            return None
        item = {"event": event, "campaign": campaign.pk} if campaign else {"event": event, "days": days}
        return {**item, "within_hours": hours} if hours else item


class SegmentJsonForm(forms.ModelForm):
    """The definition as JSON, for a saved segment :class:`SegmentForm` cannot show (see
    :func:`to_initial`): checked as the language does, excluded segments followed."""

    class Meta:
        model = Segment
        fields = ["name", "description", "definition"]
        widgets = {"definition": forms.Textarea(attrs={"rows": 14, "cols": 90, "class": "tgc-code"})}
        help_texts = {
            "definition": "This segment's definition has more than the form can show (more conditions "
            "than its rows, or something that no longer exists), so it is edited as JSON here; "
            "docs/using.md “Segments” describes the language."
        }

    def clean_definition(self):
        definition = self.cleaned_data["definition"]
        try:
            rules(definition, depth=1)  # also follows excluded segments (a cycle is refused)
        except SegmentInvalid as exc:
            raise forms.ValidationError(str(exc)) from exc
        return definition
