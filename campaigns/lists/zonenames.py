"""IANA time zone names: which this machine knows, and which column of a recipient file holds each
recipient's own zone. Below the lists, the engine's send windows and staff's own zone
(:mod:`campaigns.people.timezones`), so each of them can ask."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache


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


def zone_choices() -> list[tuple[str, str]]:
    """(name, name) of every IANA zone, sorted, for a select."""
    return [(name, name) for name in sorted(known_zones())]
