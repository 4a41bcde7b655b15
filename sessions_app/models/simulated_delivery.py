"""The simulator's ledger: what it "delivered", one row per (session, random_id), like Telegram's
de-duplication, so tests and the demo can prove every recipient got exactly one message."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.db import IntegrityError, models, transaction


class SimulatedDelivery(models.Model):
    """One message the simulator "delivered". The unique (session, random_id) makes a second send
    with the same random_id from the same session a ``RANDOM_ID_DUPLICATE``, across processes and
    crashes."""

    session = models.ForeignKey("TelegramSession", on_delete=models.CASCADE, related_name="+")
    random_id = models.BigIntegerField()
    peer_key = models.CharField(max_length=64)
    message_id = models.BigIntegerField()
    text = models.TextField(blank=True)
    media_type = models.CharField(max_length=20, blank=True)
    delivered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "random_id"], name="sim_random_id_unique")]


class DatabaseLedger:
    """The simulator's :class:`~sessions_app.transport.simulator.Ledger` over SimulatedDelivery."""

    def __init__(self, session_id: int):
        self.session_id = session_id

    def record_sync(self, random_id: int, key: str, message_id: int, text: str, media_type: str) -> bool:
        try:
            with transaction.atomic():
                SimulatedDelivery.objects.create(
                    session_id=self.session_id,
                    random_id=random_id,
                    peer_key=key,
                    message_id=message_id,
                    text=text,
                    media_type=media_type,
                )
        except IntegrityError:
            return False
        return True

    async def record(self, random_id: int, key: str, message_id: int, text: str, media_type: str) -> bool:
        """Record one delivery; False when this session already delivered ``random_id``."""
        return await sync_to_async(self.record_sync)(random_id, key, message_id, text, media_type)

    def sent_sync(self, keys) -> list[tuple[str, int, object]]:
        return list(
            SimulatedDelivery.objects.filter(session_id=self.session_id, peer_key__in=list(keys)).values_list(
                "peer_key", "message_id", "delivered_at"
            )
        )

    async def sent(self, keys) -> list[tuple[str, int, object]]:
        """(key, message id, delivered at) of this session's deliveries to ``keys``."""
        return await sync_to_async(self.sent_sync)(keys)
