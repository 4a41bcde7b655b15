"""A full disk under the database (issue 18, item 10): the command says so in one line, and a
campaign stops sending with a status reason saying so, both clearing by themselves once space is
back (the campaign stays ``running``: the next slice, woken by the reaper, carries on).

SQLite answers ``database or disk is full`` (SQLITE_FULL); PostgreSQL ``could not extend file …
No space left on device`` (``DiskFull``, SQLSTATE 53100).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.core.management.base import CommandError
from django.db import DatabaseError, InterfaceError, OperationalError

from sessions_app import clock

from ..models import Campaign

log = logging.getLogger(__name__)

DISK_FULL_REASON = (
    "Sending stopped: the database's disk is full. It resumes by itself once space is freed; "
    "nothing was lost."
)
# How soon the reaper wakes a campaign stopped by a full disk to try again (seconds).
DISK_FULL_RETRY_SECONDS = 60.0


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is the database's disk being full."""
    seen = 0
    while exc is not None and seen < 10:
        text = str(exc).lower()
        if "disk is full" in text or "no space left" in text:
            return True
        if getattr(exc, "sqlstate", None) == "53100" or type(exc).__name__ == "DiskFull":
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def stop_for_full_disk(campaign_id: int) -> None:
    """Say why the campaign stopped sending and have the reaper wake it again later; when even
    that write fails (the disk is that full), log it at ERROR."""
    log.error("campaign %s: the database's disk is full; sending stopped until space is freed", campaign_id)
    try:
        Campaign.objects.filter(pk=campaign_id).update(
            status_reason=DISK_FULL_REASON,
            wake_at=clock.now() + timedelta(seconds=DISK_FULL_RETRY_SECONDS),
        )
    except DatabaseError:
        log.error("campaign %s: could not record the full disk either", campaign_id, exc_info=True)


def clear_full_disk(campaign_id: int) -> None:
    """Space is back (a slice wrote its rows): drop the full-disk reason, if it was set."""
    Campaign.objects.filter(pk=campaign_id, status_reason=DISK_FULL_REASON).update(status_reason="")


@contextmanager
def database_errors_as_command_errors() -> Iterator[None]:
    """For management commands: a full disk or an unreachable database is a one-line
    :class:`CommandError` naming the fix, not a traceback."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        if is_disk_full(exc):
            raise CommandError(
                "The database's disk is full: free some space, then run the command again "
                "(nothing was written)."
            ) from exc
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CommandError(
            f"The database is unavailable ({first}): start it, then run the command again."
        ) from exc
