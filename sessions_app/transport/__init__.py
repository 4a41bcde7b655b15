"""Transports: the only code that talks to Telegram (or pretends to, in the simulator).

Build one with :meth:`sessions_app.models.TelegramSession.transport`; nothing here imports a model.
"""

from .base import (
    ErrorKind,
    MediaCache,
    MediaSpec,
    OutgoingMessage,
    PeerCache,
    RefusingTransport,
    SendResult,
    Transport,
    TransportError,
)

__all__ = [
    "ErrorKind",
    "MediaCache",
    "MediaSpec",
    "OutgoingMessage",
    "PeerCache",
    "RefusingTransport",
    "SendResult",
    "Transport",
    "TransportError",
]
