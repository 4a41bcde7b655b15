"""Photos as staff see them, made into files Telegram shows the same way.

Telegram shows a photo as its pixels are stored: it ignores a JPEG's EXIF orientation (a portrait
taken on a phone arrives on its side) and does not take WebP as a photo (raw WebP goes out as a
sticker-like file). So before upload:

- a WebP photo is converted to PNG (lossless; JPEG at quality 90 when the PNG would be over the
  10 MB photo limit);
- an image whose EXIF orientation is not "upright" (2–8) is turned upright and saved as JPEG
  (quality 95), or PNG for a PNG;
- an animated image (WebP, PNG, GIF with more than one frame) is no photo: as a photo only its
  first frame would arrive.

:func:`plan` decides at inspection (encoding in memory to know the result's size);
:func:`derived_path` / :func:`ensure_derived` write the converted file next to the original
(``photo.webp`` → ``photo.webp.tgc-png.png``), when the engine builds what it sends, and again
whenever the original is newer. Nothing here knows about models.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass

PNG = "png"
JPEG = "jpeg"
UPRIGHT = "upright"
CONVERSIONS = (PNG, JPEG, UPRIGHT)
EXIF_ORIENTATION = 0x0112
_SWAPS_SIDES = {5, 6, 7, 8}  # orientations that turn the image a quarter


@dataclass(frozen=True)
class Plan:
    """What a photo needs before upload: ``conversion`` ("" for none, else one of
    :data:`CONVERSIONS`), the displayed ``width``/``height``, the sent ``mime_type`` and ``size``
    (bytes), ``frames`` (more than one: an animation), and a ``note`` for staff."""

    conversion: str
    width: int
    height: int
    mime_type: str
    size: int
    frames: int = 1
    note: str = ""


def plan(path: str, mime_type: str, size: int) -> Plan:
    """The plan for the (sound, already verified) image at ``path``."""
    from PIL import Image

    with Image.open(path) as image:
        frames = getattr(image, "n_frames", 1)
        orientation = image.getexif().get(EXIF_ORIENTATION, 1)
        width, height = image.size
    if orientation in _SWAPS_SIDES:
        width, height = height, width
    if frames > 1:
        return Plan("", width, height, mime_type, size, frames=frames)
    if mime_type == "image/webp":
        data, conversion = _encode(path, PNG)
        if len(data) > 10 * 1000 * 1000:
            data, conversion = _encode(path, JPEG)
        kind = "PNG" if conversion == PNG else "JPEG"
        note = f"converted from WebP to {kind} before upload: Telegram does not take WebP as a photo"
        return Plan(conversion, width, height, f"image/{conversion}", len(data), note=note)
    if orientation not in (None, 1):
        data, _ = _encode(path, UPRIGHT)
        note = (
            f"turned upright before upload (EXIF orientation {orientation}): Telegram shows the pixels as "
            f"stored, so it is sent as {width}×{height}, as shown here"
        )
        return Plan(UPRIGHT, width, height, _upright_mime(mime_type), len(data), note=note)
    return Plan("", width, height, mime_type, size)


def _upright_mime(mime_type: str) -> str:
    return "image/png" if mime_type == "image/png" else "image/jpeg"


def _encode(path: str, conversion: str) -> tuple[bytes, str]:
    """The converted image's bytes, and the conversion that made them."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        upright = ImageOps.exif_transpose(image)
        out = io.BytesIO()
        if conversion == PNG or (conversion == UPRIGHT and image.format == "PNG"):
            upright.save(out, format="PNG", optimize=True)
        else:
            rgb = upright if upright.mode in ("RGB", "L") else _on_white(upright)
            quality = 95 if conversion == UPRIGHT else 90
            icc = image.info.get("icc_profile")
            rgb.save(out, format="JPEG", quality=quality, **({"icc_profile": icc} if icc else {}))
    return out.getvalue(), conversion


def _on_white(image):
    """``image`` flattened on white (JPEG has no transparency)."""
    from PIL import Image

    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def extension(mime_type: str) -> str:
    return ".png" if mime_type == "image/png" else ".jpg"


def sent_name(file_name: str, conversion: str, mime_type: str) -> str:
    """The name recipients see: ``lossless.webp`` → ``lossless.png``."""
    if not conversion:
        return file_name
    return os.path.splitext(file_name)[0] + extension(mime_type)


def derived_path(path: str, conversion: str, mime_type: str) -> str:
    """Where the converted file of the original at ``path`` lives: beside it."""
    return f"{path}.tgc-{conversion}{extension(mime_type)}"


def ensure_derived(path: str, conversion: str, mime_type: str) -> str:
    """The converted file of ``path``, written if it is missing or older than the original;
    in the temporary folder when the original's folder cannot be written."""
    target = derived_path(path, conversion, mime_type)
    try:
        if os.path.getmtime(target) >= os.path.getmtime(path):
            return target
    except OSError:
        pass
    data, _ = _encode(path, conversion)
    for candidate in (target, os.path.join(tempfile.gettempdir(), "tgc-media", target.lstrip(os.sep))):
        try:
            os.makedirs(os.path.dirname(candidate), exist_ok=True)
            partial = candidate + ".part"
            with open(partial, "wb") as out:
                out.write(data)
            os.replace(partial, candidate)  # a reader never sees half a file
            return candidate
        except OSError:
            continue
    raise OSError(f"cannot write the converted media file {target}")
