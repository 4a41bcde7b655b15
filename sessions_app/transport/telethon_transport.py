"""The real Telegram transport: one Telethon ``TelegramClient`` per session.

Built by :meth:`sessions_app.models.TelegramSession.transport`, which hands in the stores that
outlive one slice (peers, sent media, a new auth key); this module imports no model. The engine
never sees Telethon: every failure leaves as a :class:`TransportError` classified by
:func:`sessions_app.transport.errors.classify`. Requests are raw (``messages.SendMessage``,
``messages.SendMedia``) so the row's ``random_id`` is sent, and Telegram answers a resend from the
same account with ``RANDOM_ID_DUPLICATE`` instead of delivering twice (docs/design.md "Delivery
contract" 3).

The client is built with ``flood_sleep_threshold=0`` and ``raise_last_call_error=True``: Telethon
never sleeps through a FloodWait nor retries behind the engine's back.

The concerns live beside it: building the client (``telethon_client``), resolving peers
(``telethon_peers``), media upload and reuse (``telethon_media``), and after the send — read marks
and replies (``telethon_updates``).

Not named ``telethon.py``: that would shadow the package in tools and tracebacks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from telethon import TelegramClient, functions, types

from tgcampaigns import crypto

from . import telethon_updates as updates
from .base import (
    DialogState,
    ErrorKind,
    Incoming,
    IncomingCallback,
    MediaCache,
    OutgoingMessage,
    PeerCache,
    PeerCheck,
    PeerRef,
    ReadCallback,
    SendResult,
    SessionSaver,
    TransportError,
    suppressed_error,
)
from .errors import chained, classify
from .formatting import parse as parse_formatting
from .telethon_client import api_credentials, build_client
from .telethon_media import MediaSender, sent_message_id
from .telethon_peers import MemoryPeerCache, PeerResolver

logger = logging.getLogger(__name__)

# Incoming message callback: (sender user id, sender username or None, text).
MessageCallback = Callable[[int, str | None, str], Awaitable[Any]]


class TelethonTransport:
    """A :class:`~sessions_app.transport.base.Transport` over Telethon for one TelegramSession.

    One instance serves one session inside one process holding its lease (two connections with one
    auth key get the key revoked, AUTH_KEY_DUPLICATED). The instance remembers each media file's
    upload and sent copy, so a file is uploaded once per session and reused for every recipient.

    ``session`` is read for its name, kind, encrypted secrets and API credentials only.
    ``peer_cache`` and ``media_cache`` keep resolved peers and sent media beyond this instance
    (in memory for this instance when omitted); ``save_session`` keeps a new StringSession.
    """

    def __init__(
        self,
        session,
        *,
        peer_cache: PeerCache | None = None,
        media_cache: MediaCache | None = None,
        save_session: SessionSaver | None = None,
    ):
        self.session_id: int | None = session.pk
        self.session_name: str = session.name
        self.kind: str = session.kind
        # Secrets stay encrypted until connect(), and never enter a log line or exception text.
        self._session_string_encrypted: str = session.session_string_encrypted
        self._bot_token_encrypted: str = session.bot_token_encrypted
        self._session = session
        self.peer_cache: PeerCache = peer_cache or MemoryPeerCache()
        self._peers = PeerResolver(self.kind, self.peer_cache)
        self.client: TelegramClient | None = None
        self.authorized: bool = False
        # Sent copies outlive this instance (one slice): the next slice reuses them too.
        self._media = MediaSender(media_cache)
        self._save_session = save_session

    # Connection --------------------------------------------------------------------------------
    async def connect(self) -> None:
        """Connect; a bot with a stored token but no session logs in and keeps the new session.

        Does not fail for a user session that is not logged in (``get_me`` reports it; ``send``
        raises a ``session`` error). Raises TransportError.
        """
        if self.client is not None and self.client.is_connected():
            return
        try:
            session_string = crypto.decrypt(self._session_string_encrypted)
            bot_token = crypto.decrypt(self._bot_token_encrypted) if self.kind == "bot" else ""
            api_id, api_hash = api_credentials(self._session)
        except (crypto.InvalidToken, ImproperlyConfigured) as exc:
            raise TransportError(
                ErrorKind.SESSION,
                "SESSION_UNREADABLE",
                f"the stored session cannot be used: {type(exc).__name__}",
            ) from None
        try:
            self.client = build_client(session_string, api_id, api_hash)
        except ValueError:
            raise TransportError(
                ErrorKind.SESSION, "SESSION_STRING_INVALID", "the stored session is not valid"
            ) from None
        try:
            await self.client.connect()
            self.authorized = await self.client.is_user_authorized()
            if not self.authorized and bot_token:
                await self.client.sign_in(bot_token=bot_token)
                self.authorized = True
                # Keep the new auth key: logging a bot in again on every connect is flood-limited.
                if self._save_session is not None:
                    await self._save_session(self.client.session.save())
        except Exception as exc:
            error = classify(exc)
            raise error from chained(error, exc)

    async def disconnect(self) -> None:
        if self.client is not None:
            try:
                await self.client.disconnect()
            except Exception:  # a dead connection is already what we want
                logger.debug("disconnect of session %s failed", self.session_name, exc_info=True)

    async def _ready(self) -> TelegramClient:
        await self.connect()
        if not self.authorized:
            raise TransportError(ErrorKind.SESSION, "AUTH_KEY_UNREGISTERED", "the session is not logged in")
        return self.client

    async def get_me(self) -> dict:
        """``{id, username, name, authorized, bot}`` of the account; id None when not logged in.

        Raises TransportError (e.g. ``session`` for a revoked key).
        """
        await self.connect()
        if not self.authorized:
            return {"id": None, "username": "", "name": "", "authorized": False, "bot": self.kind == "bot"}
        try:
            me = await self.client.get_me()
        except Exception as exc:
            error = classify(exc)
            raise error from chained(error, exc)
        if me is None:
            return {"id": None, "username": "", "name": "", "authorized": False, "bot": self.kind == "bot"}
        name = " ".join(part for part in (me.first_name, me.last_name) if part)
        return {
            "id": me.id,
            "username": me.username or "",
            "name": name,
            "authorized": True,
            "bot": bool(me.bot),
        }

    # Sending -----------------------------------------------------------------------------------
    async def send(
        self, key: str, message: OutgoingMessage, random_id: int, *, check_peer: PeerCheck | None = None
    ) -> SendResult:
        """Resolve ``key``, ask ``check_peer`` with the resolved peer id, and send ``message``
        with ``random_id``.

        Returns SendResult(message_id, peer_id=…), or SendResult(None, duplicate=True) when
        Telegram answers RANDOM_ID_DUPLICATE (an earlier send with this random_id from this
        account had arrived). Raises TransportError: ``suppressed`` when ``check_peer`` refuses
        (nothing sent), the classified Telegram error for every other failure; ``unreachable``
        with ``request_written=True`` when the connection failed with no answer after the
        message request was handed to it (it may have arrived), False when it failed before.
        """
        try:
            text, entities = parse_formatting(message.text or "", message.parse_mode or "plain")
        except ValueError as exc:  # an unknown parse mode: every row would fail alike
            raise TransportError(ErrorKind.CONTENT, "PARSE_MODE_INVALID", str(exc)) from None
        written = False  # whether the message request was handed to the connection
        try:
            client = await self._ready()
            peer, peer_id, previous = await self._peers.resolve(client, key)
            if check_peer is not None and not await check_peer(peer_id):
                raise suppressed_error(peer_id)
            written = True  # from here a failure without an answer may follow a delivery
            if message.media is not None:
                # Conservative: an upload that fails counts as written too (the row is only retried
                # from this session with the same random_id, never lost nor sent twice).
                result = await self._media.send(client, peer, message.media, text, entities, random_id)
            else:
                result = await client(
                    functions.messages.SendMessageRequest(
                        peer=peer, message=text, random_id=random_id, entities=entities or None
                    )
                )
        except TransportError:
            raise
        except Exception as exc:
            error = classify(exc)
            if error.kind is ErrorKind.DUPLICATE:
                return SendResult(message_id=None, duplicate=True)
            error.request_written = written and error.kind is ErrorKind.UNREACHABLE
            raise error from chained(error, exc)
        return SendResult(
            message_id=sent_message_id(result, random_id), peer_id=peer_id, previous_peer_id=previous
        )

    # Contacts, listening -----------------------------------------------------------------------
    async def delete_contacts(self, users: list[tuple[int, int]]) -> None:
        """``contacts.DeleteContacts`` for ``[(user_id, access_hash)]``. Raises TransportError."""
        try:
            client = await self._ready()
            await client(
                functions.contacts.DeleteContactsRequest(id=[types.InputUser(u, h) for u, h in users])
            )
        except Exception as exc:
            error = classify(exc)
            raise error from chained(error, exc)

    async def listen_private_messages(
        self, callback: MessageCallback, *, stop: asyncio.Event | None = None, catch_up_unread: bool = True
    ) -> None:
        """Call ``callback(sender_id, sender_username, text)`` for each incoming private message
        (:meth:`watch` without read marks). Raises TransportError."""

        async def on_incoming(message: Incoming) -> None:
            await callback(message.peer_id, message.username, message.text)

        await self.watch(None, on_incoming, stop=stop, catch_up_unread=catch_up_unread)

    # After the send (sessions_app.transport.telethon_updates) ------------------------------------
    async def watch(
        self,
        on_read: ReadCallback | None,
        on_incoming: IncomingCallback,
        *,
        stop: asyncio.Event | None = None,
        catch_up_unread: bool = True,
    ) -> None:
        """Report read marks (user accounts; ``on_read(peer_id, max_id)``) and incoming private
        messages from users (``on_incoming(Incoming)``) until ``stop`` is set: first the last
        message of each unread private dialog when ``catch_up_unread``. Raises TransportError."""
        client = await self._ready()
        await updates.watch(
            client,
            bot=self.kind == "bot",
            on_read=on_read,
            on_incoming=on_incoming,
            stop=stop,
            catch_up_unread=catch_up_unread,
        )

    async def dialog_states(self, peers: Sequence[PeerRef]) -> list[DialogState]:
        """One ``messages.getPeerDialogs`` for at most DIALOG_PEERS_PER_REQUEST peers; [] for a
        bot (bots may not call it and see no read marks). Raises TransportError."""
        if self.kind == "bot":
            return []
        return await updates.dialog_states(await self._ready(), peers)

    async def history_after(self, peer: PeerRef, min_id: int, *, limit: int = 100) -> list[Incoming]:
        """The peer's private messages to us above ``min_id``. Raises TransportError."""
        return await updates.history_after(await self._ready(), peer, min_id, limit=limit)

    async def mark_read(self, peer: PeerRef, max_id: int) -> None:
        """``messages.readHistory`` up to ``max_id``. Raises TransportError."""
        await updates.mark_read(await self._ready(), peer, max_id)

    def media_uploads(self, path: str) -> int:
        """How many times this transport uploaded ``path`` (1 in the normal case)."""
        return self._media.uploads(path)
