"""Which MTProto server this installation talks to: Telegram's production servers (the default),
Telegram's test servers, or a named staging server (docs/staging.md).

Settings are read when called, never at import: ``TELEGRAM_DC`` (``id:host:port``),
``TELEGRAM_PUBLIC_KEY`` (PEM text, or the path of a PEM file) and ``TELEGRAM_SERVER_NAME``. They
are applied where the one client factory builds clients
(:func:`sessions_app.transport.telethon_client.build_client`); each session records the server it
logged in to (``TelegramSession.server``), and only sessions of the configured server send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PRODUCTION = "production"
TEST = "test"
# Telegram's test DCs: the address my.telegram.org shows under "Test configuration" (docs/staging.md).
TEST_DC_HOSTS = frozenset({"149.154.167.40"})

_DC = re.compile(r"^(?P<id>\d+):\[?(?P<host>[^\[\]]+?)\]?:(?P<port>\d+)$")


@dataclass(frozen=True)
class DataCenter:
    """``TELEGRAM_DC``: the DC a new session starts at (``id``; ``host`` a name or IP; ``port``)."""

    id: int
    host: str
    port: int


def telegram_dc() -> DataCenter | None:
    """The configured DC, or None for Telegram's production servers (Telethon's built-in address).

    Raises ImproperlyConfigured when ``TELEGRAM_DC`` is not ``id:host:port``.
    """
    value = (getattr(settings, "TELEGRAM_DC", "") or "").strip()
    if not value:
        return None
    match = _DC.match(value)
    if match is None:
        raise ImproperlyConfigured(
            f"TELEGRAM_DC {value!r} is not id:host:port (e.g. 2:149.154.167.40:80 for Telegram's test DC 2)."
        )
    return DataCenter(int(match["id"]), match["host"], int(match["port"]))


def telegram_public_keys() -> list[str]:
    """The configured server's RSA public keys as PEM texts ([] for Telegram's own, which Telethon
    knows). ``TELEGRAM_PUBLIC_KEY`` holds PEM text (it starts with ``-----BEGIN``) or the path of a
    PEM file; either may hold several keys. Raises ImproperlyConfigured for a missing file or text
    with no PEM key."""
    value = (getattr(settings, "TELEGRAM_PUBLIC_KEY", "") or "").strip()
    if not value:
        return []
    if not value.startswith("-----BEGIN"):
        try:
            value = Path(value).expanduser().read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ImproperlyConfigured(
                f"TELEGRAM_PUBLIC_KEY: cannot read the PEM file {value!r} ({type(exc).__name__}); "
                "set it to the key's PEM text or to a readable file."
            ) from None
    keys = re.findall(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", value, flags=re.S)
    if not keys:
        raise ImproperlyConfigured("TELEGRAM_PUBLIC_KEY holds no PEM public key (-----BEGIN … KEY-----).")
    return keys


def telegram_server() -> str:
    """The name of the configured server, which sessions record when they log in:
    ``TELEGRAM_SERVER_NAME`` when set, else ``production`` (no ``TELEGRAM_DC``), ``test`` (one of
    Telegram's test DCs) or ``host:port``."""
    name = (getattr(settings, "TELEGRAM_SERVER_NAME", "") or "").strip()
    if name:
        return name[:100]
    dc = telegram_dc()
    if dc is None:
        return PRODUCTION
    return TEST if dc.host in TEST_DC_HOSTS else f"{dc.host}:{dc.port}"[:100]


__all__ = ["PRODUCTION", "TEST", "DataCenter", "telegram_dc", "telegram_public_keys", "telegram_server"]
