"""What a file is, by its content, and names that say otherwise: a program named ``clip.mp4``, a ZIP
archive or an HTML page named ``price_list.pdf``. The type always comes from the content
(filetype's magic numbers, mutagen for audio it misses, a look at the first bytes for HTML)."""

from __future__ import annotations

import mimetypes
import os


class Disguised(ValueError):
    """The name promises media the content is not; ``str(exc)`` is for staff."""


_FAMILY_WORDS = {"image": "an image", "video": "a video", "audio": "audio"}


def refuse_disguised(file_name: str, mime: str) -> None:
    """Refuse a file whose name promises media its content is not (a program named
    ``clip.mp4``): the type still comes from the content, but staff who picked a "video" by its
    name should hear that it is none, rather than have it sent as a file. Choosing ``document``
    explicitly sends any file."""
    claimed, _ = mimetypes.guess_type(file_name)
    family = (claimed or "").split("/")[0]
    if family in _FAMILY_WORDS and mime.split("/")[0] != family:
        extension = os.path.splitext(file_name)[1]
        raise Disguised(
            f"the content is not {_FAMILY_WORDS[family]} (it is {mime}; the name ends in {extension})"
        )


# Contents that must not travel under another type's name, and how to name them.
_TRUE_NAMES = {
    "application/zip": "a ZIP archive",
    "application/x-rar-compressed": "a RAR archive",
    "application/vnd.rar": "a RAR archive",
    "application/x-7z-compressed": "a 7-Zip archive",
    "application/gzip": "a gzip archive",
    "application/x-tar": "a tar archive",
    "application/x-bzip2": "a bzip2 archive",
    "application/x-xz": "an xz archive",
    "application/x-executable": "a program",
    "application/x-msdownload": "a Windows program",
    "application/vnd.microsoft.portable-executable": "a Windows program",
    "application/x-mach-binary": "a macOS program",
    "application/x-sharedlib": "a program library",
    "text/html": "an HTML page",
}
# Names whose content is a ZIP archive by design (office documents, e-books, Java and Android packages).
_ZIP_BASED = (
    "application/vnd.openxmlformats",
    "application/vnd.oasis.opendocument",
    "application/epub+zip",
    "application/java-archive",
    "application/vnd.android.package-archive",
    "application/x-zip",
)


def disguise(file_name: str, mime: str) -> str:
    """ "" unless the content is an archive, a program or an HTML page while the name claims
    another type (``zip_named.pdf``); then what it truly is, for staff."""
    claimed, _ = mimetypes.guess_type(file_name)
    if mime not in _TRUE_NAMES or not claimed or claimed == mime or claimed in _TRUE_NAMES:
        return ""
    if mime == "application/zip" and claimed.startswith(_ZIP_BASED):
        return ""
    extension = os.path.splitext(file_name)[1]
    return f"the content is {_TRUE_NAMES[mime]} ({mime}), not what the name ending in {extension} says"


def fallback_mime(path: str) -> str:
    """filetype knows no magic for some formats (plain text, CSV, HTML); mutagen recognises audio
    it misses. Anything else is an opaque document."""
    import mutagen

    with open(path, "rb") as stream:
        head = stream.read(512).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<script")):
        return "text/html"

    try:
        audio = mutagen.File(path)
    except Exception:
        audio = None
    if audio is not None and audio.mime:
        return audio.mime[0]
    return "application/octet-stream"
