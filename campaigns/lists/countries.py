"""A row's country as people write it → the region its national phone numbers are read in.

A country column holds an ISO 3166 code (``GB``, ``GBR``), a country's name in one of many
languages (``Germany``, ``Deutschland``, ``Allemagne``, ``Германия``, ``Brasil``; CLDR's names via
Babel, with CLDR's aliases such as ``UK``; ISO 3166's official names via pycountry, such as
``United Kingdom of Great Britain and Northern Ireland``), a flag emoji (🇩🇪), or a dialling code (``+44``,
``44``, ``0044``, ``+1-684`` with a North American area code; phonenumbers' table). :func:`region_of` answers with the ISO 3166 alpha-2 code phonenumbers knows,
or None when the value names no country it can read — the caller reports that row, it never
falls back to the list's default region.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import phonenumbers
import pycountry
from babel import Locale
from babel.core import get_global

# Languages whose country names are read: the header languages of :mod:`.vocabulary` and other
# large ones of Telegram's audience and of Europe.
NAME_LANGUAGES = (
    "en", "ru", "uk", "de", "fr", "es", "pt", "it", "tr", "fa", "ar", "id", "hi",
    "nl", "pl", "sv", "da", "nb", "fi", "cs", "sk", "hu", "ro", "el", "he", "uz", "kk", "be", "az",
    "ms", "vi", "th", "zh", "ja", "ko", "bn", "ur",
)  # fmt: skip
_DIALLING = re.compile(r"(?:\+|00)?([1-9][0-9]{0,2})")
# A North American dialling code with its area code: +1-684 is American Samoa, +1 876 Jamaica.
_NANP = re.compile(r"(?:\+|00)?1([2-9][0-9]{2})")
_FLAG_A = 0x1F1E6  # REGIONAL INDICATOR SYMBOL LETTER A: a flag emoji is two of them


def _folded(text: str) -> str:
    """Case, accents, spaces and punctuation removed: ``Österreich`` → ``osterreich``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isalnum())


@functools.cache
def _names() -> dict[str, str]:
    """Folded name or code → ISO 3166 alpha-2, for the regions phonenumbers knows."""
    regions = phonenumbers.SUPPORTED_REGIONS
    found: dict[str, str] = {}
    for code in regions:
        found[_folded(code)] = code
    for alias, targets in get_global("territory_aliases").items():
        if alias.isalpha() and targets and targets[0] in regions:
            found.setdefault(_folded(alias), targets[0])
    for language in NAME_LANGUAGES:
        for code, name in Locale.parse(language).territories.items():
            if code in regions:
                found.setdefault(_folded(name), code)
    for country in pycountry.countries:  # ISO 3166's official names, as ERP and CRM exports write
        if country.alpha_2 in regions:
            for name in (country.name, *(getattr(country, n, "") for n in ("official_name", "common_name"))):
                if name:
                    found.setdefault(_folded(name), country.alpha_2)
    return found


def region_of(value: str) -> str | None:
    """The ISO 3166 alpha-2 region ``value`` names (module docstring), or None."""
    text = (value or "").strip()
    if not text:
        return None
    compact = re.sub(r"[\s\-().]", "", text)
    flag = _flag(compact)
    if flag:
        return flag if flag in phonenumbers.SUPPORTED_REGIONS else None
    nanp = _NANP.fullmatch(compact)
    if nanp:
        return _nanp_region(nanp.group(1))
    dialling = _DIALLING.fullmatch(compact)
    if dialling:
        region = phonenumbers.region_code_for_country_code(int(dialling.group(1)))
        return region if region in phonenumbers.SUPPORTED_REGIONS else None
    return _names().get(_folded(text))


def _flag(text: str) -> str:
    """The ISO code a flag emoji (🇩🇪: two regional indicator letters) stands for, or ""."""
    if len(text) == 2 and all(_FLAG_A <= ord(c) < _FLAG_A + 26 for c in text):
        return "".join(chr(ord(c) - _FLAG_A + ord("A")) for c in text)
    return ""


def _nanp_region(area: str) -> str | None:
    """The region of North American area code ``area`` when it is a territory's own (684 → AS,
    876 → JM), else None: an area code of the United States or Canada is not told apart here."""
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]:
        leading = phonenumbers.PhoneMetadata.metadata_for_region(region).leading_digits
        if leading and re.match(f"(?:{leading})$", area):
            return region
    return None


@functools.cache
def country_name(region: str) -> str:
    """The English name of ``region`` with its article where English uses one ("the United
    Kingdom", "Germany"), for reasons staff read."""
    name = Locale.parse("en").territories.get(region, region)
    if name.startswith(("United ", "Netherlands", "Philippines", "Czech")) or name.endswith(" Islands"):
        return "the " + name
    return name
