"""The per-session peer cache over :class:`~sessions_app.models.ResolvedPeer`, and contact cleanup.

A StringSession keeps only the DC and auth key, so a peer's ``access_hash`` (per account) would be
lost between processes; resolving again costs a ``contacts.ResolveUsername`` /
``contacts.ImportContacts`` call, which Telegram flood-limits (bursts of ~50 bring long
FloodWaits). Each key is therefore resolved once per session and kept here.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync, sync_to_async

from . import leases
from .models import ResolvedPeer, TelegramSession

PeerTuple = tuple[str, int, int | None]  # (peer_type, peer_id, access_hash)


class DatabasePeerCache:
    """:class:`~sessions_app.transport.base.PeerCache` for one session, stored in ResolvedPeer.

    Keys are normalised recipient keys (``@username`` lower-cased, ``+E164``, decimal user id).
    Safe to call from a running event loop (the ORM is reached through ``sync_to_async``).
    """

    def __init__(self, session: TelegramSession | int):
        self.session_id = session if isinstance(session, int) else session.pk

    def get_sync(self, key: str) -> PeerTuple | None:
        row = (
            ResolvedPeer.objects.filter(session_id=self.session_id, key=key)
            .values_list("peer_type", "peer_id", "access_hash")
            .first()
        )
        return tuple(row) if row else None

    def put_sync(
        self,
        key: str,
        peer_type: str,
        peer_id: int,
        access_hash: int | None,
        *,
        imported_contact: bool = False,
    ) -> None:
        defaults = {"peer_type": peer_type, "peer_id": peer_id, "access_hash": access_hash}
        if imported_contact:
            # Never clear the flag: a peer once imported stays a contact until cleaned up.
            defaults["imported_contact"] = True
        ResolvedPeer.objects.update_or_create(session_id=self.session_id, key=key, defaults=defaults)

    async def get(self, key: str) -> PeerTuple | None:
        """(peer_type, peer_id, access_hash) for ``key``, or None when this session never resolved it."""
        return await sync_to_async(self.get_sync)(key)

    async def put(
        self,
        key: str,
        peer_type: str,
        peer_id: int,
        access_hash: int | None,
        *,
        imported_contact: bool = False,
    ) -> None:
        """Remember a resolved peer for this session (insert or update)."""
        await sync_to_async(self.put_sync)(
            key, peer_type, peer_id, access_hash, imported_contact=imported_contact
        )


def forget_imported_contacts(session: TelegramSession) -> int | None:
    """Delete from the account's contacts the users this session imported to reach phones.

    Sends one ``contacts.DeleteContacts`` with every imported user, then clears the
    ``imported_contact`` flag (the ResolvedPeer stays: the access_hash remains valid). Used after a
    campaign when ``settings.TGC_DELETE_IMPORTED_CONTACTS``. Returns how many contacts were deleted,
    or None when another process holds the session's lease (nothing done: call again later).
    Raises :class:`~sessions_app.transport.base.TransportError`.

    Caution: Telegram does not say whether an imported phone was already a contact, so a contact
    the account had before is deleted too. Use dedicated sending accounts.
    """
    peers = list(
        ResolvedPeer.objects.filter(
            session=session, imported_contact=True, peer_type=ResolvedPeer.PeerType.USER
        ).values_list("pk", "peer_id", "access_hash")
    )
    if not peers:
        return 0
    from .transport.telethon_transport import TelethonTransport

    async def _delete() -> None:
        transport = TelethonTransport(session)
        await transport.connect()
        try:
            await transport.delete_contacts(
                [(peer_id, access_hash or 0) for _, peer_id, access_hash in peers]
            )
        finally:
            await transport.disconnect()

    owner = leases.owner_name("contacts")
    if not leases.take(session, owner):
        return None
    try:
        async_to_sync(_delete)()
    finally:
        leases.release([session.pk], owner)
    ResolvedPeer.objects.filter(pk__in=[pk for pk, _, _ in peers]).update(imported_contact=False)
    return len(peers)
