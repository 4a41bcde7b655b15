"""Quiet hours in the database: each row's time zone at launch, the zones of a campaign's lists
before it (the launch summary, the launch check). The rules are :mod:`.window`'s."""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection
from django.db.models import Case, Count, F, JSONField, Q, QuerySet, Value, When
from django.db.models.functions import Substr
from django.db.models.lookups import In

from sessions_app import clock

from ..lists.zonenames import is_zone_column, valid_zone
from ..models import (
    OPEN_STATUSES,
    Campaign,
    MessageResult,
    Recipient,
    RecipientKind,
    RecipientList,
    ResultStatus,
)
from . import window

CODE_NO_TIME_ZONE = "NO_TIME_ZONE"
CHUNK = 5_000
PREFIX = Substr("key", 2, 3)  # a phone number's first three digits: its calling code and more


def campaign_has_window(campaign: Campaign) -> bool:
    return window.has_window(campaign.send_window_start, campaign.send_window_end)


def reads_column(recipient_list: RecipientList) -> bool:
    """Whether ``recipient_list``'s recipients may carry a ``timezone`` column: its import report's
    ``columns`` name one, or the report names none (a list from before reports recorded them)."""
    columns = (recipient_list.report or {}).get("columns")
    return columns is None or any(is_zone_column(c) for c in columns)


def sure_phone_counts(rows: QuerySet) -> dict[str, dict[str, int]]:
    """Zone → {first three digits: rows} of the phone numbers among ``rows`` (results or
    recipients) that :func:`.window.sure_prefix_zone` places without reading them: one grouped
    read of their first digits."""
    found: dict[str, dict[str, int]] = {}
    phones = rows.filter(kind=RecipientKind.PHONE, key__startswith="+").annotate(prefix=PREFIX)
    for prefix, n in phones.values_list("prefix").annotate(n=Count("id")).order_by():
        if zone := window.sure_prefix_zone(prefix or ""):
            found.setdefault(zone, {})[prefix] = n
    return found


def _sure(counts: dict[str, dict[str, int]]) -> list[str]:
    return [prefix for prefixes in counts.values() for prefix in prefixes]


def without_sure_phones(rows: QuerySet, counts: dict[str, dict[str, int]]) -> QuerySet:
    """``rows`` but the phone numbers :func:`sure_phone_counts` counted."""
    return rows.annotate(prefix=PREFIX).exclude(
        kind=RecipientKind.PHONE, key__startswith="+", prefix__in=_sure(counts)
    )


LOOKUP = "tgc_launch_zones"  # a temporary table: recipient id → zone, for the launch's INSERT


@contextlib.contextmanager
def zones_at_insert(campaign: Campaign) -> Iterator[tuple[str, list]]:
    """(SQL expression over a recipient ``r``, parameters): the zone :func:`.window.zone_for`
    gives each recipient of the lists whose columns hold no zone column, for the launch's
    ``INSERT`` to write (:func:`.sql.materialise_rows`): the phone numbers of a sure calling code
    by their first three digits (those the lists hold: one grouped read), the usernames and user
    ids of a list with a default zone by their list, the other phone numbers (countries with
    several clocks) placed one by one beforehand (:mod:`.numberzones`) into a temporary table the
    expression looks up, dropped after the block. '' for the rest (lists with a zone column,
    recipients nothing places), which :func:`assign_zones` then places or skips."""
    plain = [rl for rl in campaign.lists.order_by("pk") if not reads_column(rl)]
    if not plain:
        yield "''", []
        return
    recipients = Recipient.objects.filter(recipient_list__in=plain, status=Recipient.Status.VALID)
    counts = sure_phone_counts(recipients)
    prefixes = [(p, zone) for zone, found in counts.items() for p in found]
    branches, params = [], []
    if prefixes:
        cases = " ".join("WHEN %s THEN %s" for _ in prefixes)
        branches.append(
            f"WHEN r.recipient_list_id IN ({', '.join(['%s'] * len(plain))}) AND r.kind = %s "
            f"AND SUBSTR(r.key, 1, 1) = '+' AND SUBSTR(r.key, 2, 3) IN ({', '.join(['%s'] * len(prefixes))}) "
            f"THEN CASE SUBSTR(r.key, 2, 3) {cases} END"
        )
        params += [*(rl.pk for rl in plain), RecipientKind.PHONE, *(p for p, _ in prefixes)]
        params += [value for pair in prefixes for value in pair]
    for rl in plain:
        if valid_zone(rl.default_time_zone):
            branches.append("WHEN r.recipient_list_id = %s AND r.kind <> %s THEN %s")
            params += [rl.pk, RecipientKind.PHONE, rl.default_time_zone]
    with connection.cursor() as cursor:
        if looked_up := _place_numbers(cursor, plain, counts):
            branches.append(
                f"WHEN r.kind = %s THEN COALESCE((SELECT z.zone FROM {LOOKUP} z WHERE z.id = r.id), '')"
            )
            params.append(RecipientKind.PHONE)
        yield (f"CASE {' '.join(branches)} ELSE '' END", params) if branches else ("''", [])
        if looked_up:  # after an error the launch's transaction takes it back, or the next drops it
            cursor.execute(f"DROP TABLE {LOOKUP}")


def _place_numbers(cursor, plain: list[RecipientList], counts: dict[str, dict[str, int]]) -> bool:
    """Write the zones :func:`.window.zone_for` gives the phone numbers of ``plain`` lists that
    ``counts`` (sure calling codes) leaves out into the temporary table :data:`LOOKUP`, made here;
    False (no table) when there are none."""
    made = False
    for rl in plain:
        phones = Recipient.objects.filter(
            recipient_list=rl, status=Recipient.Status.VALID, kind=RecipientKind.PHONE
        )
        read = without_sure_phones(phones, counts).values_list("id", "key").iterator(CHUNK)
        while chunk := list(itertools.islice(read, 500)):
            placed = [
                (pk, z)
                for pk, key in chunk
                for z in [window.zone_for(key, "phone", None, rl.default_time_zone)[0]]
                if z
            ]
            if placed and not made:
                cursor.execute(f"DROP TABLE IF EXISTS {LOOKUP}")
                cursor.execute(
                    f"CREATE TEMPORARY TABLE {LOOKUP} (id bigint PRIMARY KEY, zone varchar(64) NOT NULL)"
                )
                made = True
            if placed:
                values = ", ".join(["(%s, %s)"] * len(placed))
                cursor.execute(
                    f"INSERT INTO {LOOKUP} (id, zone) VALUES {values}", [v for pair in placed for v in pair]
                )
    return made


def assign_zones(campaign: Campaign) -> dict[str, int]:
    """Give every row still to send (``pending`` or ``held``) that has no zone yet its recipient's
    zone, exactly :func:`.window.zone_for`'s (the row's list's default zone as fallback), in bulk:
    in the lists whose columns hold no zone column, the phone numbers of a calling code with one
    sure zone (:func:`.window.sure_calling_codes`) by one UPDATE on their first digits, the
    usernames and user ids by one UPDATE per list to its default; then the rest (numbers of
    countries with several clocks, lists with a zone column) row by row, read in id order so
    memory stays flat. A row nothing places (a phone number ``phonenumbers`` cannot place, in a
    list without a default zone) becomes ``skipped`` with ``NO_TIME_ZONE``: the launch check
    refuses the cases it can see, and nothing waits forever. Returns rows per zone ("" for
    those skipped)."""
    written: Counter = Counter()
    todo = campaign.results.filter(status__in=(ResultStatus.PENDING, ResultStatus.HELD), time_zone="")
    plain = [rl for rl in campaign.lists.order_by("pk") if not reads_column(rl)]
    if plain:
        in_plain = todo.filter(
            recipient_id__in=Recipient.objects.filter(recipient_list__in=plain).values("id")
        )
        counts = sure_phone_counts(in_plain)
        if counts:
            whens = [When(In(PREFIX, list(prefixes)), then=Value(zone)) for zone, prefixes in counts.items()]
            in_plain.filter(kind=RecipientKind.PHONE, key__startswith="+").filter(
                In(PREFIX, _sure(counts))
            ).update(time_zone=Case(*whens, default=F("time_zone")))
            for zone, prefixes in counts.items():
                written[zone] += sum(prefixes.values())
        for recipient_list in plain:
            default = recipient_list.default_time_zone if valid_zone(recipient_list.default_time_zone) else ""
            identities = todo.exclude(kind=RecipientKind.PHONE).filter(
                recipient_id__in=Recipient.objects.filter(recipient_list=recipient_list).values("id")
            )
            written[default] += _place(identities, default, clock.now())
    _assign_each(todo, plain, written)
    return dict(written)


def _place(rows: QuerySet, zone: str, now) -> int:
    """Give ``rows`` ``zone``, or skip them with ``NO_TIME_ZONE`` when it is ""; the rows written."""
    if zone:
        return rows.update(time_zone=zone)
    return rows.update(
        status=ResultStatus.SKIPPED,
        error_code=CODE_NO_TIME_ZONE,
        error_text="no time zone known for the send window (set the list's default zone)",
        updated_at=now,
    )


def _assign_each(todo: QuerySet, plain: list[RecipientList], written: Counter) -> None:
    """:func:`assign_zones` for the rows it did not place in bulk, one :func:`.window.zone_for`
    each, in chunks of :data:`CHUNK` rows by id; the ``fields`` of rows of ``plain`` lists are not
    read."""
    fields = Case(
        When(recipient__recipient_list__in=plain, then=Value(None, output_field=JSONField())),
        default=F("fields"),
        output_field=JSONField(),
    )
    rows = todo.annotate(own=fields).order_by("id")
    last, now = 0, clock.now()
    while True:
        chunk = list(
            rows.filter(id__gt=last).values_list(
                "id", "key", "kind", "own", "recipient__recipient_list__default_time_zone"
            )[:CHUNK]
        )
        if not chunk:
            break
        last = chunk[-1][0]
        by_zone: dict[str, list[int]] = {}
        for pk, key, kind, own, default in chunk:
            zone, _how = window.zone_for(key, kind, own, default or "")
            by_zone.setdefault(zone, []).append(pk)
        for zone, ids in by_zone.items():
            written[zone] += _place(MessageResult.objects.filter(id__in=ids), zone, now)


def _valid_recipients(campaign: Campaign):
    """The valid rows of the campaign's lists and its segments (before de-duplication)."""
    chosen = Q(recipient_list__in=campaign.lists.all())
    for segment in campaign.segments.all():
        chosen |= Q(pk__in=segment.recipients().order_by().values("pk"))
    return Recipient.objects.filter(chosen, status=Recipient.Status.VALID)


def _source_lists(campaign: Campaign):
    """The campaign's lists and the lists its segments' rows are on, in id order: the lists the
    zone census and the launch check read (each only for the rows :func:`_valid_recipients` holds)."""
    ids = set(campaign.lists.values_list("pk", flat=True))
    for segment in campaign.segments.all():
        ids |= set(segment.recipients().order_by().values_list("recipient_list_id", flat=True).distinct())
    return RecipientList.objects.filter(pk__in=ids).order_by("pk")


def zone_pairs(campaign: Campaign) -> Counter:
    """(zone, how) → recipients over the campaign's lists' valid recipients (before
    de-duplication), :func:`.window.census`'s answer. In a list whose columns hold no zone column,
    sure phone numbers are counted by their first digits and usernames and user ids by one count
    (:func:`sure_phone_counts`); only the other phone numbers are read, and lists with a zone
    column row by row."""
    pairs: Counter = Counter()
    for recipient_list in _source_lists(campaign):
        rows = _valid_recipients(campaign).filter(recipient_list=recipient_list)
        default = recipient_list.default_time_zone or ""
        if reads_column(recipient_list):
            read = rows.values_list("key", "kind", "fields").iterator(CHUNK)
            pairs.update(window.census((key, kind, fields, default) for key, kind, fields in read))
            continue
        counts = sure_phone_counts(rows)
        for zone, prefixes in counts.items():
            pairs[(zone, window.PHONE)] += sum(prefixes.values())
        identities = rows.exclude(kind=RecipientKind.PHONE).count()
        placed = (default, window.DEFAULT) if valid_zone(default) else ("", window.NONE)
        pairs[placed] += identities
        phones = without_sure_phones(rows.filter(kind=RecipientKind.PHONE), counts)
        read = phones.values_list("key", "kind").iterator(CHUNK)
        pairs.update(window.census((key, kind, None, default) for key, kind in read))
    return +pairs


def zone_census(campaign: Campaign) -> tuple[Counter, Counter]:
    """(recipients per zone, recipients per way it was found): :func:`zone_pairs` by each side."""
    zones, how = Counter(), Counter()
    for (zone, found), n in zone_pairs(campaign).items():
        zones[zone] += n
        how[found] += n
    return +zones, +how


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
    column and that has a valid default is not read; in a list without a zone column usernames
    are counted and the phone numbers of a sure calling code (:func:`sure_phone_counts`) left
    unread; otherwise each recipient's fields (and phone number) are read."""
    found = []
    for recipient_list in _source_lists(campaign):
        counts = Unplaced(recipient_list.pk, str(recipient_list))
        has_default = valid_zone(recipient_list.default_time_zone)
        has_column = reads_column(recipient_list)
        if has_default and not has_column:
            continue  # its default places everyone
        rows = _valid_recipients(campaign).filter(recipient_list=recipient_list)
        if not has_column:
            counts.identity = rows.exclude(kind=RecipientKind.PHONE).count()
            rows = without_sure_phones(rows.filter(kind=RecipientKind.PHONE), sure_phone_counts(rows))
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
