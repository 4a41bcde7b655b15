"""The results changelist at a million rows: counts from the tally, filters that read small
tables (:mod:`.result_filters`), and a search that uses an index.

Django's admin counts the filtered rows on every page and lists a filter's choices by scanning
the rows; at a million results each of those is a second. Here a page count comes from the
maintained tally (:class:`~campaigns.models.tally.ResultTally`) when the filters allow it, and is
capped otherwise; the search looks a recipient up by
its key (exact, or by prefix) instead of ``LIKE '%…%'`` over every row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib.admin.utils import quote
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db.models import F, Prefetch, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import cached_property

from sessions_app.models import TelegramSession
from tgcampaigns.bounds import BIGINT_MAX

from ..lists.normalise import normalise
from ..lists.search import result_filter
from ..models import MessageResult, Recipient, ResultTally
from ..models.tally import recount

logger = logging.getLogger(__name__)

# Stands for a row's primary key in the change URL reversed once per page.
PK_SLOT = "tgc-pk-slot"


def campaign_filter(request: HttpRequest) -> int | None:
    """The campaign the changelist is filtered to, or None (also for a malformed value, which the
    changelist itself then refuses)."""
    value = request.GET.get("campaign__id__exact", "")
    return int(value) if value.isascii() and value.isdigit() and int(value) <= BIGINT_MAX else None


# Filters the tally can count (campaign, status, session); anything else gets a capped count.
TALLY_PARAMS = {"campaign__id__exact", "status__exact", "session__id__exact"}
PAGE_PARAMS = {"o", "p", "_changelist_filters"}
# A count beyond this is shown as "more than …" rather than counted.
COUNT_CAP = 10_000


class TallyPaginator(Paginator):
    """A paginator told its count (from the tally), or counting at most ``cap + 1`` rows."""

    def __init__(
        self,
        object_list,
        per_page,
        *,
        known_count: int | None,
        cap: int | None = None,
        rows: Callable[[QuerySet], QuerySet] = lambda queryset: queryset,
        **kwargs,
    ):
        super().__init__(object_list, per_page, **kwargs)
        self.known_count = known_count
        self.cap = cap or COUNT_CAP
        self.rows = rows  # what a page's rows read, applied after its ids are found

    @cached_property
    def count(self) -> int:
        if self.known_count is not None:
            return self.known_count
        return self.object_list[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        return self.known_count is None and self.count > self.cap

    def page(self, number):
        """The page's ids first (an index-only scan, whatever the depth), then its rows with their
        joins: a deep OFFSET never drags the joined tables through every skipped row."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        ids = list(self.object_list.values_list("pk", flat=True)[bottom : bottom + self.per_page])
        rows = {row.pk: row for row in self.rows(self.object_list.filter(pk__in=ids))}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)


class BoundedChangeList(ChangeList):
    """A changelist whose page is LIMITed whatever its count says.

    Django's changelist trusts the paginator's count: a count at or under a page makes it render
    the whole queryset unsliced. Counts here come from the maintained tally, so a tally lower than
    the truth (rows deleted by hand, a ``TRUNCATE``, a trigger that was off) would render every
    row — minutes and gigabytes at a million. Here a page reads at most one row more than it
    shows; when that row exists although the count said there was none, the count was wrong: it
    is logged, the tally recounted (:func:`recount`) and the page built again from the new count.

    Each row's link is built from one ``reverse`` and carries the page's filters itself: Django
    adds them per row through ``add_preserved_filters``, which resolves every row's URL again
    (a tenth of a 100-row page). The links are the same.
    """

    def __init__(self, request: HttpRequest, *args, **kwargs) -> None:
        super().__init__(request, *args, **kwargs)
        self.row_filters, self.preserved_filters = self.preserved_filters, ""

    @cached_property
    def _change_url(self) -> str:
        opts = self.opts
        name = f"admin:{opts.app_label}_{opts.model_name}_change"
        return reverse(name, args=(PK_SLOT,), current_app=self.model_admin.admin_site.name)

    def url_for_result(self, result) -> str:
        url = self._change_url.replace(PK_SLOT, quote(str(result.pk)))
        return f"{url}?{self.row_filters}" if self.row_filters else url

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        if not isinstance(self.result_list, QuerySet) or self.result_list.query.is_sliced:
            return  # a page of the paginator: bounded already
        limit = self.list_max_show_all if self.show_all else self.list_per_page
        # The paginator's rows (the columns the page shows), not Django's whole queryset.
        rows = list(self.paginator.rows(self.paginator.object_list)[: limit + 1])
        if len(rows) > self.result_count and not getattr(self, "_recounted", False):
            campaign_id = campaign_filter(request)
            logger.warning(
                "result tally lower than the rows (count %d, at least %d found, campaign %s): recounting",
                self.result_count,
                len(rows),
                campaign_id if campaign_id is not None else "all",
            )
            recount(campaign_id)
            self._recounted = True
            return self.get_results(request)
        self.result_list = rows[:limit]


# The columns a changelist row reads: the rest of a result (personalisation fields, the message
# sent, the claim) stays in the database.
ROW_COLUMNS = (
    "recipient_id",
    "session_id",
    "key",
    "status",
    "error_code",
    "attempts",
    "telegram_message_id",
    "sent_at",
    "read_at",
    "replied_at",
    "reply_count",
)
# The row a result was made from, read as values beside it: its list's id and name, its value as
# written, its row number (:func:`source_row`).
SOURCE = {
    "source_list_id": F("recipient__recipient_list_id"),
    "source_list_name": F("recipient__recipient_list__name"),
    "source_value": F("recipient__raw_value"),
    "source_row_number": F("recipient__row_number"),
}


def page_rows(queryset: QuerySet[MessageResult], *, joins_campaign: bool) -> QuerySet[MessageResult]:
    """``queryset`` reading what a changelist row shows and no more: its own columns, the row it
    was made from as values (:data:`SOURCE`, no Recipient or RecipientList built per row), the
    campaign's name when it is joined, the sessions (a few per page) read once each and shared.
    Naming a relation's ``_id`` in ``only()`` beside a join of it would read its whole row."""
    columns = [*ROW_COLUMNS, "campaign__name" if joins_campaign else "campaign_id"]
    return (
        queryset.only(*columns)
        .annotate(**SOURCE)
        .prefetch_related(Prefetch("session", TelegramSession.objects.only("name", "kind")))
    )


def source_row(result: MessageResult) -> tuple[int | None, str, str, int | None]:
    """(list id, list name, value as written, row number) of the row ``result`` was made from:
    the values :func:`page_rows` read beside it, else its recipient's; ``(None, "", "", None)``
    when that row is gone (its list deleted)."""
    if hasattr(result, "source_list_id"):
        return (
            result.source_list_id,
            result.source_list_name or "",
            result.source_value or "",
            result.source_row_number,
        )
    row = result.recipient
    if row is None:
        return None, "", "", None
    return row.recipient_list_id, row.recipient_list.name, row.raw_value, row.row_number


def tally_count(params: dict[str, str]) -> int | None:
    """The number of results the changelist shows for ``params`` from the tally, or None when
    the filters are ones the tally does not count (error code, search, dates)."""
    filters = {k: v for k, v in params.items() if k not in PAGE_PARAMS}
    if not set(filters) <= TALLY_PARAMS:
        return None
    rows = ResultTally.objects.all()
    for param, column in (("campaign__id__exact", "campaign_id"), ("session__id__exact", "session_id")):
        if param in filters:
            value = filters[param]
            if not (value.isascii() and value.isdigit() and int(value) <= BIGINT_MAX):
                return None  # malformed: the changelist answers 400 itself
            rows = rows.filter(**{column: int(value)})
    if "status__exact" in filters:
        rows = rows.filter(status=filters["status__exact"])
    return sum(rows.values_list("n", flat=True))


def search_results(queryset: QuerySet[MessageResult], term: str) -> QuerySet[MessageResult]:
    """Results whose recipient key is ``term`` as staff wrote it (``t.me/Alice_W``, ``+49 30 …``
    normalised like a list value), or starts with it, or whose line was written exactly so in
    its list (an invalid line has no key); index look-ups, never a scan."""
    term = term.strip()
    if not term:
        return queryset
    as_written = list(Recipient.objects.filter(raw_value=term).values_list("pk", flat=True)[:1000])
    wanted = Q(key=term) | Q(key__gte=term, key__lt=term + "\uffff") | Q(recipient_id__in=as_written)
    normalised = normalise(term)
    if normalised.key:
        wanted |= Q(key=normalised.key)
    if term[:1].isalpha():  # a username written without its @
        wanted |= Q(key__gte="@" + term.lower(), key__lt="@" + term.lower() + "\uffff")
    also = result_filter(term)  # a phone's start as staff write it, a name's start
    return queryset.filter(wanted | also if also else wanted)
