"""Sessions that cannot reach Telegram (issue 18, item 1): a connect, auth-key or transport
failure that is no answer from Telegram is a state of the session, not silence.

The session records the kind and a short text (``last_error_code``/``last_error_text``), since when
(``unreachable_since``) and when to try again (``next_connect_at``, backing off by
:func:`campaigns.engine.settling.retry_delay`: 2 s doubling to 300 s, jittered). Until then no slice
leases it or spends connection attempts on it, so an unreachable session beside a healthy one does
not slow the campaign; its pool rows go to the campaign's other sessions. A request whose
connection dropped after it was written may have arrived: it is retried in doubt, with the same
``random_id`` from the same session (Telegram answers ``RANDOM_ID_DUPLICATE`` if it had).

Builtin network errors a transport lets through (``ConnectionError``, ``OSError``, timeouts) are
classified here, at the engine's boundary, as :attr:`ErrorKind.UNREACHABLE`.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta

from django.db.models import F
from django.db.models.functions import Coalesce

from sessions_app import clock
from sessions_app.models import TelegramSession
from sessions_app.transport import ErrorKind, TransportError

from .settling import retry_delay

# What a transport may let through when the network, not Telegram, failed.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (OSError, asyncio.TimeoutError, TimeoutError, EOFError)
TEXT_LIMIT = 200


def short_text(exc: BaseException) -> str:
    """A short, printable reason for staff: the error's class and first line, never raw bytes."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    first = re.sub(r"[^\x20-\x7e\u00a0-\uffff]", "?", first)
    if "\\x" in first or "b'" in first:  # an answer's bytes in the message: name the class only
        first = ""
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return text[:TEXT_LIMIT]


def as_unreachable(exc: BaseException, *, written: bool = False) -> TransportError:
    """``exc`` (a builtin network error) as ``TransportError(UNREACHABLE)``; ``written``: the
    request may have left before the connection dropped."""
    code = "TIMEOUT" if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) else "CONNECTION_FAILED"
    return TransportError(ErrorKind.UNREACHABLE, code, short_text(exc), request_written=written)


def was_written(err: TransportError) -> bool:
    """Whether the request of an UNREACHABLE error may have reached Telegram (the transport's
    ``request_written``: it had handed the request to the connection when the connection went)."""
    return err.request_written


def in_doubt(err: TransportError) -> TransportError:
    """A dropped request that may have arrived, as the TRANSIENT error the rows retry in doubt
    from the same session with the same ``random_id``."""
    return TransportError(
        ErrorKind.TRANSIENT, err.code, f"connection dropped after the request left: {err.text}"
    )


def backing_off(session: TelegramSession, now: datetime | None = None) -> bool:
    """Whether ``session`` is unreachable and its next connection attempt is not due yet."""
    return bool(session.next_connect_at) and session.next_connect_at > (now or clock.now())


def record_unreachable(session: TelegramSession, err: TransportError) -> None:
    """One failed connection: the session keeps since when it cannot connect, the reason, and
    its next attempt (one UPDATE; also set on ``session``)."""
    now = clock.now()
    failures = session.connect_failures + 1
    fields = {
        "unreachable_since": Coalesce(F("unreachable_since"), now),
        "connect_failures": F("connect_failures") + 1,
        "next_connect_at": now + timedelta(seconds=retry_delay(failures)),
        "last_error_code": err.code[:100],
        "last_error_text": (err.text or err.code)[:TEXT_LIMIT],
        "last_error_at": now,
    }
    TelegramSession.objects.filter(pk=session.pk).update(**fields)
    session.unreachable_since = session.unreachable_since or now
    session.connect_failures = failures
    for name in ("next_connect_at", "last_error_code", "last_error_text", "last_error_at"):
        setattr(session, name, fields[name])


def was_unreachable(session: TelegramSession) -> bool:
    """Whether ``session`` (as loaded) is in the unreachable state :func:`record_reachable` ends."""
    return bool(session.unreachable_since or session.connect_failures or session.next_connect_at)


def record_reachable(session: TelegramSession) -> None:
    """A successful connection ends the unreachable state (nothing written when there was none)."""
    if was_unreachable(session):
        TelegramSession.objects.filter(pk=session.pk).update(
            unreachable_since=None, connect_failures=0, next_connect_at=None
        )
        session.unreachable_since, session.connect_failures, session.next_connect_at = None, 0, None


class GuardedTransport:
    """A session's transport as the sender uses it: builtin network errors become
    ``UNREACHABLE``; a request that may have been written when its connection dropped becomes a
    TRANSIENT error (retried in doubt from this session); ``on_unreachable`` hears every
    UNREACHABLE failure at once (the sender stops the session's sends)."""

    def __init__(self, transport, on_unreachable):
        self.inner = transport
        self.on_unreachable = on_unreachable

    async def connect(self) -> None:
        try:
            await self.inner.connect()
        except NETWORK_ERRORS as exc:
            raise as_unreachable(exc) from exc

    async def disconnect(self) -> None:
        await self.inner.disconnect()

    async def send(self, key, message, random_id, **kwargs):
        try:
            return await self.inner.send(key, message, random_id, **kwargs)
        except TransportError as exc:
            if exc.kind != ErrorKind.UNREACHABLE:
                raise
            err = exc
        except NETWORK_ERRORS as exc:
            err = as_unreachable(exc, written=True)  # mid-send: it may have left (when in doubt…)
        self.on_unreachable(err)
        raise in_doubt(err) if was_written(err) else err

    def __getattr__(self, name):
        return getattr(self.inner, name)
