"""After the send, over Telethon: read marks, replies and the catch-up (used by
:class:`~sessions_app.transport.telethon_transport.TelethonTransport`).

Live, while a listener holds the session:

- ``UpdateReadHistoryOutbox`` (``peer``, ``max_id``): the peer read our messages up to ``max_id``
  (core.telegram.org/constructor/updateReadHistoryOutbox). User accounts only: bots get none.
- ``UpdateNewMessage`` in a private chat, incoming: a reply (through ``events.NewMessage``).

Catch-up, for what arrived while nobody listened (a StringSession keeps no update state, so
Telethon cannot replay it):

- ``messages.getPeerDialogs`` for up to :data:`~.base.DIALOG_PEERS_PER_REQUEST` peers per request
  (its ``read_outbox_max_id`` is the read mark; bots may not call it);
- ``messages.getHistory`` with ``min_id`` for a peer whose dialog has messages newer than the
  last one recorded;
- ``messages.readHistory`` only when staff chose to mark replies read.

Every failure leaves as a :class:`~.base.TransportError` (``sessions_app.transport.errors.classify``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from telethon import TelegramClient, events, functions, types

from .base import (
    DIALOG_PEERS_PER_REQUEST,
    DialogState,
    Incoming,
    IncomingCallback,
    PeerRef,
    ReadCallback,
    TransportError,
)
from .errors import chained, classify


def input_peer(peer: PeerRef) -> types.InputPeerUser:
    return types.InputPeerUser(peer.peer_id, peer.access_hash or 0)


def incoming_of(message: Any, users: dict[int, Any]) -> Incoming | None:
    """The :class:`Incoming` for a ``types.Message`` a user sent us in a private chat, else None
    (our own messages, service messages, groups and channels)."""
    if (
        not isinstance(message, types.Message)
        or message.out
        or not isinstance(message.peer_id, types.PeerUser)
    ):
        return None
    sender = users.get(message.peer_id.user_id)
    return Incoming(
        peer_id=message.peer_id.user_id,
        message_id=message.id,
        text=message.message or "",
        date=message.date,
        username=getattr(sender, "username", None),
        bot=bool(getattr(sender, "bot", False)),
    )


async def watch(
    client: TelegramClient,
    *,
    bot: bool,
    on_read: ReadCallback | None,
    on_incoming: IncomingCallback,
    stop: asyncio.Event | None = None,
    catch_up_unread: bool = True,
) -> None:
    """Feed read marks to ``on_read(peer_id, max_id)`` (user accounts) and incoming private
    messages from users (not bots) to ``on_incoming`` until ``stop`` is set or the client
    disconnects.

    ``catch_up_unread``: first, the last message of each unread private dialog (the newest 100
    dialogs) is reported, for what arrived while another process held the session. Raises
    TransportError.
    """

    async def read(update: types.UpdateReadHistoryOutbox) -> None:
        if isinstance(update.peer, types.PeerUser):
            await on_read(update.peer.user_id, update.max_id)

    async def new_message(event: events.NewMessage.Event) -> None:
        sender = await event.get_sender()
        if getattr(sender, "bot", False):
            return
        users = {event.chat_id: sender} if sender is not None else {}
        found = incoming_of(event.message, users)
        if found is not None:
            await on_incoming(found)

    handlers: list[tuple[Any, Any]] = [
        (new_message, events.NewMessage(incoming=True, func=lambda e: e.is_private)),
    ]
    if on_read is not None and not bot:
        handlers.append((read, events.Raw(types.UpdateReadHistoryOutbox)))
    for callback, builder in handlers:
        client.add_event_handler(callback, builder)
    try:
        if catch_up_unread:
            await _catch_up_unread(client, on_incoming)
        if stop is not None:
            await stop.wait()
        else:
            await client.run_until_disconnected()
    except TransportError:
        raise
    except Exception as exc:
        error = classify(exc)
        raise error from chained(error, exc)
    finally:
        for callback, _ in handlers:
            client.remove_event_handler(callback)


async def _catch_up_unread(client: TelegramClient, on_incoming: IncomingCallback) -> None:
    """Report the last message of each unread private dialog from a user (the newest 100)."""
    for dialog in await client.get_dialogs(limit=100):
        last = dialog.message
        entity = dialog.entity
        if not (dialog.is_user and dialog.unread_count and last is not None and not last.out):
            continue
        if getattr(entity, "bot", False):
            continue
        await on_incoming(
            Incoming(
                peer_id=entity.id,
                message_id=last.id,
                text=last.message or "",
                date=last.date,
                username=getattr(entity, "username", None),
            )
        )


async def dialog_states(client: TelegramClient, peers: Sequence[PeerRef]) -> list[DialogState]:
    """One ``messages.getPeerDialogs`` for ``peers`` (at most DIALOG_PEERS_PER_REQUEST, a limit
    we assume: Telegram publishes none). Raises ValueError for more, TransportError on failure."""
    if len(peers) > DIALOG_PEERS_PER_REQUEST:
        raise ValueError(f"at most {DIALOG_PEERS_PER_REQUEST} peers per request, got {len(peers)}")
    if not peers:
        return []
    request = functions.messages.GetPeerDialogsRequest(
        peers=[types.InputDialogPeer(peer=input_peer(p)) for p in peers]
    )
    try:
        result = await client(request)
    except Exception as exc:
        error = classify(exc)
        raise error from chained(error, exc)
    return [
        DialogState(
            peer_id=d.peer.user_id,
            read_outbox_max_id=d.read_outbox_max_id,
            top_message=d.top_message,
            read_inbox_max_id=d.read_inbox_max_id,
            unread_count=d.unread_count,
        )
        for d in result.dialogs
        if isinstance(d, types.Dialog) and isinstance(d.peer, types.PeerUser)
    ]


async def history_after(
    client: TelegramClient, peer: PeerRef, min_id: int, *, limit: int = 100
) -> list[Incoming]:
    """The peer's messages to us above ``min_id`` (one ``messages.getHistory`` page of at most
    ``limit``, newest first). Raises TransportError."""
    request = functions.messages.GetHistoryRequest(
        peer=input_peer(peer),
        offset_id=0,
        offset_date=None,
        add_offset=0,
        limit=limit,
        max_id=0,
        min_id=min_id,
        hash=0,
    )
    try:
        result = await client(request)
    except Exception as exc:
        error = classify(exc)
        raise error from chained(error, exc)
    users = {u.id: u for u in getattr(result, "users", [])}
    found = [incoming_of(m, users) for m in result.messages if m.id > min_id]
    return [m for m in found if m is not None and not m.bot]


async def mark_read(client: TelegramClient, peer: PeerRef, max_id: int) -> None:
    """``messages.readHistory`` up to ``max_id``: the account's owner no longer sees the reply as
    new. Raises TransportError."""
    try:
        await client(functions.messages.ReadHistoryRequest(peer=input_peer(peer), max_id=max_id))
    except Exception as exc:
        error = classify(exc)
        raise error from chained(error, exc)
