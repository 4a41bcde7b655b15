"""The one listener of a session between campaigns: :func:`listen_round` connects the free
Telethon sessions for a bounded window and feeds their private messages to
:func:`campaigns.engine.engagement.record_incoming` (the opt-out through
:func:`campaigns.people.optout.handle_incoming`, and the reply against the result it answers) and
their read marks to :func:`campaigns.engine.engagement.record_read`.

Leases: a session is connected only after taking its lease (one process per auth key across the
cluster: two connections with one key get it revoked, AUTH_KEY_DUPLICATED). Sessions of a
running campaign are left to the engine; what they receive meanwhile is caught up later
(:func:`campaigns.engine.engagement.catch_up`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from asgiref.sync import async_to_sync

from sessions_app import leases
from sessions_app.models import Backend, TelegramSession
from sessions_app.transport import TransportError

from .engagement import Recorder, sending_sessions

log = logging.getLogger(__name__)


def listenable_sessions() -> list[TelegramSession]:
    """Usable Telethon sessions (active, of the configured server) that no running campaign sends with now
    (:func:`campaigns.engine.engagement.sending_sessions`: one asleep for hours leaves them free)."""
    busy = sending_sessions().values("pk")
    return list(TelegramSession.objects.usable().filter(backend=Backend.TELETHON).exclude(pk__in=busy))


def listen_round(owner: str, *, window: float, should_stop: Callable[[], bool] = lambda: False) -> list[int]:
    """Lease the free sessions, listen on them for ``window`` seconds, release; returns their ids.

    A session whose lease another process holds is not connected. Leases are renewed while
    listening; a session whose lease is lost stops listening at once.
    """

    with leases.holding(listenable_sessions(), owner, active_only=True) as leased:
        if leased:
            async_to_sync(_listen)(leased, owner, window, should_stop)
    return [s.pk for s in leased]


async def _listen(
    sessions: list[TelegramSession], owner: str, window: float, should_stop: Callable[[], bool]
) -> None:
    stops = {s.pk: asyncio.Event() for s in sessions}

    async def one(session: TelegramSession) -> None:
        transport = session.transport()
        recorder = Recorder(session, transport)
        try:
            await transport.connect()
            await transport.watch(recorder.on_read, recorder.on_incoming, stop=stops[session.pk])
        except TransportError as exc:
            log.warning("opt-out listener: session %s: %s", session.name, exc.code)
        finally:
            await transport.disconnect()

    def lost(ids: set[int]) -> None:
        for pk in ids:
            stops[pk].set()  # another process took it over: disconnect now

    async def until_done() -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + window
        beat = asyncio.create_task(leases.heartbeat(list(stops), owner, lost))
        try:
            while loop.time() < deadline and not should_stop():
                await asyncio.sleep(min(0.25, max(0.0, deadline - loop.time())))
        finally:
            beat.cancel()
            for event in stops.values():
                event.set()

    await asyncio.gather(until_done(), *(one(s) for s in sessions))
