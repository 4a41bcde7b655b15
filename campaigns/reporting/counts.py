"""A campaign's result counts as a query expression over the maintained tally
(:class:`~campaigns.models.ResultTally`): the home page and the campaigns changelist annotate with
it, and neither counts the results themselves."""

from __future__ import annotations

from django.db.models import IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from ..models import ResultTally


def count_results(status: str | None = None) -> Coalesce:
    """The campaign's results (of one status) from the maintained tally: a correlated SUM over a
    handful of tally rows, never a COUNT over the results. Annotate a ``Campaign`` queryset with
    it (``OuterRef("pk")`` is the campaign); 0 when the campaign has no such results."""
    rows = ResultTally.objects.filter(campaign_id=OuterRef("pk"))
    if status:
        rows = rows.filter(status=status)
    total = rows.order_by().values("campaign_id").annotate(n=Sum("n")).values("n")
    return Coalesce(Subquery(total, output_field=IntegerField()), Value(0))
