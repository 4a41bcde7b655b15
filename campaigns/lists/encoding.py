"""Which text encoding a recipient file is in, from its first MiB.

A BOM decides; else UTF-8 when the sample is valid UTF-8; else charset-normalizer's best guess,
which is what recognises Windows-1251 exports of Cyrillic names, judged again where it cannot
tell:

- **Single-byte code pages.** charset-normalizer finds Latin code pages equally likely on a short
  file (``Şule Yılmaz`` in Windows-1254 is ``Ţule Yýlmaz`` in Windows-1250 and ``Žule Yżlmaz`` in
  Windows-1257, all "chaos 0", and the first by name won). So the candidates are judged by how
  the decoded words look (:func:`_implausibility`), then by what the file says
  (:func:`plausible_readings`): cells whose letters no language of the code page writes
  together (:mod:`.alphabets`), the language of the header row. Readings that still differ are
  a doubt; the first (Windows-1252, the code page of Excel on Western Windows, first) is shown.
  A short file (fewer than :data:`SHORT_NON_ASCII` bytes above 0x7F) is too little for
  charset-normalizer's statistics: two Windows-1251 rows came out as Windows-1250, KOI8-R ones as
  Shift JIS; there a Latin or Cyrillic code page in which the text reads flawlessly as words wins
  over a guess that reads oddly or is multi-byte.
- **Multi-byte encodings.** A guess that reads as no words (Shift JIS or Big5 names as Korean
  syllables hardly anyone writes, EUC-JP as half-width katakana) gives way to the next encoding
  that reads as words (:func:`_plausible_match`).

Where the bytes still read as plausibly in another encoding — as words of another script (Hebrew
in Windows-1255 is Cyrillic in Windows-1251), of the same script in another language's encoding
(Chinese GB18030 as Japanese EUC), or as other letters in another code page with nothing to tell
them apart — the guess is a doubt (:func:`encoding_doubt`): the import refuses until the encoding
is given, and the mapping step says so, showing the header row (or first differing line) in each
reading. Staff see the decoded rows in the mapping step and can choose another encoding.
"""

from __future__ import annotations

import codecs
import functools
import re
import unicodedata

from .alphabets import cells, fits_one_language
from .vocabulary import HEADERS, squash

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
        "euc_jis_2004",
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
# The multi-byte encodings by the writing they were made for: two of one family read a file
# alike; two of different families read it as different text, even in the same script.
_FAMILIES = {
    **dict.fromkeys(("shift_jis", "shift_jis_2004", "cp932", "euc_jp", "euc_jis_2004", "iso2022_jp"), "ja"),
    **dict.fromkeys(("gb2312", "gbk", "gb18030"), "zh-hans"),
    **dict.fromkeys(("big5", "big5hkscs", "cp950"), "zh-hant"),
    **dict.fromkeys(("euc_kr", "cp949", "johab"), "ko"),
}
# Fewer bytes above 0x7F than this in the sample make a "short" file, where statistics fail.
SHORT_NON_ASCII = 400
RIVALS_SHOWN = 3  # other readings an uncertain encoding's message names
# How much "messier" (charset-normalizer's chaos, 0–1) than its best guess an encoding may be and
# still be taken when the best guess reads as no words: 0.025 for Shift JIS names it read as Korean.
NEARLY_AS_LIKELY = 0.1
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
        return _first(plausible_readings(text, guess)) or guess
    if guess in _MULTI_BYTE_NAMES and not _reads_plausibly(text.decode(guess, "replace")):
        # Japanese or Chinese read as Korean syllables hardly anyone writes, or Japanese as
        # half-width katakana: another encoding charset-normalizer finds as likely may read it
        # as words.
        guess = _plausible_match(cleaned, text) or guess
    if short and (guess in _MULTI_BYTE_NAMES or _implausibility(text.decode(guess, "replace"))):
        # A few Cyrillic or Latin names are too little for charset-normalizer, which then finds
        # them as plausible in Shift JIS, Big5 or a Hebrew or Greek code page: a Latin or
        # Cyrillic code page that reads them flawlessly wins.
        return _first(plausible_readings(text, None, flawless=True)) or guess
    return guess


def _first(readings: tuple[tuple[str, str], ...]) -> str | None:
    return readings[0][0] if readings else None


def _without_controls(sample: bytes) -> bytes:
    return re.sub(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", b"", sample)


@functools.lru_cache(maxsize=2)  # detect_encoding and encoding_doubt ask about one sample
def _matches(cleaned: bytes):
    from charset_normalizer import from_bytes

    return from_bytes(cleaned)


def encoding_doubt(sample: bytes, chosen: str) -> str:
    """Why ``chosen``, detected for ``sample`` (no BOM, not UTF-8), is only a guess, or "".

    Two kinds of rival reading make it one. Another encoding charset-normalizer finds as likely
    reads the same bytes, as plausibly, as letters of other scripts (``姓名`` in GB18030 is
    ``檎츰`` in Korean cp949; Hebrew reads as Cyrillic; a reading as Korean counts only when its
    syllables are the common ones Korean is written in, :func:`_plausible_hangul`). Or another
    single-byte code page reads it as plausibly, with other letters, and nothing in the file
    tells them apart (:func:`plausible_readings`: ``Şule Yılmaz`` in Windows-1254 is
    ``Ţule Yýlmaz`` in Windows-1250). The reason shows the header row (or the first line that
    reads differently) in each reading, so staff can pick the right one at a glance."""
    cleaned = _without_controls(sample)
    text = cleaned[: 64 * 1024]
    ours = text.decode(chosen, errors="replace")
    rivals = _script_rivals(cleaned, text, chosen, ours)
    if chosen in _SINGLE_BYTE_NAMES:
        shown = {ours, *(theirs for _name, theirs in rivals)}
        for name, theirs in plausible_readings(text, chosen):
            if theirs not in shown:
                shown.add(theirs)
                rivals.append((name, theirs))
    if not rivals:
        return ""
    return _uncertain(chosen, ours, rivals[:RIVALS_SHOWN])


def _script_rivals(cleaned: bytes, text: bytes, chosen: str, ours: str) -> list[tuple[str, str]]:
    """(encoding, reading) of each encoding charset-normalizer finds as likely as its best
    guess that reads ``text`` as plausible words of other scripts than ``ours`` does, or of the
    same script in another language's encoding (:data:`_FAMILIES`: EUC-JP's ``名前`` is GB18030's
    ``叹涟``, Chinese characters both)."""
    matches = _matches(cleaned)
    best = matches.best()
    # As likely as the best guess, or as the encoding chosen when it was not that guess.
    limit = max((m.chaos for m in matches if codecs.lookup(m.encoding).name == chosen), default=0.0)
    limit = max(limit, best.chaos) if best is not None else limit
    seen = {(frozenset(_scripts(ours)), _FAMILIES.get(chosen))}
    rivals = []
    for match in matches if best is not None else ():
        name = codecs.lookup(match.encoding).name
        if match.chaos > limit or name == chosen:
            continue
        try:
            theirs = text.decode(name)
        except UnicodeDecodeError:
            continue
        kind = (frozenset(_scripts(theirs)), _FAMILIES.get(name))
        if kind not in seen and _reads_plausibly(theirs):
            seen.add(kind)
            rivals.append((name, theirs))
    return rivals


def _plausible_match(cleaned: bytes, text: bytes) -> str | None:
    """The first multi-byte encoding, in charset-normalizer's order, that it finds nearly as
    likely as its best guess (:data:`NEARLY_AS_LIKELY`) and in which ``text`` reads plausibly
    (:func:`_reads_plausibly`), or None. A few Japanese names in Shift JIS are a little "messier"
    to it than the same bytes as rare Korean syllables."""
    matches = _matches(cleaned)
    best = matches.best()
    for match in matches:
        name = codecs.lookup(match.encoding).name
        if match.chaos > best.chaos + NEARLY_AS_LIKELY or name not in _MULTI_BYTE_NAMES:
            continue
        try:
            if _reads_plausibly(text.decode(name)):
                return name
        except UnicodeDecodeError:
            continue
    return None


def _reads_plausibly(text: str) -> bool:
    """Whether ``text`` reads as words (:func:`_reads_as_words`) and, where Korean, as the
    Korean people write (:func:`_plausible_hangul`)."""
    return _reads_as_words(text) and _plausible_hangul(text)


def _uncertain(chosen: str, ours: str, rivals: list[tuple[str, str]]) -> str:
    """The reason naming each reading by the header row (or the first line that differs)."""
    readings = [(chosen, ours), *rivals]
    lines = [reading.splitlines() for _name, reading in readings]
    number = next(
        (
            i
            for i in range(min(map(len, lines)))
            if lines[0][i].strip() and len({line[i] for line in lines}) > 1
        ),
        0,
    )
    where = (
        "header row"
        if number == next((i for i, x in enumerate(lines[0]) if x.strip()), 0)
        else f"line {number + 1}"
    )
    shown = [
        f"“{_shortened(line[number] if number < len(line) else '')}” in {name}"
        for (name, _reading), line in zip(readings, lines, strict=True)
    ]
    return (
        f"the file's encoding is uncertain: its {where} reads as {shown[0]}, and as "
        f"{', as '.join(shown[1:])}; choose the encoding (or save the file as UTF-8)"
    )


def _shortened(line: str, most: int = 60) -> str:
    return line if len(line) <= most else line[: most - 1] + "…"


def _plausible_hangul(text: str) -> bool:
    """Whether ``text``'s Hangul (if any) is written as Korean is: in syllables, and those the
    2,350 of KS X 1001, which cp949 encodes as two bytes from 0xA1 up. A Shift JIS or Big5 name
    read as cp949 or Johab gives mostly the other 8,822 (``뼹멟`` for ``名前``), which hardly any
    text uses (a real Korean name may hold one, so up to a third is allowed); EUC-JP's hiragana
    read as cp949 are loose letters (``ㅅㄿㅹ``), which Korean text does not stand alone."""
    syllables = [c for c in text if "\uac00" <= c <= "\ud7a3"]
    rare = sum(1 for c in syllables if min(c.encode("cp949")) < 0xA1)
    loose = sum(1 for c in text if "\u3131" <= c <= "\u318e")
    return rare * 3 <= len(syllables) and loose * 3 <= len(syllables)


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


# Japanese writes kanji and kana in one word (お名前, 山田さん, データー).
_JAPANESE = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "KATAKANA-HIRAGANA": "CJK"}


def _reads_as_words(text: str) -> bool:
    """Whether every character of ``text`` beyond ASCII is a letter (or a combining mark) of one
    of :data:`_WORD_SCRIPTS`, and each word keeps to one script (Japanese kanji and kana count as
    one, ``お名前``): how a right reading looks."""
    for word in re.findall(r"[^\s,;\t]+", text):
        if word.isascii():
            continue
        scripts = set()
        for char in word:
            if char.isascii():
                scripts.add("LATIN" if char.isalpha() else "")
            elif unicodedata.category(char)[0] in "LM":
                script = unicodedata.name(char, "?").split()[0]
                scripts.add(_JAPANESE.get(script, script))
            else:
                return False
        scripts.discard("")
        if len(scripts) > 1 or not scripts <= _WORD_SCRIPTS:
            return False
    return True


@functools.lru_cache(maxsize=4)  # detect_encoding and encoding_doubt ask about one sample
def plausible_readings(
    text: bytes, guess: str | None, *, flawless: bool = False
) -> tuple[tuple[str, str], ...]:
    """The single-byte code pages in which ``text`` reads most plausibly, as (codec name, text
    read), one per different reading, the one to pick first (ties: Windows-1252, the other Latin
    code pages, ``guess``, then the Cyrillic ones in the order of :data:`_CYRILLIC`); with
    ``flawless``, only those that show no sign of a wrong code page (:func:`_implausibility`)
    and read as words (DOS box drawings ``╠╛┴░`` are none).
    Several left are a doubt (:func:`encoding_doubt`) unless the file's evidence decides
    (:func:`_by_evidence`): then one."""
    scores = []
    for rank, name in enumerate(dict.fromkeys((*_LATIN, *([guess] if guess else []), *_CYRILLIC))):
        try:
            decoded = text.decode(name)
        except UnicodeDecodeError:
            continue  # a byte this code page leaves undefined
        scores.append((_implausibility(decoded), rank, codecs.lookup(name).name, decoded))
    if flawless:
        scores = [score for score in scores if score[0] == 0 and _reads_as_words(score[3])]
    if not scores:
        return ()
    scores.sort()
    readings: dict[str, str] = {}  # text read → the first code page reading it so
    for score, _rank, name, decoded in scores:
        if score == scores[0][0]:
            readings.setdefault(decoded, name)
    return tuple(_by_evidence([(name, decoded) for decoded, name in readings.items()]))


def _by_evidence(readings: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``readings`` (code page, text read) narrowed by what the file says: the fewest cells
    whose letters no single language of the code page's writes (:func:`.alphabets.fits_one_language`:
    ``Ţule Yýlmaz`` mixes Romanian and Czech, ``Şule Yılmaz`` is Turkish; Windows-1252's
    ``Hélène`` is Windows-1257's ``Hélčne``, no Baltic word), then the code page of the language
    the header row is written in (:data:`.vocabulary.HEADERS`: ``ad``, ``soyadı`` are Turkish)."""
    if len(readings) < 2:
        return readings
    misfits = [
        sum(not fits_one_language(cell, name) for cell in cells(decoded)) for name, decoded in readings
    ]
    readings = [reading for reading, count in zip(readings, misfits, strict=True) if count == min(misfits)]
    if len(readings) < 2:
        return readings
    voted = [reading for reading in readings if _header_votes(reading[1], reading[0])]
    return voted if len(voted) == 1 else readings


def _header_votes(decoded: str, name: str) -> int:
    """How many header cells of ``decoded`` (its first line) are words of a language written in
    code page ``name`` and of no other language with a code page of its own (English headers
    name every kind of list, so they say nothing)."""
    first = next((line for line in decoded.splitlines() if line.strip()), "")
    votes = 0
    for cell in cells(first):
        languages = _header_languages().get(squash(cell), set())
        pages = {_HEADER_CODE_PAGES.get(language) for language in languages}
        votes += "en" not in languages and pages == {name}
    return votes


# The code page a language's spreadsheets are saved in on Windows, for the header row's language.
_HEADER_CODE_PAGES = {
    "de": "cp1252", "fr": "cp1252", "es": "cp1252", "pt": "cp1252", "it": "cp1252",
    "tr": "cp1254", "ru": "cp1251", "uk": "cp1251", "fa": "cp1256", "ar": "cp1256",
}  # fmt: skip


@functools.cache
def _header_languages() -> dict[str, set[str]]:
    """Squashed header word → the languages of :data:`.vocabulary.HEADERS` that use it."""
    languages: dict[str, set[str]] = {}
    for language, roles in HEADERS.items():
        for words in roles.values():
            for word in words:
                languages.setdefault(squash(word), set()).add(language)
    return languages


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
