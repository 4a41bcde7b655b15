"""Media validation against Telegram's limits, by content (never by file name).

``inspect_media(path)`` reads the file and returns what will be sent (:class:`MediaInfo`) or
raises :class:`MediaRefused` with a reason staff can act on. The limits (docs/design.md "Limits the
validators encode"):

- photo: at most 10 MB, width + height at most 10000 pixels, aspect ratio at most 20
  (Bot API, sendPhoto: "The photo must be at most 10 MB in size. The photo's width and height
  must not exceed 10000 in total. Width and height ratio must be at most 20."); Telegram answers
  PHOTO_INVALID_DIMENSIONS / PHOTO_SAVE_FILE_INVALID otherwise.
- any other file: at most 2000 MiB, the MTProto upload limit for accounts without Premium
  (core.telegram.org/api/files: 4000 parts of 512 KiB via upload.saveBigFilePart).
- voice notes: OGG with Opus (core.telegram.org/api/files#voice-messages); any other audio is
  shown as a music file, not a voice note.

What is sent is what staff saw (:mod:`.images`): a WebP photo is converted to PNG, a photo with an
EXIF orientation is turned upright (and its displayed size given), an animated image goes as a
document, never as a still photo; ``MediaInfo.conversion`` records it and :meth:`MediaInfo.to_spec`
hands the transport the converted file. A file whose name promises one type while its content is
another (a ZIP archive or an HTML page named ``.pdf``) is named for what it is.
"""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import asdict, astuple, dataclass, fields
from typing import Any

import filetype

from sessions_app.transport.base import MediaSpec

from . import filetypes, images, video

PHOTO_MAX_BYTES = 10 * 1000 * 1000  # Bot API: "at most 10 MB"
PHOTO_MAX_DIMENSIONS_SUM = 10000
PHOTO_MAX_RATIO = 20
FILE_MAX_BYTES = 2000 * 1024 * 1024  # 2000 MiB

PHOTO = "photo"
VIDEO = "video"
DOCUMENT = "document"
AUDIO = "audio"
VOICE = "voice"
MEDIA_TYPES = (PHOTO, VIDEO, DOCUMENT, AUDIO, VOICE)

# Formats Telegram turns into a photo; others (GIF, TIFF, …) go as documents.
_PHOTO_MIMES = {"image/jpeg", "image/png", "image/webp", "image/bmp"}
# ISO base media files: MP4, QuickTime, M4V.
_ISO_BMFF_MIMES = {"video/mp4", "video/quicktime", "video/x-m4v", "video/3gpp"}


class MediaRefused(Exception):
    """The file cannot be sent as asked; ``str(exc)`` says why, for staff."""


@dataclass(frozen=True)
class MediaInfo:
    """A validated media file. ``size`` in bytes, ``width``/``height`` in pixels, ``duration``
    in seconds (None where it does not apply); ``file_name`` is the base name as uploaded;
    ``note``: what staff should know about how it goes (an image sent as a document says why it
    is no photo), decided once at inspection."""

    media_type: str
    mime_type: str
    size: int
    file_name: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    supports_streaming: bool = False
    note: str = ""
    conversion: str = ""  # images.CONVERSIONS: the file is converted before upload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MediaInfo:
        """The inverse of :meth:`as_json` (keys it does not know are left out)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_spec(self, path: str) -> MediaSpec:
        """The transport's view of the original file at ``path``: the file to upload is the
        converted one beside it when :attr:`conversion` says so (written now if missing)."""
        size = self.size
        if self.conversion:
            path = images.ensure_derived(path, self.conversion, self.mime_type)
            size = os.path.getsize(path)
        return MediaSpec(
            path=path,
            media_type=self.media_type,
            mime_type=self.mime_type,
            file_name=self.file_name,
            size=size,
            width=self.width,
            height=self.height,
            duration=self.duration,
            supports_streaming=self.supports_streaming,
        )

    def as_json(self) -> dict[str, Any]:
        """For ``Campaign.media_info``."""
        return asdict(self)


def inspect_media(path: str, media_type: str | None = None, file_name: str = "") -> MediaInfo:
    """Inspect the file at ``path`` and validate it as ``media_type``. ``file_name``: the name the
    file was uploaded with (default: ``path``'s last part; the storage may have renamed it),
    which its content is checked against and Telegram is given.

    ``media_type``: ``photo`` | ``video`` | ``document`` | ``audio`` | ``voice``, or None/"" to
    take the natural type of the content (an image Telegram would refuse as a photo then goes as
    a document; a file whose name promises an image, video or audio its content is not is
    refused). Raises :class:`MediaRefused` (empty file, too large, corrupt image, content
    that is not the asked type) and ``ValueError`` for an unknown ``media_type``.
    """
    if media_type and media_type not in MEDIA_TYPES:
        raise ValueError(f"unknown media type {media_type!r}")
    size = os.path.getsize(path)
    if size == 0:
        raise MediaRefused("the file is empty")
    if size > FILE_MAX_BYTES:
        raise MediaRefused(f"the file is {_mib(size)}; Telegram accepts at most 2000 MiB")
    kind = filetype.guess(path)
    mime = kind.mime if kind else filetypes.fallback_mime(path)
    base = {"mime_type": mime, "size": size, "file_name": file_name or os.path.basename(path)}

    if media_type == DOCUMENT:
        # Any non-empty file within the size limit can be sent as a document, whatever its name;
        # a name that hides what the content is gets said.
        note = _why_no_photo(path, base, size) or filetypes.disguise(base["file_name"], mime)
        return MediaInfo(media_type=DOCUMENT, note=note, **base)
    if media_type == PHOTO:
        return _photo(path, base, size)
    if media_type == VIDEO:
        return _video(path, base)
    if media_type == VOICE:
        return _voice(path, base)
    if media_type == AUDIO:
        return _audio(path, base)
    return _natural(path, base, size)


def _natural(path: str, base: dict[str, Any], size: int) -> MediaInfo:
    mime = base["mime_type"]
    try:
        filetypes.refuse_disguised(base["file_name"], mime)
    except filetypes.Disguised as exc:
        raise MediaRefused(str(exc)) from None
    if disguise := filetypes.disguise(base["file_name"], mime):
        raise MediaRefused(f"{disguise}: rename it, or choose Document to send it as a file anyway")
    if mime in _PHOTO_MIMES:
        try:
            return _photo(path, base, size)
        except _NotAPhoto as exc:
            # Valid image, beyond a photo's limits: Telegram still takes it as a document.
            return MediaInfo(media_type=DOCUMENT, note=f"sent as a document: {exc}", **base)
    if mime.startswith("video/"):
        return _video(path, base)
    if mime in ("audio/ogg", "audio/opus") and _opus_duration(path) is not None:
        return _voice(path, base)
    if mime.startswith("audio/"):
        return _audio(path, base)
    return MediaInfo(media_type=DOCUMENT, **base)


class _NotAPhoto(MediaRefused):
    """A sound image outside Telegram's photo limits (still a valid document)."""


def _why_no_photo(path: str, base: dict[str, Any], size: int) -> str:
    """For an image staff chose to send as a document: why it could not be a photo, or ""."""
    if base["mime_type"] not in _PHOTO_MIMES:
        return ""
    try:
        _photo(path, base, size)
    except MediaRefused as exc:
        return f"sent as a document: {exc}"
    return ""


def _photo(path: str, base: dict[str, Any], size: int) -> MediaInfo:
    from PIL import Image, UnidentifiedImageError

    if base["mime_type"] not in _PHOTO_MIMES:
        raise MediaRefused(f"the content is not a photo (it is {base['mime_type']})")
    try:
        width, height = _declared_size(path, base["mime_type"])
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaRefused(f"the image is corrupt ({exc})") from None
    # A few bytes can declare 20000×20000 pixels (a "decompression bomb"). Pillow refuses to open
    # such an image (DecompressionBombError, not an OSError) or warns; either way it is far beyond
    # a photo's 10000-pixel limit, so it is judged from its header and never decoded.
    too_large = _NotAPhoto(
        f"image too large to decode: {width}×{height} pixels; "
        f"Telegram photos need width + height ≤ {PHOTO_MAX_DIMENSIONS_SUM}"
    )
    if Image.MAX_IMAGE_PIXELS is not None and width * height > Image.MAX_IMAGE_PIXELS:
        raise too_large
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.verify()  # structure and checksums (PNG CRCs); needs a fresh open to load
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_large from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MediaRefused(f"the image is corrupt ({exc})") from None
    if size > PHOTO_MAX_BYTES:
        raise _NotAPhoto(f"a photo may be at most 10 MB; this one is {size / 1e6:.1f} MB")
    if width + height > PHOTO_MAX_DIMENSIONS_SUM:
        raise _NotAPhoto(f"width + height is {width + height} pixels; a photo may have at most 10000")
    ratio = max(width, height) / max(1, min(width, height))
    if ratio > PHOTO_MAX_RATIO:
        raise _NotAPhoto(f"the aspect ratio is {ratio:g}; a photo may be at most 20:1")
    try:
        # verify() does not decode pixels: only a full load finds a truncated JPEG. The limits
        # above bound this to 25 megapixels.
        with Image.open(path) as image:
            image.load()
        sent = images.plan(path, base["mime_type"], size)
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaRefused(f"the image is corrupt ({exc})") from None
    if sent.frames > 1:
        raise _NotAPhoto(
            f"an animated image ({sent.frames} frames): as a photo only its first frame would arrive"
        )
    if sent.size > PHOTO_MAX_BYTES:
        raise _NotAPhoto(f"a photo may be at most 10 MB; converted for upload it is {sent.size / 1e6:.1f} MB")
    return MediaInfo(
        media_type=PHOTO,
        mime_type=sent.mime_type,
        size=sent.size,
        file_name=images.sent_name(base["file_name"], sent.conversion, sent.mime_type),
        width=sent.width,
        height=sent.height,
        note=sent.note,
        conversion=sent.conversion,
    )


def _declared_size(path: str, mime: str) -> tuple[int, int]:
    """(width, height) as the header of the photo-format file at ``path`` declares them. Reads
    the header only, through the format's own Pillow plugin class: unlike ``Image.open``, it
    runs no decompression-bomb check, so the size of an oversized image can still be told.
    Raises ``SyntaxError``/``OSError`` for a header that is not of that format."""
    from PIL import BmpImagePlugin, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

    plugin = {
        "image/jpeg": JpegImagePlugin.JpegImageFile,
        "image/png": PngImagePlugin.PngImageFile,
        "image/webp": WebPImagePlugin.WebPImageFile,
        "image/bmp": BmpImagePlugin.BmpImageFile,
    }[mime]
    with plugin(path) as image:
        return image.size


def _video(path: str, base: dict[str, Any]) -> MediaInfo:
    mime = base["mime_type"]
    if not mime.startswith("video/"):
        raise MediaRefused(f"the content is not a video (it is {mime})")
    # PyAV (FFmpeg) reads fragmented MP4 as browsers and phones write it, and WebM (issue 19.5).
    duration, width, height = astuple(video.read_video(path))
    if duration is None:
        raise MediaRefused("the video is corrupt: its duration cannot be read")
    # Telegram clients fetch any part of a file by offset, so an MP4 streams even when its
    # moov index sits after the media data (they read it first); supports_streaming only needs
    # a sound ISO-BMFF file with both boxes. Other containers are sent as plain videos.
    streaming = mime in _ISO_BMFF_MIMES and {b"moov", b"mdat"} <= set(_top_level_boxes(path))
    return MediaInfo(
        media_type=VIDEO,
        width=width,
        height=height,
        duration=duration,
        supports_streaming=streaming,
        **base,
    )


def _voice(path: str, base: dict[str, Any]) -> MediaInfo:
    duration = _opus_duration(path)
    if duration is None:
        raise MediaRefused(f"a voice note must be OGG with Opus audio (this is {base['mime_type']})")
    return MediaInfo(media_type=VOICE, duration=duration, **{**base, "mime_type": "audio/ogg"})


def _audio(path: str, base: dict[str, Any]) -> MediaInfo:
    import mutagen

    if not base["mime_type"].startswith("audio/"):
        raise MediaRefused(f"the content is not audio (it is {base['mime_type']})")
    try:
        audio = mutagen.File(path)
    except mutagen.MutagenError as exc:
        raise MediaRefused(f"the audio is corrupt ({exc})") from None
    if audio is None or not getattr(audio.info, "length", None):
        raise MediaRefused("the audio is corrupt: its duration cannot be read")
    return MediaInfo(media_type=AUDIO, duration=float(audio.info.length), **base)


def _opus_duration(path: str) -> float | None:
    from mutagen import MutagenError
    from mutagen.oggopus import OggOpus

    try:
        return float(OggOpus(path).info.length)
    except (MutagenError, OSError):
        return None


def _top_level_boxes(path: str) -> list[bytes]:
    """The types of an ISO-BMFF file's top-level boxes, in order (``ftyp``, ``moov``, ``mdat``…);
    stops at the first box that does not fit the file."""
    boxes: list[bytes] = []
    size = os.path.getsize(path)
    with open(path, "rb") as stream:
        offset = 0
        while offset + 8 <= size:
            stream.seek(offset)
            length, kind = struct.unpack(">I4s", stream.read(8))
            if length == 1:  # 64-bit size follows the type
                length = struct.unpack(">Q", stream.read(8))[0]
            elif length == 0:  # box runs to the end of the file
                length = size - offset
            if length < 8 or offset + length > size:
                break
            boxes.append(kind)
            offset += length
    return boxes


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.0f} MiB"
