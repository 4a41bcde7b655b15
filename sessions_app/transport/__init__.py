"""Transports: the only code that talks to Telegram (or pretends to, in the simulator)."""

from .base import (
    ErrorKind,
    MediaSpec,
    OutgoingMessage,
    PeerCache,
    SendResult,
    Transport,
    TransportError,
)


def get_transport(session, peer_cache: PeerCache | None = None) -> Transport:
    """Build the transport for ``session`` by its backend (``simulator`` or ``telethon``)."""
    from sessions_app.models import Backend

    if session.backend == Backend.SIMULATOR:
        from .simulator import SimulatorTransport

        return SimulatorTransport(session)
    from .telethon_transport import TelethonTransport

    return TelethonTransport(session, peer_cache=peer_cache)


__all__ = [
    "ErrorKind",
    "MediaSpec",
    "OutgoingMessage",
    "PeerCache",
    "SendResult",
    "Transport",
    "TransportError",
    "get_transport",
]
