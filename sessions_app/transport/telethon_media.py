"""Sending media for one session: each file uploaded once, then the sent copy (its id,
access_hash and file_reference) reused for every later recipient, kept in the media cache beyond
one slice; an expired file_reference is uploaded again and the send retried once with the same
random_id."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from telethon import TelegramClient, functions, types

from .base import MediaCache, MediaSpec, media_file_key
from .errors import telethon_errors


@dataclass
class _MediaState:
    """One file, per session: its upload, and the sent copy that later recipients reuse."""

    uploaded: Any = None  # types.InputFile / InputFileBig from client.upload_file
    reusable: Any = None  # types.InputMediaPhoto / InputMediaDocument (id, access_hash, file_reference)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    uploads: int = 0


def sent_message_id(result: Any, random_id: int) -> int | None:
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


class MediaSender:
    """Sends media messages for one session, remembering each file's upload and sent copy."""

    def __init__(self, media_cache: MediaCache | None = None) -> None:
        self._media: dict[str, _MediaState] = {}
        self.media_cache = media_cache

    async def send(
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
        except telethon_errors("FileReferenceExpiredError"):
            if state.reusable is None:
                raise
            # The sent copy's file_reference expires after hours: upload again, retry once with the
            # same random_id (the failed request delivered nothing).
            state.reusable = state.uploaded = None
            result = await client(request(await self._upload(client, spec, state)))
        reusable = _reusable_input_media(_sent_media(result, sent_message_id(result, random_id)))
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

    def uploads(self, path: str) -> int:
        """How many times ``path`` was uploaded (1 in the normal case)."""
        state = self._media.get(path)
        return state.uploads if state else 0


__all__ = ["MediaSender", "sent_message_id"]
