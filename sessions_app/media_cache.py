"""Per-session store of media already sent (:class:`~sessions_app.models.SentMedia`).

A transport instance lives for one slice of sending; without this store every slice would upload
a campaign's file again. With it, a file is uploaded once per account and reused for every
recipient until Telegram expires its file reference.
"""

from __future__ import annotations

import os

from asgiref.sync import sync_to_async

from .models import SentMedia

# (kind, media id, access_hash, file_reference); kind is "photo" or "document".
MediaRef = tuple[str, int, int, bytes]


def file_key(path: str) -> str:
    """``path:size:mtime_ns``: the same file, unchanged. Raises OSError for a missing file."""
    st = os.stat(path)
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"[:600]


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
