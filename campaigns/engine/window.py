"""Quiet hours: a campaign's send window in each recipient's own time zone.

A recipient's zone comes from its phone number (``phonenumbers``' time zones: a number whose
country or prefix has one zone gives it), else from a ``timezone`` column of its list, else from the
list's default zone; a phone number of a country with several zones and neither of those gets the
country's first zone, flagged as guessed (and the launch check refuses it: a guessed clock could
wake someone at 3 am). Zones that keep one clock all year count as one. Usernames and user ids tell nothing: column or default.

Times are wall-clock times in the recipient's zone (``zoneinfo``, so daylight saving time is
followed): a 09:00–20:00 window opens at 09:00 local time on the day the clocks change too. An end
before the start spans midnight (22:00–06:00); an equal start and end is no window.
"""

from __future__ import annotations

import re
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import phonenumbers
from phonenumbers import timezone as phone_timezones

from ..timezones import valid_zone

# Column names (lower-cased, without separators) read as a recipient's own time zone.
ZONE_COLUMNS = ("timezone", "tz")
UNKNOWN_ZONE = "Etc/Unknown"  # what phonenumbers answers for a number it cannot place

# How a recipient's zone was found, for the launch summary.
PHONE, COLUMN, DEFAULT, GUESS, NONE = "phone", "column", "default", "guess", "none"


@lru_cache(maxsize=100_000)
def phone_zones(key: str) -> tuple[str, ...]:
    """The IANA zones ``phonenumbers`` gives an E.164 ``key`` ("+4930…" → ("Europe/Berlin",));
    () when it cannot place the number."""
    try:
        number = phonenumbers.parse(key, None)
    except phonenumbers.NumberParseException:
        return ()
    return tuple(z for z in phone_timezones.time_zones_for_number(number) if z != UNKNOWN_ZONE)


def column_zone(fields: Mapping | None) -> str:
    """A valid zone from the recipient's ``timezone`` (or ``time_zone``, ``TZ``) column, else ""."""
    for name, value in (fields or {}).items():
        if re.sub(r"[^a-z0-9]", "", str(name).lower()) in ZONE_COLUMNS:
            value = str(value or "").strip()
            if valid_zone(value):
                return value
    return ""


def same_clock(zones: Iterable[str], year: int | None = None) -> bool:
    """Whether every zone in ``zones`` keeps the same clock all year: equal UTC offsets in
    mid-January, mid-July and now. A country's zones that differ only by name (Argentina's) then
    place a number as surely as one zone; Russia's or the United States' do not."""
    zones = [zoneinfo.ZoneInfo(z) for z in zones if valid_zone(z)]
    if not zones:
        return False
    now = datetime.now(UTC)
    year = year or now.year
    instants = (datetime(year, 1, 15, 12, tzinfo=UTC), datetime(year, 7, 15, 12, tzinfo=UTC), now)
    return all(len({at.astimezone(z).utcoffset() for z in zones}) == 1 for at in instants)


def zone_for(key: str, kind: str, fields: Mapping | None, default_zone: str = "") -> tuple[str, str]:
    """(zone, how) for one recipient: ``how`` is :data:`PHONE`, :data:`COLUMN`, :data:`DEFAULT`,
    :data:`GUESS` (a phone of a country with several zones and nothing better: its first) or
    :data:`NONE` (zone "": nothing tells it)."""
    default_zone = default_zone if valid_zone(default_zone) else ""
    zones = phone_zones(key) if kind == "phone" else ()
    if len(zones) == 1 or (zones and _same_clock_cached(zones)):
        return zones[0], PHONE
    if own := column_zone(fields):
        return own, COLUMN
    if default_zone:
        return default_zone, DEFAULT
    if zones:
        return zones[0], GUESS
    return "", NONE


@lru_cache(maxsize=1_000)
def _same_clock_cached(zones: tuple[str, ...]) -> bool:
    return same_clock(zones)


# The window ------------------------------------------------------------------------------------
def has_window(start: time | None, end: time | None) -> bool:
    """Whether a start and an end make a window (both set and different)."""
    return start is not None and end is not None and start != end


def is_open_at(start: time, end: time, local: time) -> bool:
    """Whether the local time of day ``local`` is inside [start, end) (spanning midnight when
    the end is before the start)."""
    if start < end:
        return start <= local < end
    return local >= start or local < end


def is_open(start: time, end: time, zone: str, now: datetime) -> bool:
    """Whether the window is open now (aware ``now``) in ``zone``."""
    local = now.astimezone(zoneinfo.ZoneInfo(zone))
    return is_open_at(start, end, local.time().replace(tzinfo=None))


def open_zones(start: time | None, end: time | None, zones: Iterable[str], now: datetime) -> set[str]:
    """The zones among ``zones`` whose window is open at ``now`` (all of them without a window).
    "" (no zone) is never open under a window."""
    zones = set(zones)
    if not has_window(start, end):
        return zones
    return {z for z in zones if z and valid_zone(z) and is_open(start, end, z, now)}


def _instants(day: date, clock: time, zone: zoneinfo.ZoneInfo) -> list[datetime]:
    """The UTC instants (in order) at which ``zone``'s wall clock reaches ``clock`` on ``day``: one
    on most days; both passes when the clocks fall back over it (a fold); and when they spring
    forward over it (a gap: the time never shows), the instant of the jump, when the clock passes
    it. Transitions fall on whole seconds (tz database)."""
    naive = datetime.combine(day, clock)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return sorted({first, second})
    # In a gap, fold=0 and fold=1 read it with the offsets before and after the jump: the jump lies
    # between them, at the first second whose wall time is past ``clock``.
    low, high = sorted((int(first.timestamp()), int(second.timestamp())))
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return [datetime.fromtimestamp(high, UTC)]


def _transitions(zone: zoneinfo.ZoneInfo, now: datetime, days: int) -> list[datetime]:
    """The instants after ``now`` within ``days`` at which ``zone``'s UTC offset changes (found
    hour by hour, then to the second: offsets change months apart)."""
    found, at, step = [], now, timedelta(hours=1)
    for _ in range(days * 24):
        later = at + step
        if at.astimezone(zone).utcoffset() != later.astimezone(zone).utcoffset():
            low, high = int(at.timestamp()), int(later.timestamp()) + 1
            offset = at.astimezone(zone).utcoffset()
            while high - low > 1:
                middle = (low + high) // 2
                if datetime.fromtimestamp(middle, zone).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            found.append(datetime.fromtimestamp(high, UTC))
        at = later
    return found


def _next_change(start: time, end: time, zone: str, now: datetime, *, opens: bool) -> datetime:
    """The first instant after ``now`` at which the window is open (``opens``) or shut: the wall
    clock reaching the start (or end), or a DST change moving the clock into (or out of) the
    window, whichever comes first."""
    tz = zoneinfo.ZoneInfo(zone)
    today = now.astimezone(tz).date()
    clock = start if opens else end
    candidates = [at for offset in range(4) for at in _instants(today + timedelta(days=offset), clock, tz)]
    candidates += _transitions(tz, now, days=4)
    return min(at for at in candidates if at > now and is_open(start, end, zone, at) == opens)


def next_opening(start: time, end: time, zone: str, now: datetime) -> datetime:
    """When the window next opens in ``zone`` (UTC, aware): ``now`` while it is open. Built from
    the wall-clock start on each local day, so a DST change moves it with the clocks; a start the
    clocks jump over opens the window at the jump."""
    if is_open(start, end, zone, now):
        return now
    return _next_change(start, end, zone, now, opens=True)


def next_closing(start: time, end: time, zone: str, now: datetime) -> datetime:
    """When the window open at ``now`` in ``zone`` closes (UTC, aware): the wall clock reaching
    the end (in a fold, the pass after ``now``), or the clocks changing out of the window."""
    return _next_change(start, end, zone, now, opens=False)


def first_opening(start: time, end: time, zones: Iterable[str], now: datetime) -> tuple[datetime, str] | None:
    """(when, zone) of the earliest opening among ``zones`` (now when one is open); None for none."""
    found = [(next_opening(start, end, z, now), z) for z in set(zones) if z and valid_zone(z)]
    return min(found) if found else None


# Summaries -------------------------------------------------------------------------------------
def census(rows: Iterable[tuple[str, str, Mapping | None, str]]) -> tuple[Counter, Counter]:
    """From (key, kind, fields, list default zone) rows: (recipients per zone, recipients per
    :data:`PHONE`/:data:`COLUMN`/:data:`DEFAULT`/:data:`GUESS`/:data:`NONE`). Zone "" counts the
    recipients nothing places."""
    zones, how = Counter(), Counter()
    for key, kind, fields, default in rows:
        zone, found = zone_for(key, kind, fields, default)
        zones[zone] += 1
        how[found] += 1
    return zones, how
