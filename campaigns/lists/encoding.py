"""Which text encoding a recipient file is in, from its first MiB.

A BOM decides; else UTF-8 when the sample is valid UTF-8; else charset-normalizer's best guess,
which is what recognises Windows-1251 exports of Cyrillic names. charset-normalizer cannot tell
the Latin single-byte code pages apart on a short file: for ``Muñoz; João; São Paulo`` written in
Windows-1252 it finds Windows-1250 (``Muńoz``, ``Săo``) equally plausible and picks that. So when
its guess is a single-byte Latin or Cyrillic code page, the candidates are judged again by how the
decoded words look (:func:`_implausibility`), and Windows-1252, the code page of Excel on Western
Windows, wins a tie. A short file (a few names: fewer than :data:`SHORT_NON_ASCII` bytes above
0x7F) is too little for its statistics: two Windows-1251 rows came out as Windows-1250
(``Čâŕí Ďĺňđîâ`` for ``Иван Петров``), KOI8-R ones as Shift JIS. There, a Latin or Cyrillic code
page in which the text reads flawlessly wins over a guess that reads oddly or is multi-byte.
Where the bytes read as plausibly as words of another script in an encoding charset-normalizer
finds as likely (a few Chinese names in GB18030 are Korean in cp949, Hebrew in Windows-1255 is
Cyrillic in Windows-1251), the guess is a doubt (:func:`encoding_doubt`): the import refuses
until the encoding is given, and the mapping step says so. Staff see the decoded rows in the
mapping step and can choose another encoding.
"""

from __future__ import annotations

import codecs
import functools
import re
import unicodedata

# Latin single-byte code pages, in the order a tie is resolved.
_LATIN = ("cp1252", "cp1250", "cp1254", "cp1257", "iso8859_15", "latin_1", "iso8859_2", "cp1258")
# Cyrillic single-byte code pages, in the order a tie is resolved.
_CYRILLIC = ("cp1251", "koi8_r", "koi8_u", "cp866")
_SINGLE_BYTE_NAMES = {codecs.lookup(c).name for c in (*_LATIN, *_CYRILLIC)}
# Multi-byte encodings charset-normalizer proposes for a few bytes of single-byte text.
_MULTI_BYTE_NAMES = {
    codecs.lookup(c).name
    for c in (
        "shift_jis",
        "shift_jis_2004",
        "cp932",
        "euc_jp",
        "big5",
        "big5hkscs",
        "cp950",
        "gb2312",
        "gbk",
        "gb18030",
        "euc_kr",
        "cp949",
        "johab",
        "iso2022_jp",
    )
}
# Fewer bytes above 0x7F than this in the sample make a "short" file, where statistics fail.
SHORT_NON_ASCII = 400
RIVALS_SHOWN = 3  # other readings an uncertain encoding's message names
_HIGH_BYTES = re.compile(rb"[\x80-\xff]")
_WORD = re.compile(r"[^\W\d_]{3,}")
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
    # A file is read a chunk at a time, an undecodable byte replaced and reported on its row: a
    # codec that cannot do that (idna, undefined …) cannot read a file.
    try:
        codecs.getincrementaldecoder(info.name)(errors="replace").decode(b"", final=True)
    except (UnicodeError, TypeError, ValueError):
        raise UnknownEncoding(f'"{name}" cannot read a file: choose a text encoding such as UTF-8') from None
    return info.name


def detect_encoding(sample: bytes, complete: bool) -> str | None:
    """The codec name for ``sample`` (the file's first bytes; ``complete`` when that is the whole
    file), or None when it is not text in any encoding charset-normalizer knows."""
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
    cleaned = _without_controls(sample)
    best = _matches(cleaned).best()
    if best is None:
        return None
    guess = codecs.lookup(best.encoding).name
    text = cleaned[: 64 * 1024]
    short = len(_HIGH_BYTES.findall(text)) < SHORT_NON_ASCII
    if guess in _SINGLE_BYTE_NAMES:
        return _most_plausible(text, guess) or guess
    if short and (guess in _MULTI_BYTE_NAMES or _implausibility(text.decode(guess, "replace"))):
        # A few Cyrillic or Latin names are too little for charset-normalizer, which then finds
        # them as plausible in Shift JIS, Big5 or a Hebrew or Greek code page: a Latin or
        # Cyrillic code page that reads them flawlessly wins.
        return _most_plausible(text, None, flawless=True) or guess
    return guess


def _without_controls(sample: bytes) -> bytes:
    return re.sub(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", b"", sample)


@functools.lru_cache(maxsize=2)  # detect_encoding and encoding_doubt ask about one sample
def _matches(cleaned: bytes):
    from charset_normalizer import from_bytes

    return from_bytes(cleaned)


def encoding_doubt(sample: bytes, chosen: str) -> str:
    """Why ``chosen``, detected for ``sample`` (no BOM, not UTF-8), is only a guess, or "": another
    encoding charset-normalizer finds as likely reads the same bytes, as plausibly, as letters of
    other scripts (``姓名`` in GB18030 is ``檎츰`` in Korean cp949; Hebrew reads as Cyrillic).
    Latin code pages that differ in a letter or two (Windows-1252 and -1250) are no such doubt."""
    cleaned = _without_controls(sample)
    matches = _matches(cleaned)
    best = matches.best()
    text = cleaned[: 64 * 1024]
    ours = text.decode(chosen, errors="replace")
    readings: dict[frozenset[str], str] = {frozenset(_scripts(ours)): ""}
    for match in matches if best is not None else ():
        name = codecs.lookup(match.encoding).name
        if match.chaos > best.chaos or name == chosen:
            continue
        try:
            theirs = text.decode(name)
        except UnicodeDecodeError:
            continue
        scripts = frozenset(_scripts(theirs))
        if scripts not in readings and _reads_as_words(theirs):
            readings[scripts] = f"“{_first_word(ours, theirs)[1]}” in {name}"
    others = [r for r in readings.values() if r][:RIVALS_SHOWN]
    if not others:
        return ""
    return (
        f"the file's encoding is uncertain: its text reads as “{_first_word(ours, ours)[0]}” in {chosen}, "
        f"and as {', as '.join(others)}; choose the encoding (or save the file as UTF-8)"
    )


def _scripts(text: str) -> set[str]:
    """The scripts of ``text``'s letters beyond ASCII, by the first word of their Unicode names
    (LATIN, CYRILLIC, HEBREW, CJK, HANGUL …)."""
    return {unicodedata.name(c, "?").split()[0] for c in text if c > "\x7f" and c.isalpha()}


# Scripts whose words a rival reading may be in (HALFWIDTH katakana, MICRO SIGN, CARON … are the
# signs of bytes read in the wrong code page, not words).
_WORD_SCRIPTS = {
    "LATIN", "CYRILLIC", "GREEK", "HEBREW", "ARABIC", "CJK", "HANGUL", "HIRAGANA", "KATAKANA",
    "THAI", "DEVANAGARI", "ARMENIAN", "GEORGIAN",
}  # fmt: skip


def _reads_as_words(text: str) -> bool:
    """Whether every character of ``text`` beyond ASCII is a letter (or a combining mark) of one
    of :data:`_WORD_SCRIPTS`, and each word keeps to one script: how a right reading looks."""
    for word in re.findall(r"[^\s,;\t]+", text):
        if word.isascii():
            continue
        scripts = set()
        for char in word:
            if char.isascii():
                scripts.add("LATIN" if char.isalpha() else "")
            elif unicodedata.category(char)[0] in "LM":
                scripts.add(unicodedata.name(char, "?").split()[0])
            else:
                return False
        scripts.discard("")
        if len(scripts) > 1 or not scripts <= _WORD_SCRIPTS:
            return False
    return True


def _first_word(ours: str, theirs: str) -> tuple[str, str]:
    """The first word beyond ASCII of ``theirs`` and the same stretch of ``ours`` (at most 20
    characters each; both decode the same bytes, so they are found by the line and column)."""
    for line_ours, line_theirs in zip(ours.splitlines(), theirs.splitlines(), strict=False):
        for word in re.findall(r"[^\s,;\t]+", line_theirs):
            if not word.isascii():
                index = line_theirs.index(word)
                return line_ours[index : index + len(word)][:20] or line_ours[:20], word[:20]
    return ours[:20], theirs[:20]


def _most_plausible(text: bytes, guess: str | None, *, flawless: bool = False) -> str | None:
    """The single-byte code page in which ``text`` reads most plausibly (ties: Windows-1252, the
    other Latin code pages, ``guess``, then the Cyrillic ones in the order of :data:`_CYRILLIC`);
    with ``flawless``, only one that shows no sign of a wrong code page; None when none does."""
    scores = []
    for rank, name in enumerate(dict.fromkeys((*_LATIN, *([guess] if guess else []), *_CYRILLIC))):
        try:
            decoded = text.decode(name)
        except UnicodeDecodeError:
            continue  # a byte this code page leaves undefined
        scores.append((_implausibility(decoded), rank, codecs.lookup(name).name))
    if flawless:
        scores = [score for score in scores if score[0] == 0]
    return min(scores)[2] if scores else None


def _implausibility(text: str) -> int:
    """How many places in ``text`` look like text decoded with the wrong code page: C1 control
    characters, a sign glued to a letter (``£ódŸ`` and ``Wroc³aw`` are Windows-1250 ``Łódź`` and
    ``Wrocław`` read as 1252), an upper-case letter right after a lower-case one (``ódŸ``; KOI8-R
    read as Windows-1251 is ``йБЮМ``), letters hardly any language uses, and words no language
    writes (:func:`_odd_words`)."""
    score = _odd_words(text)
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


def _odd_words(text: str) -> int:
    """Letters in words that mix Latin and Cyrillic (``Wrocіaw``: Windows-1250 read as 1251), or
    that are Latin with accents on most of their letters: ``Čâŕí Ďĺňđîâ`` is ``Иван Петров`` in Windows-1251 read as Windows-1250, while
    ``Nováková``, ``Öztürk`` or ``Þórsson`` carry an accent on a few letters only."""
    score = 0
    for word in _WORD.findall(text):
        accented = cyrillic = latin = 0
        for char in word:
            if char < "\x80":
                latin += 1
            elif "\u0400" <= char <= "\u04ff":
                cyrillic += 1
            else:
                latin += 1
                accented += 1
        if cyrillic and latin:
            score += len(word)
        elif accented >= 3 and accented * 2 > len(word):
            score += accented
    return score
