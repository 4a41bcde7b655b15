"""Quiet hours in the database: each row's time zone at launch, the zones of a campaign's lists
before it (the launch summary, the launch check). The rules are :mod:`.window`'s."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count, Q

from sessions_app import clock

from ..lists.zonenames import is_zone_column, valid_zone
from ..models import OPEN_STATUSES, Campaign, MessageResult, Recipient, RecipientKind, ResultStatus
from . import window

CODE_NO_TIME_ZONE = "NO_TIME_ZONE"
CHUNK = 5_000


def campaign_has_window(campaign: Campaign) -> bool:
    return window.has_window(campaign.send_window_start, campaign.send_window_end)


def assign_zones(campaign: Campaign) -> dict[str, int]:
    """Give every row still to send (``pending`` or ``held``) that has no zone yet its recipient's
    zone (:func:`.window.zone_for`, the row's list's default zone as fallback): one UPDATE per zone
    and chunk of rows, read in id order so memory stays flat. A row nothing places (a phone number
    ``phonenumbers`` cannot place, in a list without a default zone) becomes ``skipped`` with
    ``NO_TIME_ZONE``: the launch check refuses the cases it can see, and nothing waits forever.
    Returns rows per zone ("" for those skipped)."""
    written: Counter = Counter()
    todo = campaign.results.filter(
        status__in=(ResultStatus.PENDING, ResultStatus.HELD), time_zone=""
    ).order_by("id")
    last = 0
    now = clock.now()
    while True:
        chunk = list(
            todo.filter(id__gt=last).values_list(
                "id", "key", "kind", "fields", "recipient__recipient_list__default_time_zone"
            )[:CHUNK]
        )
        if not chunk:
            break
        last = chunk[-1][0]
        by_zone: dict[str, list[int]] = {}
        for pk, key, kind, fields, default in chunk:
            zone, _how = window.zone_for(key, kind, fields, default or "")
            by_zone.setdefault(zone, []).append(pk)
        for zone, ids in by_zone.items():
            rows = MessageResult.objects.filter(id__in=ids)
            if zone:
                rows.update(time_zone=zone)
            else:
                rows.update(
                    status=ResultStatus.SKIPPED,
                    error_code=CODE_NO_TIME_ZONE,
                    error_text="no time zone known for the send window (set the list's default zone)",
                    updated_at=now,
                )
            written[zone] += len(ids)
    return dict(written)


def _valid_recipients(campaign: Campaign):
    return Recipient.objects.filter(recipient_list__in=campaign.lists.all(), status=Recipient.Status.VALID)


def recipient_rows(campaign: Campaign) -> Iterator[tuple[str, str, dict, str]]:
    """(key, kind, fields, list default zone) of the valid recipients of the campaign's lists."""
    yield from (
        _valid_recipients(campaign)
        .values_list("key", "kind", "fields", "recipient_list__default_time_zone")
        .iterator(chunk_size=CHUNK)
    )


def zone_census(campaign: Campaign) -> tuple[Counter, Counter]:
    """(recipients per zone, recipients per way it was found) over the campaign's lists' valid
    recipients (before de-duplication): :func:`.window.census`. Reads every recipient: the
    launch summary calls it for launches prepared in the request only."""
    return window.census(recipient_rows(campaign))


@dataclass
class Unplaced:
    """One list's valid recipients no zone can be surely found for: ``identity`` (usernames and
    user ids without a valid column, the list without a default), ``phone`` (numbers of a country
    with several clocks, or that ``phonenumbers`` cannot place, without a column or default) and
    ``bad_column`` (a ``timezone`` column that names no zone, "Mars/Olympus"; with ``example``,
    (value, row number) of the first)."""

    list_id: int
    name: str
    identity: int = 0
    phone: int = 0
    bad_column: int = 0
    example: tuple[str, int] = ("", 0)

    def __bool__(self) -> bool:
        return bool(self.identity or self.phone or self.bad_column)


def unplaced(campaign: Campaign) -> list[Unplaced]:
    """The lists of ``campaign`` with valid recipients no zone can be surely found for
    (:class:`Unplaced`), in list order. A list whose columns (its import report) hold no zone
    column and that has a valid default is not read; usernames are counted, not read, in a list
    without a zone column; otherwise each recipient's fields (and phone number) are read."""
    found = []
    for recipient_list in campaign.lists.order_by("pk"):
        counts = Unplaced(recipient_list.pk, str(recipient_list))
        has_default = valid_zone(recipient_list.default_time_zone)
        columns = (recipient_list.report or {}).get("columns")
        has_column = columns is None or any(is_zone_column(c) for c in columns)
        if has_default and not has_column:
            continue  # its default places everyone
        rows = _valid_recipients(campaign).filter(recipient_list=recipient_list)
        if not has_column:
            counts.identity = rows.exclude(kind=RecipientKind.PHONE).count()
            rows = rows.filter(kind=RecipientKind.PHONE)
        for key, kind, fields, number in (
            rows.order_by("row_number")
            .values_list("key", "kind", "fields", "row_number")
            .iterator(chunk_size=CHUNK)
        ):
            given = window.column_value(fields)
            if given and not valid_zone(given):
                counts.bad_column += 1
                if not counts.example[0]:
                    counts.example = (given, number)
                continue
            if has_default or given:
                continue
            how = window.zone_for(key, kind, fields)[1]
            if how == window.NONE and kind != RecipientKind.PHONE:
                counts.identity += 1
            elif how in (window.GUESS, window.NONE):
                counts.phone += 1
        if counts:
            found.append(counts)
    return found


class ListProblem(str):
    """A refusal that the page of one recipient list fixes: the text, with ``list_id``."""

    list_id: int | None = None

    def __new__(cls, text: str, list_id: int | None = None) -> ListProblem:
        problem = super().__new__(cls, text)
        problem.list_id = list_id
        return problem


def zone_problems(campaign: Campaign) -> list[ListProblem]:
    """The launch check's refusals for a send window: recipients whose time zone is not known
    surely (a guessed clock could wake someone at 3 am) or whose ``timezone`` column names no zone,
    each a :class:`ListProblem` naming the list that fixes it. [] without a window."""
    if not campaign_has_window(campaign):
        return []
    problems = []
    fix = "set the list's default time zone, add a timezone column, or remove the send window"
    needs = "the send window needs each recipient's time zone, and"
    for counts in unplaced(campaign):
        name, texts = counts.name, []
        if n := counts.bad_column:
            value, row = counts.example
            texts.append(
                f"{n} recipient{'s' if n != 1 else ''} of “{name}” {'have' if n != 1 else 'has'} a time "
                f"zone their column gives that is not a known zone (e.g. “{value}” in row {row}): fix the "
                "column (IANA names such as Europe/Berlin), or empty those cells to use the phone "
                "number's zone or the list's default time zone"
            )
        if n := counts.identity:
            texts.append(
                f"{needs} {n} recipient{'s' if n != 1 else ''} of “{name}” (usernames or user ids) "
                f"{'have' if n != 1 else 'has'} none: {fix}"
            )
        if n := counts.phone:
            texts.append(
                f"{needs} {n} phone number{'s' if n != 1 else ''} of “{name}” belong{'' if n != 1 else 's'} "
                f"to a country with several time zones (or to none phonenumbers knows): {fix}"
            )
        problems += [ListProblem(text, counts.list_id) for text in texts]
    return problems


def waiting_by_zone(campaign: Campaign) -> dict[str, int]:
    """Zone → rows still to send (pending, claimed, sending), for the forecast: one grouped read
    of the campaign's open rows."""
    rows = campaign.results.filter(Q(status__in=OPEN_STATUSES))
    return dict(rows.values_list("time_zone").annotate(n=Count("id")).order_by())
