"""Resolving a recipient key (``@username``, ``+phone``, user id) to an InputPeer for one session:
the session's peer cache first, then one request per key."""

from __future__ import annotations

import secrets

from telethon import TelegramClient, functions, types

from .base import ErrorKind, PeerCache, TransportError


class MemoryPeerCache:
    """PeerCache for a transport built without a store (kept for this instance only)."""

    def __init__(self) -> None:
        self._peers: dict[str, tuple[str, int, int | None]] = {}

    async def get(self, key: str) -> tuple[str, int, int | None] | None:
        return self._peers.get(key)

    async def stale_peer_id(self, key: str) -> int | None:
        return None

    async def put(self, key, peer_type, peer_id, access_hash, *, imported_contact=False) -> None:
        self._peers[key] = (peer_type, peer_id, access_hash)


def input_peer(peer_type: str, peer_id: int, access_hash: int | None) -> types.TypeInputPeer:
    if peer_type == "channel":
        return types.InputPeerChannel(peer_id, access_hash or 0)
    if peer_type == "chat":
        return types.InputPeerChat(peer_id)
    return types.InputPeerUser(peer_id, access_hash or 0)


def _recipient_error(code: str, text: str) -> TransportError:
    return TransportError(ErrorKind.RECIPIENT, code, text)


class PeerResolver:
    """Resolves keys for one session (``kind``: ``user`` or ``bot``) through ``peer_cache``."""

    def __init__(self, kind: str, peer_cache: PeerCache) -> None:
        self.kind = kind
        self.peer_cache = peer_cache

    async def resolve(self, client: TelegramClient, key: str) -> tuple[types.TypeInputPeer, int, int | None]:
        """(InputPeer, peer id, previous peer id) for a recipient key: the peer cache first, then
        one request per key (an expired username is looked up again, flood-limited like any
        request; ``previous peer id`` is the id it had before when it now names someone else).

        Raises TransportError (``recipient`` for keys this session cannot reach).
        """
        cached = await self.peer_cache.get(key)
        if cached:
            return input_peer(*cached), cached[1], None
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
        return input_peer(peer_type, peer_id, access_hash), peer_id, previous

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


__all__ = ["MemoryPeerCache", "PeerResolver", "input_peer"]
