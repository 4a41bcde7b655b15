"""The real Telegram transport: one Telethon ``TelegramClient`` per session.

Built by :meth:`sessions_app.models.TelegramSession.transport`, which hands in the stores that
outlive one slice (peers, sent media, a new auth key); this module imports no model. The engine
never sees Telethon: every failure leaves as a :class:`TransportError` classified by
:func:`sessions_app.errors.classify`. Requests are raw (``messages.SendMessage``,
``messages.SendMedia``) so the row's ``random_id`` is sent, and Telegram answers a resend from the
same account with ``RANDOM_ID_DUPLICATE`` instead of delivering twice (docs/design.md "Delivery
contract" 3).

The client is built with ``flood_sleep_threshold=0`` and ``raise_last_call_error=True``: Telethon
never sleeps through a FloodWait nor retries behind the engine's back.

Not named ``telethon.py``: that would shadow the package in tools and tracebacks.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from telethon import TelegramClient, functions, types
from telethon import errors as tg
from telethon.sessions import StringSession

from sessions_app import crypto
from sessions_app.errors import classify

from . import telethon_after as after
from .base import (
    DialogState,
    ErrorKind,
    Incoming,
    IncomingCallback,
    MediaCache,
    MediaSpec,
    OutgoingMessage,
    PeerCache,
    PeerCheck,
    PeerRef,
    ReadCallback,
    SendResult,
    SessionSaver,
    TransportError,
    media_file_key,
    suppressed_error,
)
from .formatting import parse as parse_formatting

logger = logging.getLogger(__name__)

# Incoming message callback: (sender user id, sender username or None, text).
MessageCallback = Callable[[int, str | None, str], Awaitable[Any]]


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


def build_client(session_string: str, api_id: int, api_hash: str) -> TelegramClient:
    """A TelegramClient over an in-memory StringSession (nothing is written to disk).

    ``flood_sleep_threshold=0``: every FloodWait is raised, none slept through, so it reaches the
    session's ``flood_wait_until``. ``raise_last_call_error=True``: after Telethon's own retries of
    transport-level failures the real RPC error is raised, not a generic ValueError.
    Raises ValueError when ``session_string`` is not a StringSession.
    """
    return TelegramClient(
        StringSession(session_string or None),
        api_id,
        api_hash,
        flood_sleep_threshold=0,
        raise_last_call_error=True,
    )


class _MemoryPeerCache:
    """PeerCache for a transport built without a store (kept for this instance only)."""

    def __init__(self) -> None:
        self._peers: dict[str, tuple[str, int, int | None]] = {}

    async def get(self, key: str) -> tuple[str, int, int | None] | None:
        return self._peers.get(key)

    async def stale_peer_id(self, key: str) -> int | None:
        return None

    async def put(self, key, peer_type, peer_id, access_hash, *, imported_contact=False) -> None:
        self._peers[key] = (peer_type, peer_id, access_hash)


@dataclass
class _MediaState:
    """One file, per session: its upload, and the sent copy that later recipients reuse."""

    uploaded: Any = None  # types.InputFile / InputFileBig from client.upload_file
    reusable: Any = None  # types.InputMediaPhoto / InputMediaDocument (id, access_hash, file_reference)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    uploads: int = 0


def _input_peer(peer_type: str, peer_id: int, access_hash: int | None) -> types.TypeInputPeer:
    if peer_type == "channel":
        return types.InputPeerChannel(peer_id, access_hash or 0)
    if peer_type == "chat":
        return types.InputPeerChat(peer_id)
    return types.InputPeerUser(peer_id, access_hash or 0)


def _recipient_error(code: str, text: str) -> TransportError:
    return TransportError(ErrorKind.RECIPIENT, code, text)


def _sent_message_id(result: Any, random_id: int) -> int | None:
    """The new message's id from a send's result (``UpdateShortSentMessage`` or ``Updates``)."""
    if isinstance(result, types.UpdateShortSentMessage):
        return result.id
    updates = getattr(result, "updates", None) or []
    for update in updates:
        if isinstance(update, types.UpdateMessageID) and update.random_id == random_id:
            return update.id
    for update in updates:
        if isinstance(update, (types.UpdateNewMessage, types.UpdateNewChannelMessage)):
            return update.message.id
    return None


def _sent_media(result: Any, message_id: int | None) -> Any:
    """The ``MessageMedia`` of the message a send created, or None."""
    if isinstance(result, types.UpdateShortSentMessage):
        return result.media
    for update in getattr(result, "updates", None) or []:
        if isinstance(update, (types.UpdateNewMessage, types.UpdateNewChannelMessage)):
            if message_id is None or update.message.id == message_id:
                return getattr(update.message, "media", None)
    return None


def _reusable_input_media(media: Any) -> Any:
    """InputMediaPhoto/InputMediaDocument pointing at an already-stored file, or None."""
    if isinstance(media, types.MessageMediaPhoto) and isinstance(media.photo, types.Photo):
        photo = media.photo
        return types.InputMediaPhoto(types.InputPhoto(photo.id, photo.access_hash, photo.file_reference))
    if isinstance(media, types.MessageMediaDocument) and isinstance(media.document, types.Document):
        doc = media.document
        return types.InputMediaDocument(types.InputDocument(doc.id, doc.access_hash, doc.file_reference))
    return None


def _ref_of(media: Any) -> tuple[str, int, int, bytes] | None:
    """(kind, id, access_hash, file_reference) of a reusable InputMedia, for the media cache."""
    if isinstance(media, types.InputMediaPhoto) and isinstance(media.id, types.InputPhoto):
        return ("photo", media.id.id, media.id.access_hash, bytes(media.id.file_reference))
    if isinstance(media, types.InputMediaDocument) and isinstance(media.id, types.InputDocument):
        return ("document", media.id.id, media.id.access_hash, bytes(media.id.file_reference))
    return None


def _input_media_from_ref(ref: tuple[str, int, int, bytes] | None) -> Any:
    if ref is None:
        return None
    kind, media_id, access_hash, file_reference = ref
    if kind == "photo":
        return types.InputMediaPhoto(types.InputPhoto(media_id, access_hash, file_reference))
    return types.InputMediaDocument(types.InputDocument(media_id, access_hash, file_reference))


def _uploaded_input_media(spec: MediaSpec, uploaded: Any) -> Any:
    """The ``InputMediaUploaded*`` for a freshly uploaded file, with its attributes by media type."""
    if spec.media_type == "photo":
        return types.InputMediaUploadedPhoto(file=uploaded)
    name = spec.file_name or spec.path.rsplit("/", 1)[-1]
    filename = types.DocumentAttributeFilename(file_name=name)
    duration = spec.duration or 0
    if spec.media_type == "video":
        attributes = [
            types.DocumentAttributeVideo(
                duration=float(duration),
                w=spec.width or 0,
                h=spec.height or 0,
                supports_streaming=bool(spec.supports_streaming),
            ),
            filename,
        ]
        return types.InputMediaUploadedDocument(
            file=uploaded, mime_type=spec.mime_type or "video/mp4", attributes=attributes
        )
    if spec.media_type == "audio":
        attributes = [types.DocumentAttributeAudio(duration=int(round(duration)), voice=False), filename]
        return types.InputMediaUploadedDocument(
            file=uploaded, mime_type=spec.mime_type or "audio/mpeg", attributes=attributes
        )
    if spec.media_type == "voice":
        # A voice note is an Opus-in-Ogg document flagged voice=True (core.telegram.org/api/files).
        attributes = [types.DocumentAttributeAudio(duration=int(round(duration)), voice=True)]
        return types.InputMediaUploadedDocument(file=uploaded, mime_type="audio/ogg", attributes=attributes)
    # document: force_file so Telegram does not turn an image or video into a photo/video message.
    return types.InputMediaUploadedDocument(
        file=uploaded,
        mime_type=spec.mime_type or "application/octet-stream",
        attributes=[filename],
        force_file=True,
    )


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
        self.peer_cache: PeerCache = peer_cache or _MemoryPeerCache()
        self.client: TelegramClient | None = None
        self.authorized: bool = False
        self._media: dict[str, _MediaState] = {}
        # Sent copies outlive this instance (one slice): the next slice reuses them too.
        self.media_cache = media_cache
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
            raise classify(exc) from exc

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
            raise classify(exc) from exc
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
        (nothing sent), the classified Telegram error for every other failure.
        """
        try:
            text, entities = parse_formatting(message.text or "", message.parse_mode or "plain")
        except ValueError as exc:  # an unknown parse mode: every row would fail alike
            raise TransportError(ErrorKind.CONTENT, "PARSE_MODE_INVALID", str(exc)) from None
        try:
            client = await self._ready()
            peer, peer_id, previous = await self._resolve(client, key)
            if check_peer is not None and not await check_peer(peer_id):
                raise suppressed_error(peer_id)
            if message.media is not None:
                result = await self._send_media(client, peer, message.media, text, entities, random_id)
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
            raise error from exc
        return SendResult(
            message_id=_sent_message_id(result, random_id), peer_id=peer_id, previous_peer_id=previous
        )

    async def _send_media(
        self, client: TelegramClient, peer, spec: MediaSpec, text: str, entities: list, random_id: int
    ) -> Any:
        state = self._media.setdefault(spec.path, _MediaState())
        key = media_file_key(spec.path)
        if state.reusable is None and self.media_cache is not None:
            state.reusable = _input_media_from_ref(await self.media_cache.get(key))
        media = state.reusable or await self._upload(client, spec, state)

        def request(media: Any) -> functions.messages.SendMediaRequest:
            return functions.messages.SendMediaRequest(
                peer=peer, media=media, message=text, random_id=random_id, entities=entities or None
            )

        try:
            result = await client(request(media))
        except tg.FileReferenceExpiredError:
            if state.reusable is None:
                raise
            # The sent copy's file_reference expires after hours: upload again, retry once with the
            # same random_id (the failed request delivered nothing).
            state.reusable = state.uploaded = None
            result = await client(request(await self._upload(client, spec, state)))
        reusable = _reusable_input_media(_sent_media(result, _sent_message_id(result, random_id)))
        if reusable is not None:
            changed = _ref_of(reusable) != _ref_of(state.reusable)
            state.reusable = reusable
            if changed and self.media_cache is not None:
                await self.media_cache.put(key, _ref_of(reusable))
        return result

    async def _upload(self, client: TelegramClient, spec: MediaSpec, state: _MediaState) -> Any:
        """InputMediaUploaded* for ``spec``; uploads only when this session has no upload yet."""
        async with state.lock:  # concurrent first sends of one session share one upload
            if state.uploaded is None:
                state.uploaded = await client.upload_file(
                    spec.path, file_name=spec.file_name or None, file_size=spec.size or None
                )
                state.uploads += 1
        return _uploaded_input_media(spec, state.uploaded)

    # Peers -------------------------------------------------------------------------------------
    async def _resolve(self, client: TelegramClient, key: str) -> tuple[types.TypeInputPeer, int, int | None]:
        """(InputPeer, peer id, previous peer id) for a recipient key: the peer cache first, then
        one request per key (an expired username is looked up again, flood-limited like any
        request; ``previous peer id`` is the id it had before when it now names someone else).

        Raises TransportError (``recipient`` for keys this session cannot reach).
        """
        cached = await self.peer_cache.get(key)
        if cached:
            return _input_peer(*cached), cached[1], None
        stale = await self.peer_cache.stale_peer_id(key)
        imported = False
        if key.startswith("@"):
            peer_type, peer_id, access_hash = await self._resolve_username(client, key[1:])
        elif key.startswith("+"):
            if self.kind == "bot":
                # Bots cannot call contacts.importContacts and can message only users who started them.
                raise _recipient_error("PEER_ID_INVALID", "a bot cannot message a phone number")
            peer_type, peer_id, access_hash = await self._import_phone(client, key)
            imported = True
        elif key.lstrip("-").isdigit():
            peer_type, peer_id, access_hash = await self._known_user_id(client, int(key))
        else:
            raise _recipient_error("RECIPIENT_KEY_INVALID", f"{key!r} is not a username, phone or user id")
        await self.peer_cache.put(key, peer_type, peer_id, access_hash, imported_contact=imported)
        previous = stale if stale is not None and stale != peer_id else None
        return _input_peer(peer_type, peer_id, access_hash), peer_id, previous

    async def _resolve_username(self, client: TelegramClient, username: str) -> tuple[str, int, int | None]:
        resolved = await client(functions.contacts.ResolveUsernameRequest(username=username))
        peer = resolved.peer
        if isinstance(peer, types.PeerUser):
            user = next((u for u in resolved.users if u.id == peer.user_id), None)
            return "user", peer.user_id, getattr(user, "access_hash", None)
        if isinstance(peer, types.PeerChannel):
            chat = next((c for c in resolved.chats if c.id == peer.channel_id), None)
            return "channel", peer.channel_id, getattr(chat, "access_hash", None)
        return "chat", peer.chat_id, None

    async def _import_phone(self, client: TelegramClient, phone: str) -> tuple[str, int, int | None]:
        client_id = secrets.randbits(62)
        contact = types.InputPhoneContact(client_id=client_id, phone=phone, first_name=phone, last_name="")
        result = await client(functions.contacts.ImportContactsRequest(contacts=[contact]))
        imported = next((c for c in result.imported if c.client_id == client_id), None)
        if imported is None:
            if client_id in (result.retry_contacts or []):
                # Telegram's contact-import limit: no duration given, so retry with backoff.
                raise TransportError(
                    ErrorKind.TRANSIENT, "IMPORT_CONTACTS_RETRY", "Telegram asked to import later"
                )
            raise _recipient_error(
                "PHONE_NOT_OCCUPIED",
                "no Telegram account has this phone number, or its privacy settings hide it",
            )
        user = next((u for u in result.users if u.id == imported.user_id), None)
        return "user", imported.user_id, getattr(user, "access_hash", None)

    async def _known_user_id(self, client: TelegramClient, user_id: int) -> tuple[str, int, int | None]:
        # Only an id this process has seen (Telethon's in-memory entity cache) or, for a bot, a
        # user who started it (users.getUsers with access_hash 0) can be addressed.
        try:
            peer = await client.get_input_entity(types.PeerUser(user_id))
        except (ValueError, TypeError):
            raise _recipient_error(
                "PEER_ID_INVALID",
                f"user id {user_id} is not known to this session (use a username or phone, "
                "or the user must write to this account first)",
            ) from None
        return "user", getattr(peer, "user_id", user_id), getattr(peer, "access_hash", None)

    # Contacts, listening -----------------------------------------------------------------------
    async def delete_contacts(self, users: list[tuple[int, int]]) -> None:
        """``contacts.DeleteContacts`` for ``[(user_id, access_hash)]``. Raises TransportError."""
        try:
            client = await self._ready()
            await client(
                functions.contacts.DeleteContactsRequest(id=[types.InputUser(u, h) for u, h in users])
            )
        except Exception as exc:
            raise classify(exc) from exc

    async def listen_private_messages(
        self, callback: MessageCallback, *, stop: asyncio.Event | None = None, catch_up_unread: bool = True
    ) -> None:
        """Call ``callback(sender_id, sender_username, text)`` for each incoming private message
        (:meth:`watch` without read marks). Raises TransportError."""

        async def on_incoming(message: Incoming) -> None:
            await callback(message.peer_id, message.username, message.text)

        await self.watch(None, on_incoming, stop=stop, catch_up_unread=catch_up_unread)

    # After the send (sessions_app.transport.telethon_after) ------------------------------------
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
        await after.watch(
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
        return await after.dialog_states(await self._ready(), peers)

    async def history_after(self, peer: PeerRef, min_id: int, *, limit: int = 100) -> list[Incoming]:
        """The peer's private messages to us above ``min_id``. Raises TransportError."""
        return await after.history_after(await self._ready(), peer, min_id, limit=limit)

    async def mark_read(self, peer: PeerRef, max_id: int) -> None:
        """``messages.readHistory`` up to ``max_id``. Raises TransportError."""
        await after.mark_read(await self._ready(), peer, max_id)

    def media_uploads(self, path: str) -> int:
        """How many times this transport uploaded ``path`` (1 in the normal case)."""
        state = self._media.get(path)
        return state.uploads if state else 0
