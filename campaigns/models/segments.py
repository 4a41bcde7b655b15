"""Segments: saved, named choices of people — by lists, tags, fields, engagement with earlier
campaigns and exclusions — that a campaign targets beside (or instead of) lists. The language is
:mod:`.segment_rules`; a segment is evaluated in SQL each time it is asked, and once at a launch
(:func:`campaigns.engine.sql.materialise_rows`)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from . import segment_rules
from .lists import Recipient

SAMPLE_SIZE = 20


def validate_definition(value) -> None:
    """Django validator: ``value`` is a definition of :mod:`.segment_rules`."""
    try:
        segment_rules.validate(value)
    except segment_rules.SegmentInvalid as exc:
        raise ValidationError(str(exc)) from exc


class Segment(models.Model):
    """A saved definition (:mod:`.segment_rules`, JSON) with a name. ``follow_up_of``: the campaign
    a follow-up segment was made from (its page links back)."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    definition = models.JSONField(default=dict, validators=[validate_definition])
    follow_up_of = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_up_segments",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "campaigns"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def recipients(self, *, depth: int = 0) -> models.QuerySet[Recipient]:
        """The valid recipient rows the segment chooses now: a lazy queryset, one SQL statement
        (a person on two lists is two rows; :meth:`count` counts people). Raises
        :class:`~.segment_rules.SegmentInvalid` for a definition that no longer holds (an excluded
        segment that now excludes this one)."""
        return segment_rules.chosen(self.definition, depth)

    def count(self) -> int:
        """People (distinct keys) in the segment now."""
        # COUNT(*) over SELECT DISTINCT: a hash aggregate (PostgreSQL sorts for COUNT(DISTINCT)).
        return self.recipients().order_by().values("key").distinct().count()

    def sample(self, size: int = SAMPLE_SIZE) -> list[Recipient]:
        """Up to ``size`` rows of the segment, one per person, newest lists first."""
        rows = self.recipients().select_related("recipient_list").order_by("-recipient_list_id", "id")
        seen: dict[str, Recipient] = {}
        for row in rows[: size * 3]:
            seen.setdefault(row.key, row)
        return list(seen.values())[:size]

    def why(self, recipient: Recipient) -> list[tuple[str, bool]]:
        """Each condition of the segment, as text, and whether ``recipient``'s row meets it (all
        do for a row in the segment): :meth:`explain` for one row."""
        return self.explain([recipient]).get(recipient.pk, [])

    def explain(self, recipients: list[Recipient]) -> dict[int, list[tuple[str, bool]]]:
        """:meth:`why` for several rows in one query (each condition a boolean column; a
        condition's subquery is read once for all of them): {row id: [(text, met), …]}."""
        found = segment_rules.rules(self.definition)
        rows = Recipient.objects.filter(pk__in=[r.pk for r in recipients])
        for rule in found:
            rows = rows.alias(**rule.aliases)
        columns = {
            f"_why_{n}": models.ExpressionWrapper(rule.q, output_field=models.BooleanField())
            for n, rule in enumerate(found)
        }
        values = rows.annotate(**columns).values("pk", *columns) if found else rows.values("pk")
        return {
            row["pk"]: [(rule.text, bool(row.get(f"_why_{n}"))) for n, rule in enumerate(found)]
            for row in values
        }

    def conditions(self) -> list[str]:
        """The definition in words, one condition a line."""
        return [rule.text for rule in segment_rules.rules(self.definition)]

    def left_out(self) -> list[tuple[str, int]]:
        """Rows "did not read" cannot count: (where, rows sent by bots), :func:`.segment_rules.left_out`."""
        return segment_rules.left_out(self.definition)
