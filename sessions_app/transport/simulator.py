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
  :class:`Ledger` the session's factory hands in); ``memory`` keeps them in this process only;
- the audience after the send (user sessions; bots never see reads): ``read_rate`` and
  ``reply_rate`` (0..1, a reply only from someone who read), ``read_after_s`` and
  ``reply_after_s`` ([min, max] seconds after the send, and after the read), ``replies`` (texts
  drawn from, default a few, with "STOP" among them). Each message's fate is drawn from the seed
  and its message id, so every catch-up sees the same story unfold over time.

Message ids grow with the clock (milliseconds), so they increase per chat across processes, as
Telegram's do within an account.

Like Telegram, a second send with the same ``random_id`` from the same session is answered
``RANDOM_ID_DUPLICATE`` (the ``db`` ledger keeps that across processes and crashes).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from .base import (
    DIALOG_PEERS_PER_REQUEST,
    DialogState,
    ErrorKind,
    Incoming,
    IncomingCallback,
    OutgoingMessage,
    PeerCheck,
    PeerRef,
    ReadCallback,
    SendResult,
    TransportError,
    suppressed_error,
)

# Error codes the simulator can raise, with their kind (a subset of docs/design.md "Error kinds").
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

_memory_ledgers: dict[int, dict[int, tuple[int, str, datetime]]] = defaultdict(dict)
_last_message_id = 0
_message_id_lock = threading.Lock()
DEFAULT_REPLIES = ("Thanks!", "Interesting, tell me more", "How much is it?", "STOP", "👍")


def next_message_id() -> int:
    """A new simulated message id: milliseconds since 2024-01-01, and above every id this process
    gave before (so ids grow per chat, across processes too, as Telegram's do)."""
    global _last_message_id
    with _message_id_lock:
        _last_message_id = max(_last_message_id + 1, int(time.time() * 1000) - 1_704_067_200_000)
        return _last_message_id


class Ledger(Protocol):
    """Where the simulator records deliveries (``sessions_app.models.DatabaseLedger``)."""

    async def record(self, random_id: int, key: str, message_id: int, text: str, media_type: str) -> bool:
        """Record one delivery; False when this session already delivered ``random_id``."""

    async def sent(self, keys: Sequence[str]) -> list[tuple[str, int, datetime]]:
        """(key, message id, delivered at) of this session's deliveries to ``keys``."""


class MemoryLedger:
    """A :class:`Ledger` in this process's memory (benchmarks: no INSERT per message)."""

    def __init__(self, session_id: int | None):
        self.seen = _memory_ledgers[session_id or 0]

    async def record(self, random_id: int, key: str, message_id: int, text: str, media_type: str) -> bool:
        if random_id in self.seen:
            return False
        self.seen[random_id] = (message_id, key, datetime.now(UTC))
        return True

    async def sent(self, keys: Sequence[str]) -> list[tuple[str, int, datetime]]:
        wanted = set(keys)
        return [(k, m, at) for m, k, at in self.seen.values() if k in wanted]


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
        self.seed = cfg.get("seed", session.pk)
        self.read_rate = float(cfg.get("read_rate", 0.0))
        self.read_after_s = tuple(cfg.get("read_after_s", (30, 3600)))
        self.reply_rate = float(cfg.get("reply_rate", 0.0))
        self.reply_after_s = tuple(cfg.get("reply_after_s", (60, 7200)))
        self.replies = list(cfg.get("replies") or DEFAULT_REPLIES)
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
        # 48 bits of a hash: two keys of a list of millions collide with odds of about 1 in 10^5
        # (the engine would rightly treat a collision as one person under two keys).
        return 10**12 + int.from_bytes(hashlib.blake2b(key.lower().encode(), digest_size=6).digest(), "big")

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
        message_id = next_message_id()
        media_type = message.media.media_type if message.media else ""
        if not await self.ledger.record(random_id, key, message_id, message.text, media_type):
            raise TransportError(ErrorKind.DUPLICATE, "RANDOM_ID_DUPLICATE", "already delivered")
        return SendResult(message_id=message_id, peer_id=peer_id)

    # After the send: the seeded audience ------------------------------------------------------
    def fate(
        self, message_id: int, sent_at: datetime
    ) -> tuple[datetime | None, tuple[int, datetime, str] | None]:
        """(when the message is read or None, (reply id, reply time, text) or None), drawn from
        the seed and the message id alone. Bots never see reads (their audience still replies)."""
        rng = random.Random(f"{self.seed}:{message_id}")
        read_at = None
        if rng.random() < self.read_rate:
            read_at = sent_at + timedelta(seconds=rng.uniform(*self.read_after_s))
        reply = None
        if read_at is not None and rng.random() < self.reply_rate:
            delay = rng.uniform(*self.reply_after_s)
            reply_at = read_at + timedelta(seconds=delay)
            reply_id = message_id + max(1, int((reply_at - sent_at).total_seconds() * 1000))
            reply = (reply_id, reply_at, rng.choice(self.replies))
        if self.kind == "bot":
            read_at = None
        return read_at, reply

    async def _story(self, peer: PeerRef, now: datetime) -> tuple[int, int, list[Incoming]]:
        """(read_outbox_max_id, top message id, the replies so far) of one simulated chat."""
        read_max = top = 0
        replies: list[Incoming] = []
        for _key, message_id, sent_at in await self.ledger.sent([peer.key]):
            top = max(top, message_id)
            read_at, reply = self.fate(message_id, sent_at)
            if read_at is not None and read_at <= now:
                read_max = max(read_max, message_id)
            if reply is not None and reply[1] <= now:
                replies.append(Incoming(peer.peer_id, reply[0], reply[2], reply[1]))
                top = max(top, reply[0])
        return read_max, top, replies

    async def watch(
        self,
        on_read: ReadCallback | None,
        on_incoming: IncomingCallback,
        *,
        stop: asyncio.Event | None = None,
        catch_up_unread: bool = True,
    ) -> None:
        """Nothing arrives live in the simulator: its audience is seen by the catch-up."""
        if stop is not None:
            await stop.wait()

    async def dialog_states(self, peers: Sequence[PeerRef]) -> list[DialogState]:
        """The simulated dialogs of ``peers`` now; [] for a bot (no getPeerDialogs for bots)."""
        if len(peers) > DIALOG_PEERS_PER_REQUEST:
            raise ValueError(f"at most {DIALOG_PEERS_PER_REQUEST} peers per request, got {len(peers)}")
        if self.kind == "bot":
            return []
        now = datetime.now(UTC)
        states = []
        for peer in peers:
            read_max, top, _ = await self._story(peer, now)
            if top:
                states.append(DialogState(peer.peer_id, read_max, top))
        return states

    async def history_after(self, peer: PeerRef, min_id: int, *, limit: int = 100) -> list[Incoming]:
        """The simulated replies from ``peer`` above ``min_id``, newest first."""
        _, _, replies = await self._story(peer, datetime.now(UTC))
        return sorted((r for r in replies if r.message_id > min_id), key=lambda r: -r.message_id)[:limit]

    async def mark_read(self, peer: PeerRef, max_id: int) -> None:
        """Nothing to mark in the simulator."""
