"""The transport protocol the engine sends through, and its outcome/error types.

The engine knows nothing else about Telegram: it hands a transport a recipient key, a message and
the row's ``random_id``, and gets back a :class:`SendResult` or a :class:`TransportError` whose
``kind`` (docs/design.md "Error kinds") decides what happens to the row, the session and the campaign.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


class ErrorKind(str, enum.Enum):
    DUPLICATE = "duplicate"  # RANDOM_ID_DUPLICATE: the message had arrived
    FLOOD = "flood"  # wait exactly ``seconds``; not an attempt
    TRANSIENT = "transient"  # retry with backoff
    RECIPIENT = "recipient"  # this recipient cannot get it: row failed, no retry
    CONTENT = "content"  # every row would fail alike: stop the campaign
    SUPPRESSED = "suppressed"  # the resolved peer opted out: nothing was sent
    SESSION = "session"  # the account is unusable: disable, re-balance
    SPAM_LIMITED = "spam_limited"  # PEER_FLOOD / frozen: quarantine, pause for a human
    # No answer from Telegram at all: connect, auth-key exchange or transport failed (DC or proxy
    # unreachable, timeout, a server on another protocol layer). The session cannot connect: it
    # backs off and its rows go to the campaign's other sessions (issue 18).
    UNREACHABLE = "unreachable"


class TransportError(Exception):
    """A failed request, classified.

    ``code``: Telegram's RPC name (``USER_PRIVACY_RESTRICTED``, ``FLOOD_WAIT``) or our own for
    local failures (``CONNECTION_FAILED``, ``TIMEOUT``, ``UNREADABLE_ANSWER``); ``text``:
    human-readable detail (Telegram's raw text for unlisted errors; never the bytes of an answer);
    ``seconds``: the wait for ``FLOOD`` (seconds, from Telegram's ``FLOOD_WAIT_X``).
    ``request_written``: True when the message request itself (``messages.sendMessage`` /
    ``sendMedia``) had been handed to the connection before it failed without an answer
    (``UNREACHABLE``): Telegram may have delivered it, so the row is unknown and is retried with
    the same ``random_id`` (docs/design.md "Delivery contract" 3). False for failures before it.
    """

    def __init__(
        self,
        kind: ErrorKind,
        code: str,
        text: str = "",
        seconds: float | None = None,
        *,
        request_written: bool = False,
    ):
        super().__init__(f"{code}: {text}" if text else code)
        self.kind = ErrorKind(kind)
        self.code = code
        self.text = text or code
        self.seconds = seconds
        self.request_written = request_written


class RefusingTransport:
    """A :class:`Transport` that refuses every call with ``error`` and never connects (a session
    this installation must not use, e.g. one of another MTProto server)."""

    def __init__(self, error: TransportError) -> None:
        self.error = error

    async def connect(self) -> None:
        raise self.error

    async def disconnect(self) -> None:
        return None

    async def send(self, key: str, message: Any, random_id: int, *, check_peer: Any = None) -> Any:
        raise self.error

    async def get_me(self) -> dict:
        raise self.error

    def __getattr__(self, name: str) -> Any:  # after-send and contacts: refused alike
        if name.startswith("_"):
            raise AttributeError(name)

        async def refused(*args: Any, **kwargs: Any) -> Any:
            raise self.error

        return refused


@dataclass(frozen=True)
class MediaSpec:
    """A validated media file (see ``campaigns.media``): ``path`` on disk, ``size`` in bytes,
    ``duration`` in seconds, ``width``/``height`` in pixels."""

    path: str
    media_type: str  # photo | video | document | audio | voice
    mime_type: str = "application/octet-stream"
    file_name: str = ""
    size: int = 0
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    supports_streaming: bool = False


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered message: ``text`` (the caption when ``media`` is set) and its parse mode
    (``plain`` | ``html`` | ``markdown``)."""

    text: str
    parse_mode: str = "plain"
    media: MediaSpec | None = None


@dataclass(frozen=True)
class SendResult:
    """A delivered message: Telegram's ``message_id`` (None when a resend was answered
    ``RANDOM_ID_DUPLICATE``, i.e. the first send had arrived); ``peer_id``: the user (or chat)
    the key resolved to; ``previous_peer_id``: the one it resolved to before, when a username
    changed hands since this session last looked it up (else None)."""

    message_id: int | None
    duplicate: bool = False
    peer_id: int | None = None
    previous_peer_id: int | None = None


# Asked with the resolved peer id right before a request leaves; False stops it (the person opted
# out under another identity than the key): ``send`` then raises ``ErrorKind.SUPPRESSED``.
PeerCheck = Callable[[int], Awaitable[bool]]


def suppressed_error(peer_id: int) -> TransportError:
    """What ``send`` raises when its :data:`PeerCheck` refuses ``peer_id``; nothing was sent."""
    return TransportError(
        ErrorKind.SUPPRESSED, "SUPPRESSED", f"the recipient resolved to user {peer_id}, who opted out"
    )


class PeerCache(Protocol):
    """Per-session store of resolved peers (``sessions_app.models.DatabasePeerCache``)."""

    async def get(self, key: str) -> tuple[str, int, int | None] | None:
        """(peer_type, peer_id, access_hash) for a recipient key, or None when it was never
        resolved or its entry is too old to trust (a username may have changed hands)."""

    async def stale_peer_id(self, key: str) -> int | None:
        """The peer id of an entry :meth:`get` refused as too old, else None."""

    async def put(
        self,
        key: str,
        peer_type: str,
        peer_id: int,
        access_hash: int | None,
        *,
        imported_contact: bool = False,
    ) -> None: ...


# (kind, media id, access_hash, file_reference) of a sent photo or document; kind "photo"|"document".
MediaRef = tuple[str, int, int, bytes]


class MediaCache(Protocol):
    """Per-session store of sent media (``sessions_app.models.DatabaseMediaCache``), keyed by
    :func:`media_file_key`."""

    async def get(self, key: str) -> MediaRef | None:
        """The sent copy of the file ``key`` names, or None."""

    async def put(self, key: str, ref: MediaRef | None) -> None:
        """Remember ``ref`` for ``key``; None forgets it (its file reference expired)."""


# Called with a new StringSession to keep (a bot's token login creates one).
SessionSaver = Callable[[str], Awaitable[None]]


def media_file_key(path: str) -> str:
    """``path:size:mtime_ns``, at most 600 characters: the same file, unchanged (an edited file is
    uploaded again). Raises OSError for a missing file."""
    st = os.stat(path)
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"[:600]


@runtime_checkable
class Transport(Protocol):
    """What the engine needs from a backend. All methods are coroutines.

    ``send`` raises :class:`TransportError` only; ``key`` is a normalised recipient key
    (``@username``, ``+E164``, decimal user id); ``random_id`` is the row's signed 64-bit id.
    """

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def send(
        self, key: str, message: OutgoingMessage, random_id: int, *, check_peer: PeerCheck | None = None
    ) -> SendResult: ...

    async def get_me(self) -> dict: ...


# After the send: read marks, replies, the catch-up ------------------------------------------------
# Peers per ``messages.getPeerDialogs`` request. Telegram publishes no limit for it; 100 is our
# assumption (the size of other list requests such as ``messages.getHistory``'s page), kept small
# so one request's answer stays light and a FloodWait costs little.
DIALOG_PEERS_PER_REQUEST = 100


@dataclass(frozen=True)
class PeerRef:
    """A private chat's peer as this session knows it: the user id, this account's
    ``access_hash`` for them (None when unknown) and the recipient key it was resolved from."""

    peer_id: int
    access_hash: int | None = None
    key: str = ""


@dataclass(frozen=True)
class Incoming:
    """A private message a user sent to the session: ``peer_id`` (the sender's user id, which is
    also the chat's), Telegram's ``message_id`` in that chat, its ``text`` (caption for media),
    ``date`` (aware UTC), the sender's ``username`` (without @, None when they have none) and
    whether the sender is a bot."""

    peer_id: int
    message_id: int
    text: str
    date: datetime
    username: str | None = None
    bot: bool = False


@dataclass(frozen=True)
class DialogState:
    """One private dialog from ``messages.getPeerDialogs``: ``read_outbox_max_id`` is the highest
    id of our messages the peer has read (0: none, or the peer hides read status);
    ``top_message`` the newest message id; ``read_inbox_max_id``/``unread_count`` our side."""

    peer_id: int
    read_outbox_max_id: int
    top_message: int = 0
    read_inbox_max_id: int = 0
    unread_count: int = 0


# (peer user id, max_id): the peer read our messages up to and including ``max_id``.
ReadCallback = Callable[[int, int], Awaitable[Any]]
IncomingCallback = Callable[[Incoming], Awaitable[Any]]


@runtime_checkable
class AfterSend(Protocol):
    """What a transport offers after the send (both backends implement it).

    Bot sessions see no read marks and cannot call ``messages.getPeerDialogs``: for them
    ``dialog_states`` returns [] and ``watch`` reports incoming messages only.
    """

    async def watch(
        self,
        on_read: ReadCallback | None,
        on_incoming: IncomingCallback,
        *,
        stop: Any = None,
        catch_up_unread: bool = True,
    ) -> None:
        """Report read marks and incoming private messages (not from bots) until ``stop`` (an
        ``asyncio.Event``) is set. Raises TransportError."""

    async def dialog_states(self, peers: Sequence[PeerRef]) -> list[DialogState]:
        """The private dialogs of at most :data:`DIALOG_PEERS_PER_REQUEST` peers, in one
        request (unknown peers are left out). Raises TransportError (``flood`` with seconds)."""

    async def history_after(self, peer: PeerRef, min_id: int, *, limit: int = 100) -> list[Incoming]:
        """The peer's messages to us with an id above ``min_id`` (at most ``limit``, newest
        first as Telegram returns them). Raises TransportError."""

    async def mark_read(self, peer: PeerRef, max_id: int) -> None:
        """Mark the chat read up to ``max_id`` (``messages.readHistory``). Raises TransportError."""
