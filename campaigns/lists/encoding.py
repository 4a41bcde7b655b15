"""Which text encoding a recipient file is in, from its first MiB.

A BOM decides; else UTF-8 when the sample is valid UTF-8; else charset-normalizer's best guess,
which is what recognises Windows-1251 exports of Cyrillic names. charset-normalizer cannot tell
the Latin single-byte code pages apart on a short file: for ``Muñoz; João; São Paulo`` written in
Windows-1252 it finds Windows-1250 (``Muńoz``, ``Săo``) equally plausible and picks that. So when
its guess is a Latin code page, the candidates are judged again by how the decoded words look
(:func:`_implausibility`), and Windows-1252, the code page of Excel on Western Windows, wins a tie.
Staff see the decoded rows in the mapping step and can choose another encoding.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

# Latin single-byte code pages, in the order a tie is resolved.
_LATIN = ("cp1252", "cp1250", "cp1254", "cp1257", "iso8859_15", "latin_1", "iso8859_2", "cp1258")
# Letters that occur in Icelandic and Old English only: a Turkish ş decoded as Windows-1252 is þ.
_RARE_LETTERS = set("þÞðÐ")


class UnknownEncoding(ValueError):
    """``str(exc)`` says why the name is no text encoding."""


def check_encoding(name: str) -> str:
    """The codec name Python uses for ``name``; raises :class:`UnknownEncoding`."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise UnknownEncoding(f'unknown encoding "{name}"') from None
    # rot13, base64, zlib … are codecs too, but not text encodings.
    if not getattr(info, "_is_text_encoding", True):
        raise UnknownEncoding(f'"{name}" is not a text encoding')
    return info.name


def detect_encoding(sample: bytes, complete: bool) -> str | None:
    """The codec name for ``sample`` (the file's first bytes; ``complete`` when that is the whole
    file), or None when it is not text in any encoding charset-normalizer knows."""
    from charset_normalizer import from_bytes

    # UTF-32 LE's BOM starts with UTF-16 LE's, so it is tested first.
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # The sample may end inside a multi-byte character; that alone is not a decoding error.
        if not complete and exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"
    # charset-normalizer takes a NUL for binary; the caller judges the decoded sample instead.
    cleaned = re.sub(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", b"", sample)
    best = from_bytes(cleaned).best()
    if best is None:
        return None
    guess = codecs.lookup(best.encoding).name
    if guess not in {codecs.lookup(c).name for c in _LATIN}:
        return guess
    text = cleaned[: 64 * 1024]
    scores = []
    for rank, name in enumerate(dict.fromkeys((*_LATIN, guess))):
        try:
            decoded = text.decode(name)
        except UnicodeDecodeError:
            continue  # a byte this code page leaves undefined
        scores.append((_implausibility(decoded), rank, codecs.lookup(name).name))
    return min(scores)[2] if scores else guess


def _implausibility(text: str) -> int:
    """How many places in ``text`` look like text decoded with the wrong code page: C1 control
    characters, a sign glued to a letter (``£ódŸ`` and ``Wroc³aw`` are Windows-1250 ``Łódź`` and
    ``Wrocław`` read as 1252), an upper-case letter right after a lower-case one (``ódŸ``), letters
    hardly any language uses."""
    score = 0
    for i, char in enumerate(text):
        if ord(char) < 128:
            continue
        category = unicodedata.category(char)
        before = text[i - 1] if i else " "
        after = text[i + 1] if i + 1 < len(text) else " "
        if category == "Cc":
            score += 5
        elif not category.startswith("L"):
            score += before.isalpha() or after.isalpha()
        elif category == "Lu" and unicodedata.category(before) == "Ll":
            score += 1
        elif char in _RARE_LETTERS:
            score += 1
    return score
