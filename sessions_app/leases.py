"""Session leases: one process per Telegram auth key across the cluster.

A second connection with the same auth key gets the key revoked (``AUTH_KEY_DUPLICATED``), so
every process that connects a session — the engine's send slices, the opt-out listener, health
checks, contact clean-up — first takes the session's lease: ``lease_owner`` plus
``lease_expires_at``, taken and renewed with guarded UPDATEs (on PostgreSQL a concurrent taker
re-checks the WHERE after the first commit and gets 0 rows). A holder renews every third of
``TGC_LEASE_SECONDS``; a dead holder's lease simply expires.

Every expiry is written and compared on the database's clock (``now()`` in the SQL), never a
worker's: a worker whose clock runs minutes fast neither takes a live lease nor writes an expiry
minutes ahead (issue 18). A holder fences itself by its own monotonic clock: it sends only until
:func:`safe_until` (its last successful renewal + the lease − :func:`fence_margin`), and a taker
waits :func:`take_grace` beyond the expiry, so the two never overlap even when the holder froze.

Every holder goes through :func:`holding` (take, work, release) and, while it works, through
:func:`heartbeat` (renew, and learn at once when a lease was taken over).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.db.models import DateTimeField, ExpressionWrapper, Q
from django.db.models.functions import Now

from tgcampaigns import conf, counters

from .models import SessionStatus, TelegramSession

log = logging.getLogger(__name__)


def lease_seconds() -> float:
    """How long a lease lasts without renewal (seconds; ``TGC_LEASE_SECONDS``)."""
    return conf.lease_seconds()


def renew_interval() -> float:
    """Seconds between two renewals: a third of the lease, at most 2 s."""
    return min(lease_seconds() / 3, 2.0)


def fence_margin() -> float:
    """Seconds before its lease's expiry at which a holder stops starting requests: a fifth of
    the lease, at most 5 s (time for the request on the wire to come back)."""
    return min(lease_seconds() / 5, 5.0)


def take_grace() -> float:
    """Seconds past a lease's expiry before another process may take it: a fifth of the lease,
    at most 5 s (covers the holder's last request and the drift of its monotonic clock)."""
    return min(lease_seconds() / 5, 5.0)


def safe_until(renewal_started: float) -> float:
    """The monotonic time (``time.monotonic()``) until which a holder may start requests, given
    the monotonic time at which its last successful renewal (or take) *started*: the database set
    the expiry no earlier than that, so this is always before the expiry by the margin."""
    return renewal_started + lease_seconds() - fence_margin()


def _db_now_plus(seconds: float) -> ExpressionWrapper:
    """``now() ± seconds`` on the database's clock, for UPDATEs and filters."""
    return ExpressionWrapper(Now() + timedelta(seconds=seconds), output_field=DateTimeField())


def expired_q() -> Q:
    """Sessions whose lease has expired by the database's clock, grace included."""
    return Q(lease_expires_at__lt=_db_now_plus(-take_grace()))


def owner_name(purpose: str) -> str:
    """A lease owner unique to this process and call: ``purpose:host:pid:random``."""
    return f"{purpose}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def take(session: TelegramSession, owner: str, *, active_only: bool = False) -> bool:
    """Take ``session``'s lease for ``owner`` if it is free or expired; True when taken.

    ``active_only``: only an ``active`` session (the engine); health checks may look at any.
    Taking a lease resets ``current_load``: nobody else can have requests in flight on it.
    An expired lease is free only :func:`take_grace` seconds after its expiry (database clock).
    """
    qs = TelegramSession.objects.filter(pk=session.pk)
    if active_only:
        qs = qs.filter(status=SessionStatus.ACTIVE)
    return _take_in(qs, owner) == 1


def _take_in(qs, owner: str) -> int:
    """Take the leases of ``qs``'s sessions that are free, then of those expired; returns how many
    were taken. Free first, then expired: a lease taken from a holder that is gone counts as a
    take-over."""
    taking = {"lease_owner": owner, "lease_expires_at": _db_now_plus(lease_seconds()), "current_load": 0}
    free = Q(lease_owner="") | Q(lease_owner=owner) | Q(lease_expires_at=None)
    taken = qs.filter(free).update(**taking)
    taken_over = qs.filter(expired_q()).update(**taking)
    if taken_over:
        counters.LEASE_TAKEOVERS.inc(taken_over)
    return taken + taken_over


def take_many(
    sessions: Sequence[TelegramSession], owner: str, *, active_only: bool = False, limit: int | None = None
) -> list[TelegramSession]:
    """:func:`take` for many sessions, in their order, at most ``limit``: one guarded UPDATE (and
    one read of what it took) per round instead of one per session, so a driver of 500 sessions
    leases them in two statements. Returns the sessions taken."""
    taken: list[TelegramSession] = []
    rest = list(sessions)
    while rest and (limit is None or len(taken) < limit):
        want = len(rest) if limit is None else limit - len(taken)
        chunk, rest = rest[:want], rest[want:]
        ids = [s.pk for s in chunk]
        qs = TelegramSession.objects.filter(pk__in=ids)
        if active_only:
            qs = qs.filter(status=SessionStatus.ACTIVE)
        if _take_in(qs, owner):
            got = set(
                TelegramSession.objects.filter(pk__in=ids, lease_owner=owner).values_list("id", flat=True)
            )
            taken += [s for s in chunk if s.pk in got]
    return taken


def renew(session_ids: Iterable[int], owner: str) -> set[int]:
    """Extend ``owner``'s leases to the database's now + the lease; returns the ids it still holds
    (a missing one was taken over). Raises the database's errors (the caller stops sending)."""
    ids = list(session_ids)
    until = _db_now_plus(lease_seconds())
    TelegramSession.objects.filter(pk__in=ids, lease_owner=owner).update(lease_expires_at=until)
    return set(TelegramSession.objects.filter(pk__in=ids, lease_owner=owner).values_list("id", flat=True))


def release(session_ids: Iterable[int], owner: str) -> None:
    """Give up ``owner``'s leases (others' are left alone)."""
    TelegramSession.objects.filter(pk__in=list(session_ids), lease_owner=owner).release_leases()


def live_ids(*, purpose: str | None = None) -> set[int]:
    """Ids of sessions whose lease is held and not expired by the database's clock, grace
    included (by an owner of ``purpose``, when given: see :func:`owner_name`)."""
    held = TelegramSession.objects.exclude(lease_owner="").exclude(lease_expires_at=None).exclude(expired_q())
    if purpose:
        held = held.filter(lease_owner__startswith=f"{purpose}:")
    return set(held.values_list("id", flat=True))


@contextmanager
def holding(
    sessions: Sequence[TelegramSession],
    owner: str,
    *,
    active_only: bool = False,
    limit: int | None = None,
) -> Iterator[list[TelegramSession]]:
    """Take the leases of ``sessions`` that are free (at most ``limit``), yield the sessions taken
    (possibly none), and release them on the way out, whatever happened inside.

    ``active_only``: only ``active`` sessions (the engine, the opt-out listener).
    """
    taken: list[TelegramSession] = []
    try:
        taken = take_many(sessions, owner, active_only=active_only, limit=limit)
        yield taken
    finally:
        if taken:
            release([s.pk for s in taken], owner)


async def heartbeat(
    session_ids: Iterable[int],
    owner: str,
    on_lost: Callable[[set[int]], None],
    *,
    also: Callable[[], Awaitable[None]] | None = None,
    on_renewed: Callable[[float], None] | None = None,
) -> None:
    """Renew ``owner``'s leases every :func:`renew_interval` until cancelled. Ids whose lease
    another process took over are passed to ``on_lost`` once (stop using them at once); ``also``
    runs after each renewal (the engine renews its row claims and publishes its load there);
    ``on_renewed`` gets the ``time.monotonic()`` at which a successful renewal started (for
    :func:`safe_until`).

    A renewal that fails (the database is down or restarting: any exception, ``also``'s included)
    is logged at ERROR and ends the heartbeat with every id passed to ``on_lost``: nobody can
    tell how long the leases still hold, so their users stop at once (issue 18, item 7)."""
    ids = list(session_ids)
    lost: set[int] = set()
    renew_async = sync_to_async(renew)
    while True:
        await asyncio.sleep(renew_interval())
        started = time.monotonic()
        try:
            held = await renew_async(ids, owner)
            if on_renewed is not None and held - lost:
                on_renewed(started)
            gone = set(ids) - held - lost
            if gone:
                lost |= gone
                on_lost(gone)
            if also is not None:
                await also()
        except Exception:
            log.error(
                "lease renewal by %s failed: sessions %s stop sending now (their leases expire on "
                "their own; another worker takes them after)",
                owner,
                sorted(set(ids) - lost),
                exc_info=True,
            )
            if set(ids) - lost:
                on_lost(set(ids) - lost)
            return


def publish_load(loads: dict[int, int], owner: str) -> None:
    """Store each session's requests in flight (session id → count) while ``owner`` holds it."""
    by_load: dict[int, list[int]] = {}
    for session_id, n in loads.items():
        by_load.setdefault(n, []).append(session_id)
    for n, session_ids in by_load.items():  # one UPDATE per distinct load (0 … TGC_MAX_IN_FLIGHT)
        TelegramSession.objects.filter(pk__in=session_ids, lease_owner=owner).update(current_load=n)
