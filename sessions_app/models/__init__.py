"""The sessions app's models: Telegram sessions (``session``), the per-account peer cache
(``peers``), media already sent (``sent_media``) and the simulator's ledger (``simulated_delivery``)."""

from .peers import DatabasePeerCache, ResolvedPeer
from .sent_media import DatabaseMediaCache, SentMedia
from .session import (
    LOGIN_STEPS,
    PACE_DEFAULTS,
    Backend,
    SessionKind,
    SessionStatus,
    TelegramSession,
    TelegramSessionQuerySet,
    utc_day_start,
)
from .simulated_delivery import DatabaseLedger, SimulatedDelivery

__all__ = [
    "LOGIN_STEPS",
    "PACE_DEFAULTS",
    "Backend",
    "DatabaseLedger",
    "DatabaseMediaCache",
    "DatabasePeerCache",
    "ResolvedPeer",
    "SentMedia",
    "SessionKind",
    "SessionStatus",
    "SimulatedDelivery",
    "TelegramSession",
    "TelegramSessionQuerySet",
    "utc_day_start",
]
