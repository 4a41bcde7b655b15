"""The simulator backend: a labelled stand-in for Telegram, for the demo, dry runs, benchmarks and
tests. It sends nothing anywhere.

Per session, ``TelegramSession.simulator_config`` sets (all optional):

- ``seed`` (int): makes every draw repeatable;
- ``latency_ms`` ([min, max]): per-request latency, default [50, 300];
- ``transient_rate``, ``recipient_error_rate``, ``flood_rate`` (0..1): failure mix per request;
- ``flood_seconds`` ([min, max]): FloodWait length, default [1, 3];
- ``script`` ({key: [code, …]}): errors a recipient gets on its first requests, in order
  (``FLOOD_WAIT_5``, ``USER_PRIVACY_RESTRICTED``, ``PEER_FLOOD``, ``AUTH_KEY_UNREGISTERED`` …);
- ``peers`` ({key: user id}): what a key resolves to (default: the id itself for a user id key,
  else a stable number derived from the key);
- ``ledger`` (``db`` | ``memory``): where deliveries are recorded, default ``db`` (the
  :class:`Ledger` the session's factory hands in); ``memory`` keeps them in this process only.

Like Telegram, a second send with the same ``random_id`` from the same session is answered
``RANDOM_ID_DUPLICATE`` (the ``db`` ledger keeps that across processes and crashes).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import zlib
from collections import defaultdict
from typing import Protocol

from .base import ErrorKind, OutgoingMessage, PeerCheck, SendResult, TransportError, suppressed_error

# Error codes the simulator can raise, with their kind (a subset of DESIGN.md's table).
SIMULATED_CODES = {
    "RPC_CALL_FAIL": ErrorKind.TRANSIENT,
    "TIMEOUT": ErrorKind.TRANSIENT,
    "USER_PRIVACY_RESTRICTED": ErrorKind.RECIPIENT,
    "USER_IS_BLOCKED": ErrorKind.RECIPIENT,
    "USERNAME_NOT_OCCUPIED": ErrorKind.RECIPIENT,
    "PEER_ID_INVALID": ErrorKind.RECIPIENT,
    "PHONE_NOT_OCCUPIED": ErrorKind.RECIPIENT,
    "INPUT_USER_DEACTIVATED": ErrorKind.RECIPIENT,
    "MESSAGE_TOO_LONG": ErrorKind.CONTENT,
    "MEDIA_INVALID": ErrorKind.CONTENT,
    "AUTH_KEY_UNREGISTERED": ErrorKind.SESSION,
    "SESSION_REVOKED": ErrorKind.SESSION,
    "USER_DEACTIVATED_BAN": ErrorKind.SESSION,
    "PEER_FLOOD": ErrorKind.SPAM_LIMITED,
    "FROZEN_METHOD_INVALID": ErrorKind.SPAM_LIMITED,
}
# Recipient errors Telegram gives by how the recipient was addressed.
RECIPIENT_MIX = {
    "username": ("USER_PRIVACY_RESTRICTED", "USER_IS_BLOCKED", "USERNAME_NOT_OCCUPIED"),
    "phone": ("USER_PRIVACY_RESTRICTED", "USER_IS_BLOCKED", "PHONE_NOT_OCCUPIED"),
    "user_id": ("USER_PRIVACY_RESTRICTED", "USER_IS_BLOCKED", "INPUT_USER_DEACTIVATED"),
}

_memory_ledgers: dict[int, dict[int, int]] = defaultdict(dict)
_message_ids = itertools.count(1_000)


class Ledger(Protocol):
    """Where the simulator records deliveries (``sessions_app.models.DatabaseLedger``)."""

    async def record(self, random_id: int, key: str, message_id: int, text: str, media_type: str) -> bool:
        """Record one delivery; False when this session already delivered ``random_id``."""


class MemoryLedger:
    """A :class:`Ledger` in this process's memory (benchmarks: no INSERT per message)."""

    def __init__(self, session_id: int | None):
        self.seen = _memory_ledgers[session_id or 0]

    async def record(self, random_id: int, key: str, message_id: int, text: str, media_type: str) -> bool:
        if random_id in self.seen:
            return False
        self.seen[random_id] = message_id
        return True


def simulated_error(code: str) -> TransportError:
    """The TransportError Telegram would give for ``code`` (``FLOOD_WAIT_<s>`` carries seconds)."""
    match = re.fullmatch(r"FLOOD_WAIT_(\d+)", code)
    if match:
        return TransportError(
            ErrorKind.FLOOD, "FLOOD_WAIT", f"simulated wait of {match[1]} s", float(match[1])
        )
    kind = SIMULATED_CODES.get(code, ErrorKind.RECIPIENT)
    return TransportError(kind, code, f"simulated {code}")


class SimulatorTransport:
    """A :class:`~sessions_app.transport.base.Transport` that pretends to be Telegram."""

    def __init__(self, session, *, ledger: Ledger | None = None):
        self.session_id = session.pk
        self.kind = session.kind
        cfg = dict(session.simulator_config or {})
        self.rng = random.Random(cfg.get("seed", session.pk))
        self.latency_ms = tuple(cfg.get("latency_ms", (50, 300)))
        self.transient_rate = float(cfg.get("transient_rate", 0.0))
        self.recipient_error_rate = float(cfg.get("recipient_error_rate", 0.0))
        self.flood_rate = float(cfg.get("flood_rate", 0.0))
        self.flood_seconds = tuple(cfg.get("flood_seconds", (1, 3)))
        self.script = {k.lower(): list(v) for k, v in (cfg.get("script") or {}).items()}
        self.peers = {k.lower(): int(v) for k, v in (cfg.get("peers") or {}).items()}
        if cfg.get("ledger") == "memory" or ledger is None:
            ledger = MemoryLedger(session.pk)
        self.ledger: Ledger = ledger
        self.connected = False

    async def connect(self) -> None:
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False

    async def get_me(self) -> dict:
        return {
            "id": 10_000 + (self.session_id or 0),
            "username": f"sim_{self.session_id}",
            "name": "Simulated account",
            "authorized": True,
            "bot": self.kind == "bot",
        }

    def peer_id(self, key: str) -> int:
        """The user ``key`` resolves to: ``peers`` config, the id itself, or a stable number."""
        if key.lower() in self.peers:
            return self.peers[key.lower()]
        if key.isdigit():
            return int(key)
        return 1_000_000_000 + zlib.crc32(key.lower().encode()) % 1_000_000_000

    async def send(
        self, key: str, message: OutgoingMessage, random_id: int, *, check_peer: PeerCheck | None = None
    ) -> SendResult:
        """Pretend to send: latency, then the scripted or random outcome, then the ledger.

        Raises TransportError like the real transport would (``suppressed`` when ``check_peer``
        refuses the resolved peer: nothing is sent).
        """
        low, high = self.latency_ms
        if high > 0:
            await asyncio.sleep(self.rng.uniform(low, high) / 1000.0)
        peer_id = self.peer_id(key)
        if check_peer is not None and not await check_peer(peer_id):
            raise suppressed_error(peer_id)
        scripted = self.script.get(key.lower())
        if scripted:
            raise simulated_error(scripted.pop(0))
        if self.kind == "bot" and key.startswith("+"):
            raise TransportError(
                ErrorKind.RECIPIENT, "PEER_ID_INVALID", "a bot cannot message a phone number"
            )
        draw = self.rng.random()
        if draw < self.flood_rate:
            raise simulated_error(f"FLOOD_WAIT_{self.rng.randint(*self.flood_seconds)}")
        draw -= self.flood_rate
        if draw < self.transient_rate:
            raise simulated_error("RPC_CALL_FAIL")
        draw -= self.transient_rate
        if draw < self.recipient_error_rate:
            kind = "username" if key.startswith("@") else "phone" if key.startswith("+") else "user_id"
            raise simulated_error(self.rng.choice(RECIPIENT_MIX[kind]))
        message_id = next(_message_ids)
        media_type = message.media.media_type if message.media else ""
        if not await self.ledger.record(random_id, key, message_id, message.text, media_type):
            raise TransportError(ErrorKind.DUPLICATE, "RANDOM_ID_DUPLICATE", "already delivered")
        return SendResult(message_id=message_id, peer_id=peer_id)
