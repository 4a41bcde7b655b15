"""The per-account peer cache: :class:`ResolvedPeer` rows, and the store the transport reads them
through (:class:`DatabasePeerCache`).

A StringSession keeps only the DC and auth key, so a peer's ``access_hash`` (per account) would be
lost between processes; resolving again costs a ``contacts.ResolveUsername`` /
``contacts.ImportContacts`` call, which Telegram flood-limits (bursts of ~50 bring long
FloodWaits). Each key is therefore resolved once per session and kept here.
"""

from __future__ import annotations

from datetime import timedelta

from asgiref.sync import sync_to_async
from django.db import models
from django.utils import timezone

from tgcampaigns import conf

PeerTuple = tuple[str, int, int | None]  # (peer_type, peer_id, access_hash)


def username_max_age() -> timedelta:
    """How long a resolved username is trusted (``TGC_USERNAME_MAX_AGE``, seconds): usernames
    change hands, so an older entry is looked up again before the next send to it."""
    return timedelta(seconds=conf.username_max_age())


class ResolvedPeer(models.Model):
    """A recipient key resolved by one account: peer id and that account's ``access_hash``.

    Access hashes are per account, and resolving is itself flood-limited
    (``contacts.ResolveUsername`` bursts of ~50 bring long FloodWaits), so each key is resolved
    once per session and kept here. ``imported_contact``: the peer came from
    ``contacts.ImportContacts`` and may be deleted after the campaign.
    """

    class PeerType(models.TextChoices):
        USER = "user"
        CHAT = "chat"
        CHANNEL = "channel"

    session = models.ForeignKey("TelegramSession", on_delete=models.CASCADE, related_name="peers")
    key = models.CharField(max_length=64)
    peer_type = models.CharField(max_length=10, choices=PeerType.choices, default=PeerType.USER)
    peer_id = models.BigIntegerField()
    access_hash = models.BigIntegerField(null=True, blank=True)
    imported_contact = models.BooleanField(default=False)
    resolved_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "key"], name="peer_unique_per_session")]

    def __str__(self) -> str:
        return f"{self.key} → {self.peer_type}:{self.peer_id}"


class DatabasePeerCache:
    """:class:`~sessions_app.transport.base.PeerCache` for one session, stored in ResolvedPeer.

    Keys are normalised recipient keys (``@username`` lower-cased, ``+E164``, decimal user id).
    A username resolved longer ago than :func:`username_max_age` is not returned: it is looked up
    again. Safe to call from a running event loop (the ORM is reached through ``sync_to_async``).
    """

    def __init__(self, session_id: int):
        self.session_id = session_id

    def _row(self, key: str) -> tuple | None:
        return (
            ResolvedPeer.objects.filter(session_id=self.session_id, key=key)
            .values_list("peer_type", "peer_id", "access_hash", "resolved_at")
            .first()
        )

    @staticmethod
    def _expired(key: str, resolved_at) -> bool:
        return key.startswith("@") and resolved_at < timezone.now() - username_max_age()

    def get_sync(self, key: str) -> PeerTuple | None:
        row = self._row(key)
        if row is None or self._expired(key, row[3]):
            return None
        return tuple(row[:3])

    def stale_peer_id_sync(self, key: str) -> int | None:
        row = self._row(key)
        return row[1] if row is not None and self._expired(key, row[3]) else None

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
        """(peer_type, peer_id, access_hash) for ``key``, or None when this session never resolved
        it or its username entry expired."""
        return await sync_to_async(self.get_sync)(key)

    async def stale_peer_id(self, key: str) -> int | None:
        """The peer id of an expired username entry (to tell whether it changed hands), else None."""
        return await sync_to_async(self.stale_peer_id_sync)(key)

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
