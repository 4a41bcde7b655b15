"""The database's clock: the one clock every worker agrees on.

Leases and row claims are compared in SQL with the database's ``now()`` (:class:`Now`), so a
worker whose own clock runs fast or slow can neither take a live lease nor write an expiry minutes
ahead (issue 18, item 9). Times the engine writes from Python (attempt times, ``wake_at``, retry
times, FloodWait ends) come from :func:`now`: this process's clock corrected by its measured
offset from the database's, re-measured every :data:`RESYNC_SECONDS` (and at each slice's start
through :func:`sync`). A worker more than :data:`SKEW_WARNING_SECONDS` off the database is logged
at WARNING when it measures it (its first slice or reaper run after it starts).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models.functions import Now
from django.utils import timezone

__all__ = ["Now", "database_now", "now", "offset_seconds", "sync"]

log = logging.getLogger(__name__)

SKEW_WARNING_SECONDS = 2.0
# Offsets below this are measurement noise (the round trip, SQLite's millisecond text): taken as 0,
# so hosts kept in sync by NTP write exactly their own clock's times.
SKEW_IGNORED_SECONDS = 0.1
RESYNC_SECONDS = 60.0

_offset: float | None = None  # database clock − this process's clock (seconds)
_measured_at = float("-inf")  # time.monotonic() of the last measurement


def database_now() -> datetime:
    """The database server's current time (aware, UTC). One query; raises the database's
    OperationalError when it is unreachable."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT clock_timestamp()")  # not the transaction's start
        else:
            cursor.execute("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")
        value = cursor.fetchone()[0]
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def sync() -> float:
    """Measure this process's offset from the database's clock (seconds, positive when the
    database is ahead), log a WARNING when it exceeds :data:`SKEW_WARNING_SECONDS`, and keep it
    for :func:`now`. Returns the offset."""
    global _offset, _measured_at
    before = timezone.now()
    db = database_now()
    after = timezone.now()
    measured = (db - (before + (after - before) / 2)).total_seconds()
    if abs(measured) > SKEW_WARNING_SECONDS and (
        _offset is None or abs(measured - _offset) > SKEW_WARNING_SECONDS
    ):
        log.warning(
            "this worker's clock is %.1f s %s the database's: leases and claims follow the "
            "database's clock; fix the worker's time sync (NTP)",
            abs(measured),
            "behind" if measured > 0 else "ahead of",
        )
    if abs(measured) < SKEW_IGNORED_SECONDS:
        measured = 0.0
    _offset, _measured_at = measured, time.monotonic()
    return measured


def offset_seconds() -> float:
    """The last measured offset (database − worker, seconds), measuring when none is recent.
    Never queries from inside an event loop (the ORM refuses there): an async caller gets the
    last offset (0 before any), and the slice's heartbeat re-measures from its thread."""
    if _offset is None or time.monotonic() - _measured_at > RESYNC_SECONDS:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return sync()
    return _offset or 0.0


def now() -> datetime:
    """The database's idea of now, without a query (this process's clock plus its offset)."""
    return timezone.now() + timedelta(seconds=offset_seconds())
