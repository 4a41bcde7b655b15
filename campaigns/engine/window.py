"""Quiet hours: a campaign's send window in each recipient's own time zone.

A recipient's zone comes, first, from a valid ``timezone`` column of its list (the person's own
word: a German mobile whose column says America/New_York belongs to someone in New York); else
from its phone number (``phonenumbers``' time zones: a number whose country or prefix has one
zone, or zones that keep one clock all year, gives it); else from the list's default zone. A phone
number of a country with several clocks and none of those gets the country's main zone, flagged as
guessed (and the launch check refuses it: a guessed clock could wake someone at 3 am). Usernames
and user ids tell nothing: column or default. A column value that names no zone ("UTC+3",
"Mars/Olympus") is not used; the launch check refuses it (:func:`column_value` finds it).

Zone names are the tz database's canonical ones: ``phonenumbers`` answers old link names
(Asia/Calcutta) and every zone of a numbering plan (Europe/Guernsey for a UK mobile); the links of
the tz database (``tzdata.zi``'s links and ``zone1970.tab``, read where ``zoneinfo`` reads its
zones) make them Asia/Kolkata and Europe/London, and among zones that keep one clock the
country's first in ``zone1970.tab`` is taken.

Times are wall-clock times in the recipient's zone (``zoneinfo``, so daylight saving time is
followed): a 09:00–20:00 window opens at 09:00 local time on the day the clocks change too. An end
before the start spans midnight (22:00–06:00); an equal start and end is no window.
"""

from __future__ import annotations

import os
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources

import phonenumbers
from phonenumbers import timezone as phone_timezones
from phonenumbers.tzdata import TIMEZONE_DATA

from ..lists.zonenames import ZONE_COLUMNS, is_zone_column, valid_zone
from . import numberzones

__all__ = ["ZONE_COLUMNS"]  # re-exported: the column names that hold a zone
UNKNOWN_ZONE = "Etc/Unknown"  # what phonenumbers answers for a number it cannot place

# How a recipient's zone was found, for the launch summary.
PHONE, COLUMN, DEFAULT, GUESS, NONE = "phone", "column", "default", "guess", "none"


def _tz_database_file(name: str) -> str:
    """The text of the tz database file ``name`` ("tzdata.zi", "zone.tab") where ``zoneinfo``
    reads its zones: the first directory of ``zoneinfo.TZPATH`` holding it, else the ``tzdata``
    package; "" when neither has it (names then stay as ``phonenumbers`` gives them)."""
    for directory in zoneinfo.TZPATH:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                return handle.read()
    try:
        return resources.files("tzdata.zoneinfo").joinpath(name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, OSError):
        return ""


@lru_cache(maxsize=1)
def _links() -> dict[str, str]:
    """Link name → the zone it names, from the tz database's ``L TARGET LINK`` lines."""
    links = {}
    for line in _tz_database_file("tzdata.zi").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "L":
            links[parts[2]] = parts[1]
    return links


@lru_cache(maxsize=1)
def _zone_countries() -> dict[str, str]:
    """Zone → its ISO 3166 country code, from ``zone.tab`` (one zone per country line)."""
    return {z: c for c, zones in _tab("zone.tab").items() for z in zones}


@lru_cache(maxsize=1)
def _country_zones() -> dict[str, tuple[str, ...]]:
    """ISO 3166 country code → its zones in ``zone1970.tab`` order (the main zone first). That
    file keeps one zone for the zones that agree since 1970 ("GB,GG,IM,JE … Europe/London")."""
    return _tab("zone1970.tab")


def _tab(name: str) -> dict[str, tuple[str, ...]]:
    """A ``zone.tab``-shaped file: country code → zones in file order."""
    found: dict[str, list[str]] = {}
    for line in _tz_database_file(name).splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and not line.startswith("#"):
            for country in parts[0].split(","):
                found.setdefault(country, []).append(parts[2])
    return {country: tuple(zones) for country, zones in found.items()}


def canonical_zone(name: str) -> str:
    """The canonical name of zone ``name``: a link's target ("Asia/Calcutta" → "Asia/Kolkata"),
    and a zone that agrees since 1970 with its country's one zone in ``zone1970.tab`` that zone
    ("Europe/Guernsey" → "Europe/London": some systems build Guernsey as a zone of its own).
    ``name`` itself when it is canonical, unknown, or the other is a zone this machine lacks."""
    target, links = name, _links()
    for _ in range(5):  # a link may name a link
        if target not in links:
            break
        target = links[target]
    country = _zone_countries().get(target, "")
    kept = _country_zones().get(country, ())
    if kept and target not in kept and len(kept) == 1:
        target = kept[0]
    return target if target != name and valid_zone(target) else name


def main_zone(zones: Iterable[str], country: str | None) -> str:
    """Of ``zones`` (non-empty), the one ``country`` lists first in ``zone1970.tab`` (Buenos Aires
    for Argentina's), else the first."""
    zones = tuple(zones)
    return next((z for z in _country_zones().get(country or "", ()) if z in zones), zones[0])


@lru_cache(maxsize=100_000)
def _phone_place(key: str) -> tuple[tuple[str, ...], str]:
    """(canonical zones, country) ``phonenumbers`` gives an E.164 ``key``; ((), "") unplaced.
    :func:`.numberzones.place` answers most keys without ``phonenumbers.parse``."""
    found = numberzones.place(key)
    if found is None:
        try:
            number = phonenumbers.parse(key, None)
        except phonenumbers.NumberParseException:
            return (), ""
        found = phone_timezones.time_zones_for_number(number), phonenumbers.region_code_for_number(number)
    zones, region = found
    return _canonical_zones(zones), region or ""


def phone_zones(key: str) -> tuple[str, ...]:
    """The IANA zones (canonical names, each once) ``phonenumbers`` gives an E.164 ``key``
    ("+4930…" → ("Europe/Berlin",)); () when it cannot place the number."""
    return _phone_place(key)[0]


@lru_cache(maxsize=100_000)
def phone_zone(key: str) -> tuple[str, bool]:
    """(zone, sure) for a phone number: its one zone or, when its zones keep one clock, the
    country's main one (sure); the main zone of several clocks (a guess); ("", False) unplaced."""
    zones, country = _phone_place(key)
    if not zones:
        return "", False
    if len(zones) == 1:
        return zones[0], True
    return main_zone(zones, country), _same_clock_cached(zones)


def column_value(fields: Mapping | None) -> str:
    """The recipient's ``timezone`` (or ``time_zone``, ``TZ``) column, stripped, valid or not:
    "" when there is none or it is empty."""
    for name, value in (fields or {}).items():
        if is_zone_column(name):
            value = str(value or "").strip()
            if value:
                return value
    return ""


def column_zone(fields: Mapping | None) -> str:
    """A valid zone from the recipient's ``timezone`` (or ``time_zone``, ``TZ``) column, else ""."""
    for name, value in (fields or {}).items():
        if is_zone_column(name):
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
    """(zone, how) for one recipient, in this order: a valid ``timezone`` column
    (:data:`COLUMN`), the phone number's one zone or one clock (:data:`PHONE`), the list's valid
    ``default_zone`` (:data:`DEFAULT`), the main zone of a several-clock country's phone
    (:data:`GUESS`), else :data:`NONE` (zone "": nothing tells it)."""
    if own := column_zone(fields):
        return own, COLUMN
    zone, sure = phone_zone(key) if kind == "phone" else ("", False)
    if sure:
        return zone, PHONE
    if valid_zone(default_zone):
        return default_zone, DEFAULT
    if zone:
        return zone, GUESS
    return "", NONE


@lru_cache(maxsize=1_000)
def _same_clock_cached(zones: tuple[str, ...]) -> bool:
    return same_clock(zones)


# Phone numbers in bulk ---------------------------------------------------------------------------
def _canonical_zones(zones: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(canonical_zone(z) for z in zones if z != UNKNOWN_ZONE))


@lru_cache(maxsize=1)
def sure_calling_codes() -> dict[str, str]:
    """Country calling code ("49") → the zone :func:`phone_zone` gives surely every valid number
    of it, for the codes where that zone does not depend on the rest of the number.

    ``phonenumbers.timezone.time_zones_for_number`` answers a valid number from its timezone data
    (``TIMEZONE_DATA``): the longest prefix of the number that it lists (fixed lines, and mobiles
    of some countries), else the calling code's own entry (the other types). A code qualifies when
    it has an entry of its own (so no number falls back to a shorter prefix or to no zone) and
    every entry under it gives the same canonical zones: one, or (a code of one region) zones
    keeping one clock, whose main zone :func:`main_zone` takes for that region. +49, +33, +44 and
    +54 qualify; +1, +7, +55, +61 do not. An invalid number gets no zone from ``phonenumbers``:
    the import keeps only valid ones (:mod:`campaigns.lists.phones`)."""
    codes = {str(code): regions for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()}
    answers: dict[str, set[tuple[str, ...]]] = {}
    for prefix, zones in TIMEZONE_DATA.items():
        code = next((prefix[:n] for n in (1, 2, 3) if prefix[:n] in codes), None)
        if code is not None:
            answers.setdefault(code, set()).add(_canonical_zones(zones))
    found = {}
    for code, regions in codes.items():
        if code not in TIMEZONE_DATA or len(answers[code]) != 1:
            continue
        (zones,) = answers[code]
        if len(zones) == 1:
            found[code] = zones[0]
        elif len(zones) > 1 and len(regions) == 1 and _same_clock_cached(zones):
            found[code] = main_zone(zones, regions[0])
    return found


def sure_prefix_zone(prefix: str) -> str:
    """The zone every valid phone number whose first three digits (after "+") are ``prefix``
    gets surely (:func:`sure_calling_codes`: calling codes are a prefix code of one to three
    digits), else "". Shorter ``prefix``es (numbers that short are not valid) get ""."""
    if len(prefix) != 3 or not prefix.isdigit():
        return ""
    codes = sure_calling_codes()
    return next((codes[prefix[:n]] for n in (1, 2, 3) if prefix[:n] in codes), "")


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
def census(rows: Iterable[tuple[str, str, Mapping | None, str]]) -> Counter:
    """From (key, kind, fields, list default zone) rows: (zone, how) → recipients, how being
    :data:`PHONE`/:data:`COLUMN`/:data:`DEFAULT`/:data:`GUESS`/:data:`NONE`. Zone "" counts the
    recipients nothing places."""
    return Counter(zone_for(key, kind, fields, default) for key, kind, fields, default in rows)
