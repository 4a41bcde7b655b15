"""Opt-out replies: a private "STOP" to any sending account becomes a :class:`Suppression`.

:func:`opt_out_keys` decides (pure); :func:`handle_incoming` records; :func:`listen_round`
connects the Telethon sessions for a bounded window: the one listener of a session, it feeds
their private messages to :func:`campaigns.engine.after.record_incoming` (the opt-out through
:func:`handle_incoming`, and the reply against the result it answers) and their read marks to
:func:`campaigns.engine.after.record_read`. Suppressions are honoured at launch and again right
before each send.

Leases: a session is connected only after taking its lease (one process per auth key across the
cluster: two connections with one key get it revoked, AUTH_KEY_DUPLICATED). Sessions of a
running campaign are left to the engine; what they receive meanwhile is caught up later from
their unread private dialogs (the last message of each).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from asgiref.sync import async_to_sync
from django.conf import settings

from sessions_app import leases
from sessions_app.models import Backend, SessionStatus, TelegramSession
from sessions_app.transport import TransportError

from ..models import CampaignStatus, Suppression

log = logging.getLogger(__name__)

# Punctuation people add to a one-word reply ("Stop!", "stop.") and the slash of a bot command.
_STRIP = " \t\r\n.!?,;:'\"«»/"


def opt_out_keywords() -> set[str]:
    """``settings.TGC_OPT_OUT_KEYWORDS`` case-folded (read at call time)."""
    return {k.strip().casefold() for k in settings.TGC_OPT_OUT_KEYWORDS if k.strip()}


def opt_out_keys(sender_id: int | None, sender_username: str | None, text: str) -> list[str]:
    """The recipient keys a private reply opts out, or [] when it is not an opt-out keyword.

    A reply opts out when, trimmed of whitespace and surrounding punctuation and case-folded, it
    equals a keyword (``STOP``, ``UNSUBSCRIBE``, ``СТОП``, ``/stop``). Keys are normalised like
    recipient keys: ``@username`` lower-cased (when the sender has one) and the decimal user id.
    """
    if (text or "").strip(_STRIP).casefold() not in opt_out_keywords():
        return []
    keys = []
    if sender_username:
        keys.append("@" + sender_username.lstrip("@").lower())
    if sender_id:
        keys.append(str(sender_id))
    return keys


def handle_incoming(sender_id: int | None, sender_username: str | None, text: str) -> list[str]:
    """Record an incoming private reply's opt-out as suppressions; returns the keys suppressed.

    Idempotent: a key already suppressed (by any source) is left as it is.
    """
    keys = opt_out_keys(sender_id, sender_username, text)
    added, _ = Suppression.objects.add(keys, source=Suppression.Source.STOP_REPLY, note="Opt-out reply")
    # Personal data stays out of logs above DEBUG (DESIGN.md "Personal data"): the count at INFO,
    # the identities only at DEBUG.
    if added:
        log.info("opt-out recorded (%d new suppression(s))", len(added))
        log.debug("opt-out recorded for %s", ", ".join(added))
    return keys


def listenable_sessions() -> list[TelegramSession]:
    """Active Telethon sessions that no running campaign is using."""
    busy = TelegramSession.objects.filter(campaigns__status=CampaignStatus.RUNNING).values("pk")
    return list(
        TelegramSession.objects.filter(backend=Backend.TELETHON, status=SessionStatus.ACTIVE).exclude(
            pk__in=busy
        )
    )


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
    from ..engine.after import Recorder

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
