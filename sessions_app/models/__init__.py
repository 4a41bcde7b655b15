"""The sessions app's models: Telegram sessions (``session``), the per-account peer cache
(``peers``), media already sent (``media``) and the simulator's ledger (``simulator``)."""

from .media import DatabaseMediaCache, SentMedia
from .peers import DatabasePeerCache, ResolvedPeer
from .session import (
    PACE_DEFAULTS,
    Backend,
    SessionKind,
    SessionStatus,
    TelegramSession,
    utc_day_start,
)
from .simulator import DatabaseLedger, SimulatedDelivery

__all__ = [
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
    "utc_day_start",
]
