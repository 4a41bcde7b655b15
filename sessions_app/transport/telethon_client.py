"""Building the Telethon client: the one factory every connection goes through (sends, login,
health checks, the listener), and the API credentials it needs.

Tests replace ``TelegramClient`` here (``tests/fakes.py``).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from telethon import TelegramClient
from telethon.sessions import StringSession


def api_credentials(session) -> tuple[int, str]:
    """(api_id, api_hash) of ``session``, else ``settings.TELEGRAM_API_ID``/``TELEGRAM_API_HASH``.

    Raises ImproperlyConfigured when neither is set (my.telegram.org/apps issues them).
    """
    api_id = session.api_id or settings.TELEGRAM_API_ID
    api_hash = session.api_hash or settings.TELEGRAM_API_HASH
    if not api_id or not api_hash:
        raise ImproperlyConfigured(
            "No Telegram API id/hash: set TELEGRAM_API_ID/TELEGRAM_API_HASH or fill them on the session."
        )
    return int(api_id), api_hash


# One connect, not Telethon's six: its defaults (connection_retries=5, retry_delay=1 s, timeout
# 10 s) make an unreachable server cost every slice up to six attempts before the failure reaches
# us (issue 18: 42 s instead of 3 s for a 7-row campaign). The session's own backoff (the engine)
# retries later instead. One retry is kept for a first SYN or key exchange lost on the way; the
# same bound applies to Telethon's reconnect after a drop mid-send.
CONNECTION_RETRIES = 1  # attempts after the first, per connect or reconnect
RETRY_DELAY = 1  # seconds between two attempts
CONNECT_TIMEOUT = 10  # seconds for one connect and for each request's answer (Telethon's default)


def build_client(session_string: str, api_id: int, api_hash: str) -> TelegramClient:
    """A TelegramClient over an in-memory StringSession (nothing is written to disk).

    ``flood_sleep_threshold=0``: every FloodWait is raised, none slept through, so it reaches the
    session's ``flood_wait_until``. ``raise_last_call_error=True``: after Telethon's own retries of
    transport-level failures the real RPC error is raised, not a generic ValueError.
    ``connection_retries``/``retry_delay``/``timeout``: :data:`CONNECTION_RETRIES`,
    :data:`RETRY_DELAY`, :data:`CONNECT_TIMEOUT`.
    Raises ValueError when ``session_string`` is not a StringSession.
    """
    return TelegramClient(
        StringSession(session_string or None),
        api_id,
        api_hash,
        flood_sleep_threshold=0,
        raise_last_call_error=True,
        connection_retries=CONNECTION_RETRIES,
        retry_delay=RETRY_DELAY,
        timeout=CONNECT_TIMEOUT,
    )


__all__ = ["CONNECTION_RETRIES", "CONNECT_TIMEOUT", "RETRY_DELAY", "api_credentials", "build_client"]
