"""A fake Telegram at the ``TelegramClient`` boundary, built from Telethon's own types and errors.

:class:`FakeTelegram` is the server side: accounts (by phone, with an optional 2FA password),
bots (by token), users reachable by username or phone, which auth keys are logged in as whom,
and per-account ``random_id`` de-duplication and access hashes, like Telegram. Its
:attr:`FakeTelegram.client_class` replaces ``telethon.TelegramClient`` where the code imports it
(``sessions_app.transport.telethon_client.TelegramClient``) and records every request:
``world.requests`` holds :class:`Recorded` (type, account, peer, random_id, media, request).

After the send: every private chat keeps its messages (``world.chats``, real ``types.Message``),
its read marks both ways, and the fake answers ``messages.getPeerDialogs`` (``types.Dialog`` with
``read_outbox_max_id``), ``messages.getHistory`` and ``messages.readHistory`` from them.
:meth:`FakeTelegram.incoming` and :meth:`FakeTelegram.read` deliver real ``UpdateNewMessage`` /
``UpdateReadHistoryOutbox`` updates to the connected clients through Telethon's own event
builders (``events.NewMessage``, ``events.Raw``), filtered as ``TelegramClient`` filters them;
``online=False`` records them for the catch-up only (they arrived while nobody listened).

Errors: ``world.fail(error, on=SendMessageRequest)`` makes the next matching call raise the given
Telethon error instance (``on`` a request class or a client method name, ``times`` how many calls).
The fake's public methods keep ``TelegramClient``'s signatures (checked by a test), so code that
works against it calls the real client the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import itertools
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.fernet import Fernet
from telethon import errors as tg
from telethon import events, functions, types
from telethon._updates import EntityCache
from telethon.crypto import AuthKey
from telethon.events.common import EventCommon

SESSION_PATH = "sessions_app.transport.telethon_client.TelegramClient"


@dataclass
class Recorded:
    """One request the fake server received."""

    type: str  # request class name, or the client method (``upload_file``, ``send_code_request``)
    account_id: int | None
    peer: Any = None
    random_id: int | None = None
    media: Any = None
    request: Any = None


@dataclass
class Account:
    user: types.User
    phone: str = ""
    password: str | None = None
    bot_token: str = ""
    contacts: set[int] = field(default_factory=set)
    started_by: set[int] = field(default_factory=set)  # bots: users who pressed Start
    random_ids: dict[int, int] = field(default_factory=dict)  # random_id → message id


class FakeTelegram:
    """The fake server. Build users with :meth:`add_user`, accounts with :meth:`add_account` /
    :meth:`add_bot`, then patch ``TelegramClient`` with :attr:`client_class`."""

    def __init__(self) -> None:
        self._ids = itertools.count(5_000_000)
        self._message_ids = itertools.count(100)
        self.users: dict[int, types.User] = {}
        self.accounts: dict[int, Account] = {}  # by user id
        self.authorized: dict[bytes, int] = {}  # auth key → account user id
        self.code_requests: dict[str, tuple[bytes, str, str]] = {}  # phone_code_hash → (key, phone, code)
        self.expired_codes: set[str] = set()
        self.pending_password: dict[bytes, int] = {}  # auth key → account awaiting its 2FA password
        self.requests: list[Recorded] = []
        self.failures: list[list] = []  # [on, error, times]
        self.clients: list[FakeTelegramClient] = []
        self.file_reference_version = 1
        self.dialogs: dict[int, list] = {}  # account id → dialogs for get_dialogs
        # (account id, peer user id) → the chat's messages, oldest first, and its read marks.
        self.chats: dict[tuple[int, int], list[types.Message]] = {}
        self.read_outbox: dict[tuple[int, int], int] = {}  # the peer read ours up to this id
        self.read_inbox: dict[tuple[int, int], int] = {}  # we read theirs up to this id

        world = self

        class BoundClient(FakeTelegramClient):
            telegram = world

        self.client_class = BoundClient

    # World building ------------------------------------------------------------------------
    def add_user(
        self, username: str | None = None, phone: str | None = None, *, bot: bool = False
    ) -> types.User:
        user_id = next(self._ids)
        user = types.User(
            id=user_id,
            first_name=f"User{user_id}",
            username=username,
            phone=(phone or "").lstrip("+") or None,
            bot=bot,
        )
        self.users[user_id] = user
        return user

    def add_account(self, phone: str, *, password: str | None = None, username: str | None = None) -> Account:
        user = self.add_user(username=username, phone=phone)
        account = Account(user=user, phone=phone, password=password)
        self.accounts[user.id] = account
        return account

    def add_bot(self, token: str, username: str = "campaign_bot") -> Account:
        user = self.add_user(username=username, bot=True)
        account = Account(user=user, bot_token=token)
        self.accounts[user.id] = account
        return account

    def log_in(self, account: Account) -> str:
        """A saved StringSession already logged in as ``account`` (what a past login stored)."""
        from telethon.sessions import StringSession

        session = StringSession()
        session.set_dc(2, "149.154.167.40", 443)
        session.auth_key = AuthKey(os.urandom(256))
        self.authorized[session.auth_key.key] = account.user.id
        return session.save()

    def access_hash(self, account_id: int, user_id: int) -> int:
        """Per-account access hash, as Telegram gives each account its own."""
        digest = hashlib.sha256(f"{account_id}:{user_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def fail(self, error: BaseException, *, on: type | str, times: int = 1) -> None:
        """Make the next ``times`` calls matching ``on`` raise ``error`` (a Telethon instance)."""
        self.failures.append([on, error, times])

    def expire_file_references(self) -> None:
        """Every file reference handed out so far now answers FILE_REFERENCE_EXPIRED."""
        self.file_reference_version += 1

    def of_type(self, request_type: type | str) -> list[Recorded]:
        name = request_type if isinstance(request_type, str) else request_type.__name__
        return [r for r in self.requests if r.type == name]

    async def incoming(
        self, account: Account, sender: types.User, text: str, *, online: bool = True
    ) -> types.Message:
        """``sender`` writes ``text`` to ``account`` in their private chat: the message is stored
        and, when ``online``, delivered as an ``UpdateNewMessage`` to the account's connected
        clients."""
        message = types.Message(
            id=next(self._message_ids),
            peer_id=types.PeerUser(sender.id),
            date=_now(),
            message=text,
            out=False,
        )
        self.chats.setdefault((account.user.id, sender.id), []).append(message)
        if online:
            update = types.UpdateNewMessage(message=message, pts=message.id, pts_count=1)
            await self._dispatch(account, update, [sender])
        return message

    async def read(self, account: Account, reader: types.User, max_id: int, *, online: bool = True) -> None:
        """``reader`` reads ``account``'s messages up to ``max_id``: their dialog's
        ``read_outbox_max_id`` and, when ``online``, an ``UpdateReadHistoryOutbox``."""
        chat = (account.user.id, reader.id)
        self.read_outbox[chat] = max(self.read_outbox.get(chat, 0), max_id)
        if online:
            update = types.UpdateReadHistoryOutbox(
                peer=types.PeerUser(reader.id), max_id=max_id, pts=max_id, pts_count=1
            )
            await self._dispatch(account, update, [reader])

    def sent_to(self, account: Account, user: types.User) -> list[int]:
        """Ids of the messages ``account`` sent to ``user``, oldest first."""
        return [m.id for m in self.chats.get((account.user.id, user.id), []) if m.out]

    async def _dispatch(self, account: Account, update: Any, users: list[types.User]) -> None:
        for client in list(self.clients):
            if client.account_id == account.user.id and client.connected:
                await client._dispatch_update(update, users)

    def unread_dialog(self, account: Account, sender: types.User, text: str) -> None:
        """An unread private dialog whose last message is ``text`` (arrived while offline)."""
        message = types.Message(
            id=next(self._message_ids),
            peer_id=types.PeerUser(sender.id),
            date=_now(),
            message=text,
            out=False,
        )
        self.chats.setdefault((account.user.id, sender.id), []).append(message)
        dialog = SimpleNamespace(is_user=True, unread_count=1, message=message, entity=sender)
        self.dialogs.setdefault(account.user.id, []).append(dialog)

    # Server side ---------------------------------------------------------------------------
    def _failure(self, name: str, request: Any) -> BaseException | None:
        for entry in self.failures:
            on, error, times = entry
            matches = on == name if isinstance(on, str) else isinstance(request, on)
            if matches and times > 0:
                entry[2] -= 1
                if entry[2] == 0:
                    self.failures.remove(entry)
                return error
        return None


def _async_value(value: Any):
    async def get() -> Any:
        return value

    return get


class FakeTelegramClient:
    """Stands in for ``telethon.TelegramClient``; bound to a :class:`FakeTelegram` as ``telegram``."""

    telegram: FakeTelegram

    def __init__(self, session, api_id: int, api_hash: str, **kwargs: Any) -> None:
        self.session = session  # a real telethon StringSession
        self.api_id = api_id
        self.api_hash = api_hash
        self.kwargs = kwargs
        self.connected = False
        self._event_builders: list[tuple[Any, Any]] = []  # (event builder, callback), like Telethon's
        self.telegram.clients.append(self)

    # Connection, auth ----------------------------------------------------------------------
    @property
    def account_id(self) -> int | None:
        key = self.session.auth_key
        return self.telegram.authorized.get(key.key) if key else None

    @property
    def account(self) -> Account | None:
        return self.telegram.accounts.get(self.account_id) if self.account_id else None

    async def connect(self) -> None:
        self._maybe_fail("connect", None)
        if self.session.auth_key is None:  # a new session: key exchange makes an auth key
            if not self.session.server_address:  # Telethon's default DC, unless the factory set one
                self.session.set_dc(2, "149.154.167.40", 443)
            self.session.auth_key = AuthKey(os.urandom(256))
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False

    def is_connected(self) -> bool:
        return self.connected

    async def is_user_authorized(self) -> bool:
        return self.account_id is not None

    async def get_me(self, input_peer: bool = False):
        self._maybe_fail("get_me", None)
        return self.account.user if self.account else None

    async def send_code_request(self, phone: str, *, force_sms: bool = False, _retry_count: int = 0):
        self._record("send_code_request")
        self._maybe_fail("send_code_request", None)
        if not any(a.phone == phone for a in self.telegram.accounts.values()):
            raise tg.PhoneNumberUnoccupiedError(request=None)
        code_hash = os.urandom(8).hex()
        self.telegram.code_requests[code_hash] = (self.session.auth_key.key, phone, "12345")
        return types.auth.SentCode(type=types.auth.SentCodeTypeApp(length=5), phone_code_hash=code_hash)

    async def sign_in(
        self,
        phone: str = None,
        code=None,
        *,
        password: str = None,
        bot_token: str = None,
        phone_code_hash: str = None,
    ):
        self._record("sign_in")
        self._maybe_fail("sign_in", None)
        world = self.telegram
        key = self.session.auth_key.key
        if bot_token:
            account = next(
                (a for a in world.accounts.values() if a.bot_token and a.bot_token == bot_token), None
            )
            if account is None:
                raise tg.AccessTokenInvalidError(request=None)
            world.authorized[key] = account.user.id
            return account.user
        if code:
            if phone_code_hash in world.expired_codes:
                raise tg.PhoneCodeExpiredError(request=None)
            asked = world.code_requests.get(phone_code_hash)
            # A code is valid only on the auth key that requested it.
            if asked is None or asked[0] != key or asked[1] != phone:
                raise tg.PhoneCodeExpiredError(request=None)
            if str(code) != asked[2]:
                raise tg.PhoneCodeInvalidError(request=None)
            account = next(a for a in world.accounts.values() if a.phone == phone)
            if account.password:
                world.pending_password[key] = account.user.id
                raise tg.SessionPasswordNeededError(request=None)
            world.authorized[key] = account.user.id
            return account.user
        if password:
            pending = world.pending_password.get(key)
            if pending is None:
                raise tg.PasswordHashInvalidError(request=None)
            if world.accounts[pending].password != password:
                raise tg.PasswordHashInvalidError(request=None)
            world.authorized[key] = pending
            return world.accounts[pending].user
        raise ValueError("You must provide a phone and a code the first time")

    # Requests ------------------------------------------------------------------------------
    async def __call__(self, request, ordered: bool = False, flood_sleep_threshold=None):
        name = type(request).__name__
        self._record(
            name,
            peer=getattr(request, "peer", None),
            random_id=getattr(request, "random_id", None),
            media=getattr(request, "media", None),
            request=request,
        )
        self._maybe_fail(name, request)
        if self.account is None:
            raise tg.AuthKeyUnregisteredError(request=request)
        handler = getattr(self, f"_on_{name}", None)
        if handler is None:
            raise NotImplementedError(f"the fake Telegram does not answer {name}")
        return handler(request)

    async def upload_file(
        self,
        file,
        *,
        part_size_kb: float = None,
        file_size: int = None,
        file_name: str = None,
        use_cache: type = None,
        key: bytes = None,
        iv: bytes = None,
        progress_callback=None,
    ):
        self._record("upload_file", media=file)
        self._maybe_fail("upload_file", None)
        return types.InputFile(
            id=int.from_bytes(os.urandom(7), "big"), parts=1, name=file_name or str(file), md5_checksum=""
        )

    async def get_input_entity(self, peer):
        self._record("get_input_entity", peer=peer)
        account = self.account
        user_id = getattr(peer, "user_id", peer)
        if account and (user_id in account.contacts or user_id in account.started_by):
            return types.InputPeerUser(user_id, self.telegram.access_hash(account.user.id, user_id))
        raise ValueError(f"Could not find the input entity for {peer!r}")

    def add_event_handler(self, callback, event=None) -> None:
        self._event_builders.append((event if event is not None else events.Raw(), callback))

    def remove_event_handler(self, callback, event=None) -> int:
        before = len(self._event_builders)
        self._event_builders = [
            (b, c)
            for b, c in self._event_builders
            if c is not callback or (event is not None and type(b) is not event)
        ]
        return before - len(self._event_builders)

    @property
    def _self_id(self) -> int | None:
        return self.account_id

    @property
    def _mb_entity_cache(self) -> EntityCache:
        return EntityCache(self_id=self.account_id)

    async def _dispatch_update(self, update: Any, users: list[types.User]) -> None:
        """What ``TelegramClient._dispatch_update`` does with one update: each handler's builder
        builds its event (``build``), gets the client and the update's entities, is resolved,
        filtered, and the callback runs."""
        entities = {u.id: self._as_seen(u) for u in users}
        update._entities = entities
        for builder, callback in list(self._event_builders):
            event = builder.build(update, None, self._self_id)
            if not event:
                continue
            if isinstance(event, EventCommon):
                event.original_update = update
                event._entities = entities
                event._set_client(self)
            if not builder.resolved:
                await builder.resolve(self)
            allowed = builder.filter(event)
            if inspect.isawaitable(allowed):
                allowed = await allowed
            if allowed:
                await callback(event)

    async def run_until_disconnected(self) -> None:
        while self.connected:
            await asyncio.sleep(0)

    async def get_dialogs(self, limit: float = None, **kwargs: Any):
        return list(self.telegram.dialogs.get(self.account_id, []))

    # Server handlers -----------------------------------------------------------------------
    def _on_ResolveUsernameRequest(self, request):
        user = next(
            (
                u
                for u in self.telegram.users.values()
                if (u.username or "").lower() == request.username.lower()
            ),
            None,
        )
        if user is None:
            raise tg.UsernameNotOccupiedError(request=request)
        return types.contacts.ResolvedPeer(
            peer=types.PeerUser(user.id), chats=[], users=[self._as_seen(user)]
        )

    def _on_ImportContactsRequest(self, request):
        if self.account.user.bot:
            raise tg.BotMethodInvalidError(request=request)
        imported, users = [], []
        for contact in request.contacts:
            user = next(
                (u for u in self.telegram.users.values() if u.phone == contact.phone.lstrip("+")), None
            )
            if user is not None:
                self.account.contacts.add(user.id)
                imported.append(types.ImportedContact(user_id=user.id, client_id=contact.client_id))
                users.append(self._as_seen(user))
        return types.contacts.ImportedContacts(
            imported=imported, popular_invites=[], retry_contacts=[], users=users
        )

    def _on_DeleteContactsRequest(self, request):
        for input_user in request.id:
            self.account.contacts.discard(input_user.user_id)
        return types.Updates(updates=[], users=[], chats=[], date=_now(), seq=0)

    def _on_SendMessageRequest(self, request):
        message_id = self._deliver(request, request.message)
        return types.UpdateShortSentMessage(id=message_id, pts=message_id, pts_count=1, date=_now(), out=True)

    def _on_SendMediaRequest(self, request):
        media = request.media
        if isinstance(media, (types.InputMediaPhoto, types.InputMediaDocument)):
            ref = media.id.file_reference
            if ref != self._file_reference():
                raise tg.FileReferenceExpiredError(request=request)
        message_id = self._deliver(request, request.message)
        stored = self._stored_media(media)
        message = types.Message(
            id=message_id, peer_id=request.peer, date=_now(), message=request.message, out=True, media=stored
        )
        return types.Updates(
            updates=[
                types.UpdateMessageID(id=message_id, random_id=request.random_id),
                types.UpdateNewMessage(message=message, pts=message_id, pts_count=1),
            ],
            users=[],
            chats=[],
            date=_now(),
            seq=0,
        )

    def _on_GetPeerDialogsRequest(self, request):
        if self.account.user.bot:
            raise tg.BotMethodInvalidError(request=request)
        account_id = self.account.user.id
        dialogs, messages, users = [], [], []
        for dialog_peer in request.peers:
            peer = dialog_peer.peer
            user_id = getattr(peer, "user_id", None)
            if user_id not in self.telegram.users:
                raise tg.PeerIdInvalidError(request=request)
            if peer.access_hash != self.telegram.access_hash(account_id, user_id):
                raise tg.PeerIdInvalidError(request=request)
            chat = self.telegram.chats.get((account_id, user_id))
            if not chat:
                continue  # no dialog with them: Telegram leaves it out
            read_inbox = self.telegram.read_inbox.get((account_id, user_id), 0)
            dialogs.append(
                types.Dialog(
                    peer=types.PeerUser(user_id),
                    top_message=chat[-1].id,
                    read_inbox_max_id=read_inbox,
                    read_outbox_max_id=self.telegram.read_outbox.get((account_id, user_id), 0),
                    unread_count=sum(1 for m in chat if not m.out and m.id > read_inbox),
                    unread_mentions_count=0,
                    unread_reactions_count=0,
                    unread_poll_votes_count=0,
                    notify_settings=types.PeerNotifySettings(),
                )
            )
            messages.append(chat[-1])
            users.append(self._as_seen(self.telegram.users[user_id]))
        state = types.updates.State(pts=1, qts=0, date=_now(), seq=0, unread_count=0)
        return types.messages.PeerDialogs(
            dialogs=dialogs, messages=messages, chats=[], users=users, state=state
        )

    def _on_GetHistoryRequest(self, request):
        user_id = request.peer.user_id
        chat = self.telegram.chats.get((self.account.user.id, user_id), [])
        found = [
            m
            for m in reversed(chat)  # newest first, as Telegram answers
            if m.id > request.min_id and (not request.max_id or m.id < request.max_id)
        ][: request.limit]
        users = [self._as_seen(self.telegram.users[user_id])] if user_id in self.telegram.users else []
        return types.messages.Messages(messages=found, topics=[], chats=[], users=users)

    def _on_ReadHistoryRequest(self, request):
        chat = (self.account.user.id, request.peer.user_id)
        self.telegram.read_inbox[chat] = max(self.telegram.read_inbox.get(chat, 0), request.max_id)
        return types.messages.AffectedMessages(pts=1, pts_count=1)

    # Helpers -------------------------------------------------------------------------------
    def _deliver(self, request, text: str = "") -> int:
        account = self.account
        peer = request.peer
        if not isinstance(peer, types.InputPeerUser) or peer.user_id not in self.telegram.users:
            raise tg.PeerIdInvalidError(request=request)
        if peer.access_hash != self.telegram.access_hash(account.user.id, peer.user_id):
            # Access hashes are per account: another session's hash does not work here.
            raise tg.PeerIdInvalidError(request=request)
        if account.user.bot and peer.user_id not in account.started_by:
            raise tg.PeerIdInvalidError(request=request)  # a bot's user never started it
        if request.random_id in account.random_ids:
            raise tg.RandomIdDuplicateError(request=request)
        message_id = next(self.telegram._message_ids)
        account.random_ids[request.random_id] = message_id
        self.telegram.chats.setdefault((account.user.id, peer.user_id), []).append(
            types.Message(
                id=message_id, peer_id=types.PeerUser(peer.user_id), date=_now(), message=text, out=True
            )
        )
        return message_id

    def _file_reference(self) -> bytes:
        return f"ref-{self.telegram.file_reference_version}".encode()

    def _stored_media(self, media):
        stored_id = int.from_bytes(os.urandom(7), "big")
        if isinstance(media, (types.InputMediaUploadedPhoto, types.InputMediaPhoto)):
            photo = types.Photo(
                id=getattr(getattr(media, "id", None), "id", stored_id),
                access_hash=7,
                file_reference=self._file_reference(),
                date=_now(),
                sizes=[types.PhotoSize(type="x", w=800, h=600, size=1000)],
                dc_id=2,
            )
            return types.MessageMediaPhoto(photo=photo)
        attributes = getattr(media, "attributes", [])
        document = types.Document(
            id=getattr(getattr(media, "id", None), "id", stored_id),
            access_hash=9,
            file_reference=self._file_reference(),
            date=_now(),
            mime_type=getattr(media, "mime_type", "application/octet-stream"),
            size=1000,
            dc_id=2,
            attributes=attributes,
        )
        return types.MessageMediaDocument(document=document)

    def _as_seen(self, user: types.User) -> types.User:
        """The user as this account sees it: with this account's access hash."""
        return types.User(
            id=user.id,
            first_name=user.first_name,
            username=user.username,
            phone=user.phone,
            bot=user.bot,
            access_hash=self.telegram.access_hash(self.account.user.id, user.id),
        )

    def _record(self, name: str, **fields: Any) -> None:
        self.telegram.requests.append(Recorded(type=name, account_id=self.account_id, **fields))

    def _maybe_fail(self, name: str, request: Any) -> None:
        error = self.telegram._failure(name, request)
        if error is not None:
            raise error


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(name="telegram")
def telegram_fixture(monkeypatch, settings) -> FakeTelegram:
    """A fresh fake Telegram, patched in where the transport and login build their client.

    Also sets an encryption key and API credentials: the root conftest's environment defaults
    arrive after pytest-django has loaded the settings, so they cannot be relied on here.
    """
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    settings.TELEGRAM_API_ID = 12345
    settings.TELEGRAM_API_HASH = "0123456789abcdef0123456789abcdef"
    world = FakeTelegram()
    monkeypatch.setattr(SESSION_PATH, world.client_class)
    return world


# Requests the tests look for, re-exported so test modules import one place.
SendMessageRequest = functions.messages.SendMessageRequest
SendMediaRequest = functions.messages.SendMediaRequest
ResolveUsernameRequest = functions.contacts.ResolveUsernameRequest
ImportContactsRequest = functions.contacts.ImportContactsRequest
DeleteContactsRequest = functions.contacts.DeleteContactsRequest
GetPeerDialogsRequest = functions.messages.GetPeerDialogsRequest
GetHistoryRequest = functions.messages.GetHistoryRequest
ReadHistoryRequest = functions.messages.ReadHistoryRequest
