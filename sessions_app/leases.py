"""Session leases: one process per Telegram auth key across the cluster.

A second connection with the same auth key gets the key revoked (``AUTH_KEY_DUPLICATED``), so
every process that connects a session — the engine's send slices, the opt-out listener, health
checks, contact clean-up — first takes the session's lease: ``lease_owner`` plus
``lease_expires_at``, taken and renewed with guarded UPDATEs (on PostgreSQL a concurrent taker
re-checks the WHERE after the first commit and gets 0 rows). A holder renews every third of
``TGC_LEASE_SECONDS``; a dead holder's lease simply expires.

Every holder goes through :func:`holding` (take, work, release) and, while it works, through
:func:`heartbeat` (renew, and learn at once when a lease was taken over).
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.db.models import Q
from django.utils import timezone

from tgcampaigns import conf

from .models import SessionStatus, TelegramSession


def lease_seconds() -> float:
    """How long a lease lasts without renewal (seconds; ``TGC_LEASE_SECONDS``)."""
    return conf.lease_seconds()


def renew_interval() -> float:
    """Seconds between two renewals: a third of the lease, at most 2 s."""
    return min(lease_seconds() / 3, 2.0)


def owner_name(purpose: str) -> str:
    """A lease owner unique to this process and call: ``purpose:host:pid:random``."""
    return f"{purpose}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _free(now: datetime, owner: str) -> Q:
    return Q(lease_owner="") | Q(lease_owner=owner) | Q(lease_expires_at=None) | Q(lease_expires_at__lt=now)


def take(session: TelegramSession, owner: str, *, active_only: bool = False) -> bool:
    """Take ``session``'s lease for ``owner`` if it is free or expired; True when taken.

    ``active_only``: only an ``active`` session (the engine); health checks may look at any.
    Taking a lease resets ``current_load``: nobody else can have requests in flight on it.
    """
    now = timezone.now()
    qs = TelegramSession.objects.filter(_free(now, owner), pk=session.pk)
    if active_only:
        qs = qs.filter(status=SessionStatus.ACTIVE)
    return (
        qs.update(
            lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds()), current_load=0
        )
        == 1
    )


def renew(session_ids: Iterable[int], owner: str) -> set[int]:
    """Extend ``owner``'s leases; returns the ids it still holds (a missing one was taken over)."""
    ids = list(session_ids)
    until = timezone.now() + timedelta(seconds=lease_seconds())
    TelegramSession.objects.filter(pk__in=ids, lease_owner=owner).update(lease_expires_at=until)
    return set(TelegramSession.objects.filter(pk__in=ids, lease_owner=owner).values_list("id", flat=True))


def release(session_ids: Iterable[int], owner: str) -> None:
    """Give up ``owner``'s leases (others' are left alone)."""
    TelegramSession.objects.filter(pk__in=list(session_ids), lease_owner=owner).release_leases()


def live_ids(now: datetime | None = None, *, purpose: str | None = None) -> set[int]:
    """Ids of sessions whose lease is held and not expired (by an owner of ``purpose``, when
    given: see :func:`owner_name`)."""
    now = now or timezone.now()
    held = TelegramSession.objects.exclude(lease_owner="").filter(lease_expires_at__gt=now)
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
        for session in sessions:
            if limit is not None and len(taken) >= limit:
                break
            if take(session, owner, active_only=active_only):
                taken.append(session)
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
) -> None:
    """Renew ``owner``'s leases every :func:`renew_interval` until cancelled. Ids whose lease
    another process took over are passed to ``on_lost`` once (stop using them at once); ``also``
    runs after each renewal (the engine renews its row claims and publishes its load there)."""
    ids = list(session_ids)
    lost: set[int] = set()
    renew_async = sync_to_async(renew)
    while True:
        await asyncio.sleep(renew_interval())
        gone = set(ids) - await renew_async(ids, owner) - lost
        if gone:
            lost |= gone
            on_lost(gone)
        if also is not None:
            await also()


def publish_load(loads: dict[int, int], owner: str) -> None:
    """Store each session's requests in flight (session id → count) while ``owner`` holds it."""
    for session_id, n in loads.items():
        TelegramSession.objects.filter(pk=session_id, lease_owner=owner).update(current_load=n)
