"""Contact clean-up after a campaign: delete the contacts a session imported to reach phones."""

from __future__ import annotations

from asgiref.sync import async_to_sync

from . import leases
from .models import ResolvedPeer, TelegramSession


def forget_imported_contacts(session: TelegramSession) -> int | None:
    """Delete from the account's contacts the users this session imported to reach phones.

    Sends one ``contacts.DeleteContacts`` with every imported user, then clears the
    ``imported_contact`` flag (the ResolvedPeer stays: the access_hash remains valid). Used after a
    campaign when ``TGC_DELETE_IMPORTED_CONTACTS``. Returns how many contacts were deleted,
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

    async def delete() -> None:
        transport = session.transport()
        await transport.connect()
        try:
            await transport.delete_contacts(
                [(peer_id, access_hash or 0) for _, peer_id, access_hash in peers]
            )
        finally:
            await transport.disconnect()

    with leases.holding([session], leases.owner_name("contacts")) as taken:
        if not taken:
            return None
        async_to_sync(delete)()
    ResolvedPeer.objects.filter(pk__in=[pk for pk, _, _ in peers]).update(imported_contact=False)
    return len(peers)
