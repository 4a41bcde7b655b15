"""Which letters each language of the Latin and Cyrillic single-byte code pages writes (data, and
one question about it), for telling two readings of a file's bytes apart (:mod:`.encoding`).

A Turkish name in Windows-1254, ``Şule Yılmaz``, reads in Windows-1250 as ``Ţule Yýlmaz``: every
letter is one some language writes, so the code page's statistics cannot tell. But no language
writes both ``ţ`` (Romanian) and ``ý`` (Czech), while Turkish writes ``ş`` and ``ı``: a cell whose
letters no single language writes is a sign of the wrong code page (:func:`fits_one_language`).
Letters beyond ASCII only: a name's ASCII letters say nothing of its code page, except that
Vietnamese writes no ``f``, ``j``, ``w`` or ``z``. Faroese is left out: its ``ø`` beside ``í``
is what Czech ``ř`` beside ``í`` looks like in Windows-1252 (``Jiří`` as ``Jiøí``).
"""

from __future__ import annotations

import re
import unicodedata

# Language → its letters beyond ASCII (lower case), for the languages written in the code pages
# the import detects (Windows-1250/1252/1254/1257/1258, ISO-8859-1/2/15; Windows-1251, KOI8, 866).
LATIN: dict[str, str] = {
    "de": "äöüß", "fr": "àâæçéèêëîïôœùûüÿ", "es": "áéíñóúü", "pt": "áâãàçéêíóôõú",
    "it": "àèéìíîòóù", "ca": "àçéèíïóòúü", "gl": "áéíñóúü", "eu": "ñü", "nl": "áéíóúàèëïöüç",
    "da": "æøåéü", "no": "æøåéèêóòôü", "sv": "åäöéü", "fi": "äöåšž", "is": "áðéíóúýþæö",
"et": "äõöüšž", "lv": "āčēģīķļņšūž", "lt": "ąčęėįšųūž", "pl": "ąćęłńóśźż",
    "cs": "áčďéěíňóřšťúůýž", "sk": "áäčďéíĺľňóôŕšťúýž", "sl": "čćšž", "hr": "čćđšž",
    "hu": "áéíóöőúüű", "ro": "ăâîşţșț", "sq": "çë", "tr": "çğıöşüâîû", "ga": "áéíóú",
    "cy": "âêîôûŵŷäëïöüáéíóúàèìòù", "vi": "àáâãèéêìíòóôõùúýăđĩũơư",
}  # fmt: skip
CYRILLIC: dict[str, str] = {
    "ru": "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    "uk": "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя",
    "be": "абвгдеёжзійклмнопрстуўфхцчшыьэюя",
    "bg": "абвгдежзийклмнопрстуфхцчшщъьюя",
    "sr": "абвгдђежзијклљмнњопрстћуфхцчџш",
    "mk": "абвгдѓежзѕијклљмнњопрстќуфхцчџш",
}
# The languages each code page was made for (Windows', ISO's and KOI8's own lists): a file
# saved in a code page holds their words; a name of another language, only where its letters
# happen to be there too (a Czech "Šárka" in Windows-1252). Unlisted code pages: every language.
_WESTERN = (
    "de",
    "fr",
    "es",
    "pt",
    "it",
    "ca",
    "gl",
    "eu",
    "nl",
    "da",
    "no",
    "sv",
    "fi",
    "ga",
    "sq",
    "et",
    "cy",
)
CODE_PAGE_LANGUAGES: dict[str, tuple[str, ...]] = {
    "cp1252": (*_WESTERN, "is"),
    "iso8859-1": (*_WESTERN, "is"),
    "iso8859-15": (*_WESTERN, "is"),
    "cp1250": ("pl", "cs", "sk", "sl", "hr", "hu", "ro", "sq", "de"),
    "iso8859-2": ("pl", "cs", "sk", "sl", "hr", "hu", "ro", "sq", "de"),
    "cp1254": ("tr", *_WESTERN),
    "cp1257": ("et", "lv", "lt", "pl", "de", "sv", "fi", "da", "no"),
    "cp1258": ("vi", "fr", "es", "it", "ca", "de", "nl", "da", "no", "sv", "fi"),
    "cp1251": ("ru", "uk", "be", "bg", "sr", "mk"),
    "koi8-r": ("ru", "uk", "be", "bg", "sr", "mk"),
    "koi8-u": ("ru", "uk", "be", "bg", "sr", "mk"),
    "cp866": ("ru", "uk", "be", "bg", "sr", "mk"),
}
_NOT_VIETNAMESE = set("fjwz")
_CELLS = re.compile(r"[,;\t\r\n]+")


def fits_one_language(cell: str, code_page: str | None = None) -> bool:
    """Whether one language of :data:`LATIN` writes all of ``cell``'s Latin letters beyond ASCII
    and one of :data:`CYRILLIC` all of its Cyrillic ones (a cell of no such letters fits; letters
    of other scripts are not asked about); with ``code_page`` (a Python codec name), one of the
    languages it was made for (:data:`CODE_PAGE_LANGUAGES`)."""
    allowed = CODE_PAGE_LANGUAGES.get(code_page or "")
    latin: set[str] = set()
    cyrillic: set[str] = set()
    ascii_letters: set[str] = set()
    for char in cell.lower():
        if char < "\x80":
            if char.isalpha():
                ascii_letters.add(char)
        elif char.isalpha():
            script = unicodedata.name(char, "").split(" ")[0]
            if script == "LATIN":
                latin.add(char)
            elif script == "CYRILLIC":
                cyrillic.add(char)
    if latin and not any(
        latin <= set(letters) and not (language == "vi" and ascii_letters & _NOT_VIETNAMESE)
        for language, letters in LATIN.items()
        if allowed is None or language in allowed
    ):
        return False
    return not cyrillic or any(
        cyrillic <= set(letters)
        for language, letters in CYRILLIC.items()
        if allowed is None or language in allowed
    )


def cells(text: str) -> list[str]:
    """``text`` cut at the delimiters a recipient file may use and at line ends (its cells,
    about: the delimiter is not known yet when the encoding is detected)."""
    return [cell for cell in _CELLS.split(text) if cell]
