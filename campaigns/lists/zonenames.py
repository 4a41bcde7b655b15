"""IANA time zone names: which this machine knows, and which column of a recipient file holds each
recipient's own zone. Below the lists, the engine's send windows and staff's own zone
(:mod:`campaigns.people.timezones`), so each of them can ask."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    """The IANA zones this machine knows, read once per process: ``zoneinfo.available_timezones()``
    walks the zone files on every call (tens of milliseconds), and a launch asks per recipient."""
    return frozenset(zoneinfo.available_timezones())


def valid_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone this machine knows."""
    return isinstance(name, str) and bool(name) and name in known_zones()


# Column names (lower-cased, letters and digits only: "Time Zone", "time_zone", "TZ") read as a
# recipient's own time zone.
ZONE_COLUMNS = ("timezone", "tz")


def is_zone_column(name: object) -> bool:
    """Whether a recipient file's column ``name`` holds each recipient's own time zone."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower()) in ZONE_COLUMNS


# Zones offered by name everywhere staff pick one: the tz database's zone.tab, one name per place
# people live (Africa/Asmara, Europe/Kyiv), not its old names kept as links for compatibility
# ("Africa/Asmera", "Europe/Kiev", "US/Eastern", "GB": about 600 names in all, many places twice).
# A link stays valid where a name is typed or was stored; UTC is offered too.
ALWAYS_OFFERED = ("UTC",)


@lru_cache(maxsize=1)
def canonical_zones() -> tuple[str, ...]:
    """The zones of the tz database's ``zone.tab`` (from the ``tzdata`` package) this machine
    knows, plus :data:`ALWAYS_OFFERED`, sorted. Every known zone when ``zone.tab`` cannot be read."""
    known = zoneinfo.available_timezones()
    try:
        table = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, OSError):
        return tuple(sorted(known))
    places = {line.split("\t")[2] for line in table.splitlines() if line and not line.startswith("#")}
    return tuple(sorted((places | set(ALWAYS_OFFERED)) & known))


def zone_choices() -> list[tuple[str, str]]:
    """(name, name) of each :func:`canonical_zones` zone, for a select or a datalist."""
    return [(name, name) for name in canonical_zones()]
