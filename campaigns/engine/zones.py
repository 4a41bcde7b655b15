"""Quiet hours in the database: each row's time zone at launch, the zones of a campaign's lists
before it (the launch summary, the launch check). The rules are :mod:`.window`'s."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from django.db.models import Count, Q
from django.utils import timezone

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
    now = timezone.now()
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


def unplaced(campaign: Campaign) -> dict[str, Counter]:
    """List name → valid recipients no zone can be surely found for, by what they are:
    ``"identity"`` (usernames and user ids without a valid ``timezone`` column) and ``"phone"``
    (numbers of a country with several clocks, or that ``phonenumbers`` cannot place, without a
    column), in lists with no (valid) default zone. Usernames are counted, not read, in a list
    without a zone column; phone numbers are read (each number's zones)."""
    found: dict[str, Counter] = {}
    for recipient_list in campaign.lists.all():
        if window.column_zone({"timezone": recipient_list.default_time_zone}):
            continue  # its default places everyone
        counts: Counter = Counter()
        rows = _valid_recipients(campaign).filter(recipient_list=recipient_list)
        identities = rows.exclude(kind=RecipientKind.PHONE)
        columns = (recipient_list.report or {}).get("columns")
        if columns is not None and not any(window.column_zone({c: "UTC"}) for c in columns):
            counts["identity"] = identities.count()
        else:
            counts["identity"] = sum(
                1
                for fields in identities.values_list("fields", flat=True).iterator(chunk_size=CHUNK)
                if not window.column_zone(fields)
            )
        for key, fields in (
            rows.filter(kind=RecipientKind.PHONE).values_list("key", "fields").iterator(chunk_size=CHUNK)
        ):
            if window.zone_for(key, RecipientKind.PHONE, fields)[1] in (window.GUESS, window.NONE):
                counts["phone"] += 1
        if +counts:
            found[str(recipient_list)] = +counts
    return found


def zone_problems(campaign: Campaign) -> list[str]:
    """The launch check's refusals for a send window: recipients whose time zone is not known
    surely (a guessed clock could wake someone at 3 am). [] without a window."""
    if not campaign_has_window(campaign):
        return []
    problems = []
    fix = "set the list's default time zone, add a timezone column, or remove the send window"
    for name, counts in unplaced(campaign).items():
        if n := counts["identity"]:
            problems.append(
                f"the send window needs each recipient's time zone, and {n} recipient{'s' if n != 1 else ''} "
                f"of “{name}” (usernames or user ids) {'have' if n != 1 else 'has'} none: {fix}"
            )
        if n := counts["phone"]:
            problems.append(
                f"the send window needs each recipient's time zone, and {n} phone number{'s' if n != 1 else ''} "
                f"of “{name}” belong{'' if n != 1 else 's'} to a country with several time zones (or to "
                f"none phonenumbers knows): {fix}"
            )
    return problems


def waiting_by_zone(campaign: Campaign) -> dict[str, int]:
    """Zone → rows still to send (pending, claimed, sending), for the forecast: one grouped read
    of the campaign's open rows."""
    rows = campaign.results.filter(Q(status__in=OPEN_STATUSES))
    return dict(rows.values_list("time_zone").annotate(n=Count("id")).order_by())
