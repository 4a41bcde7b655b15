"""Building the Telethon client: the one factory every connection goes through (sends, login,
health checks, the listener), and the API credentials it needs.

Tests replace ``TelegramClient`` here (``tests/fakes.py``).
"""

from __future__ import annotations

import rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from telethon import TelegramClient
from telethon.crypto import rsa as telethon_rsa
from telethon.sessions import StringSession

from sessions_app import servers


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
    The configured server (:mod:`sessions_app.servers`): a new session (no address yet) starts at
    ``TELEGRAM_DC``; a stored one keeps the DC it was moved to at login. ``TELEGRAM_PUBLIC_KEY``
    is added to Telethon's RSA keys (``telethon.crypto.rsa``), used for the auth key exchange.
    Raises ValueError when ``session_string`` is not a StringSession, ImproperlyConfigured for
    a malformed ``TELEGRAM_DC`` or ``TELEGRAM_PUBLIC_KEY``.
    """
    session = StringSession(session_string or None)
    _point_at_configured_server(session)
    return TelegramClient(
        session,
        api_id,
        api_hash,
        flood_sleep_threshold=0,
        raise_last_call_error=True,
        connection_retries=CONNECTION_RETRIES,
        retry_delay=RETRY_DELAY,
        timeout=CONNECT_TIMEOUT,
    )


def _point_at_configured_server(session: StringSession) -> None:
    for pem in servers.telegram_public_keys():
        telethon_rsa.add_key(_pkcs1(pem), old=False)
    dc = servers.telegram_dc()
    if dc is not None and not session.server_address:
        session.set_dc(dc.id, dc.host, dc.port)


def _pkcs1(pem: str) -> str:
    """A PEM key as PKCS#1 (``BEGIN RSA PUBLIC KEY``), what Telethon's ``add_key`` reads; an
    OpenSSL ``BEGIN PUBLIC KEY`` is converted. Raises ImproperlyConfigured for anything else."""
    try:
        if "BEGIN RSA PUBLIC KEY" in pem:
            return rsa.PublicKey.load_pkcs1(pem.encode()).save_pkcs1().decode()
        return rsa.PublicKey.load_pkcs1_openssl_pem(pem.encode()).save_pkcs1().decode()
    except Exception as exc:  # rsa/pyasn1 raise several kinds for a bad key
        raise ImproperlyConfigured(
            f"TELEGRAM_PUBLIC_KEY is not an RSA public key in PEM ({type(exc).__name__})."
        ) from None


__all__ = ["CONNECTION_RETRIES", "CONNECT_TIMEOUT", "RETRY_DELAY", "api_credentials", "build_client"]
