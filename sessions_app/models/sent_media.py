"""Media already sent, per account: :class:`SentMedia` rows and the store the transport reads them
through (:class:`DatabaseMediaCache`).

A transport instance lives for one slice of sending; without this store every slice would upload
a campaign's file again. With it, a file is uploaded once per account and reused for every
recipient until Telegram expires its file reference.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.db import models

from ..transport.base import MediaRef


class SentMedia(models.Model):
    """A media file this account has already sent, to reuse instead of uploading it again.

    Uploads are per account; the sent copy (photo or document: id, access_hash, file_reference)
    can be sent to further recipients without re-uploading. ``file_key`` is the file's path, size
    and modification time, so an edited file is uploaded again. Telegram's file_reference expires
    after hours (FILE_REFERENCE_EXPIRED): the transport then uploads again and updates the row.
    """

    session = models.ForeignKey("TelegramSession", on_delete=models.CASCADE, related_name="+")
    file_key = models.CharField(max_length=600)
    kind = models.CharField(max_length=10)  # photo | document
    media_id = models.BigIntegerField()
    access_hash = models.BigIntegerField()
    file_reference = models.BinaryField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "file_key"], name="sent_media_unique")]


class DatabaseMediaCache:
    """Sent media of one session, reached from a running event loop through ``sync_to_async``."""

    def __init__(self, session_id: int):
        self.session_id = session_id

    def get_sync(self, key: str) -> MediaRef | None:
        row = (
            SentMedia.objects.filter(session_id=self.session_id, file_key=key)
            .values_list("kind", "media_id", "access_hash", "file_reference")
            .first()
        )
        return (row[0], row[1], row[2], bytes(row[3])) if row else None

    def put_sync(self, key: str, ref: MediaRef | None) -> None:
        """Store ``ref`` for ``key``; None forgets it (its file reference expired)."""
        if ref is None:
            SentMedia.objects.filter(session_id=self.session_id, file_key=key).delete()
            return
        kind, media_id, access_hash, file_reference = ref
        SentMedia.objects.update_or_create(
            session_id=self.session_id,
            file_key=key,
            defaults={
                "kind": kind,
                "media_id": media_id,
                "access_hash": access_hash,
                "file_reference": file_reference,
            },
        )

    async def get(self, key: str) -> MediaRef | None:
        return await sync_to_async(self.get_sync)(key)

    async def put(self, key: str, ref: MediaRef | None) -> None:
        await sync_to_async(self.put_sync)(key, ref)
