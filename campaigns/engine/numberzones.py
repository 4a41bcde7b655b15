"""``phonenumbers``' time zones of an E.164 number at a tenth of the cost, for a launch that places
a million numbers of countries with several clocks (quiet hours, :mod:`.window`).

``phonenumbers.timezone.time_zones_for_number(phonenumbers.parse(key, None))`` spends its time in
``parse`` and in ``number_type``, which look up and compile each pattern of the metadata per call.
:func:`place` gives the same answer from the same metadata and timezone data, read once: the
calling code and national number cut from the key (only where ``parse`` provably cuts them the
same way: else ``None``, and the caller asks ``phonenumbers``), the region and number type by
``phonenumbers``' own rules (``region_code_for_number``, ``_number_type_helper``) with the patterns
compiled once, then the timezone data's longest prefix (fixed lines and geographic mobiles) or
the calling code's zones. tests/test_zone_placement.py holds it equal to ``phonenumbers``.
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberType
from phonenumbers.phonenumberutil import is_number_type_geographical
from phonenumbers.timezone import _country_level_time_zones_for_number
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

UNKNOWN_ZONES = ("Etc/Unknown",)
E164 = re.compile(r"\+[1-9][0-9]{2,19}")
# phonenumbers._number_type_helper's order: these types first, then fixed line and mobile.
OTHER_TYPES = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)


def _desc(desc) -> tuple[frozenset[int], re.Pattern[str]] | None:
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern)


def _matches(significant: str, desc: tuple[frozenset[int], re.Pattern[str]] | None) -> bool:
    """phonenumbers' ``_is_number_matching_desc``."""
    if desc is None:
        return False
    lengths, pattern = desc
    return (not lengths or len(significant) in lengths) and pattern.fullmatch(significant) is not None


@functools.cache
def _typer(code: int, region: str | None):
    """A function: national significant number → its ``PhoneNumberType`` in the metadata of
    ``region`` (or of the calling code's non-geographic entity), UNKNOWN without metadata."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    if metadata is None:
        return lambda significant: PhoneNumberType.UNKNOWN
    general = _desc(metadata.general_desc)
    others = [(_desc(getattr(metadata, name)), kind) for name, kind in OTHER_TYPES]
    fixed, mobile, same = (
        _desc(metadata.fixed_line),
        _desc(metadata.mobile),
        metadata.same_mobile_and_fixed_line_pattern,
    )

    def kind_of(significant: str) -> int:
        if not _matches(significant, general):
            return PhoneNumberType.UNKNOWN
        for desc, kind in others:
            if _matches(significant, desc):
                return kind
        if _matches(significant, fixed):
            if same or _matches(significant, mobile):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE
            return PhoneNumberType.FIXED_LINE
        if not same and _matches(significant, mobile):
            return PhoneNumberType.MOBILE
        return PhoneNumberType.UNKNOWN

    return kind_of


@functools.cache
def _regions(code: int) -> tuple[tuple[str, re.Pattern[str] | None], ...]:
    """(region, leading digits pattern) of the calling code's regions with metadata, in order."""
    found = []
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ()):
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is not None:
            found.append((region, re.compile(metadata.leading_digits) if metadata.leading_digits else None))
    return tuple(found)


def _region(code: int, significant: str) -> str | None:
    """phonenumbers' ``region_code_for_number``."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code)
    if regions is None:
        return None
    if len(regions) == 1:
        return regions[0]
    for region, leading in _regions(code):
        if leading is not None:
            if leading.match(significant):
                return region
        elif _typer(code, region)(significant) != PhoneNumberType.UNKNOWN:
            return region
    return None


@functools.cache
def _strips_prefix(code: int) -> re.Pattern[str] | None:
    """The calling code's main region's ``national_prefix_for_parsing``: a national number it
    matches may be cut differently by ``parse``."""
    region = phonenumbers.region_code_for_country_code(code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    pattern = metadata.national_prefix_for_parsing if metadata is not None else None
    return re.compile(pattern) if pattern else None


def split(key: str) -> tuple[int, str] | None:
    """(calling code, national significant number) ``phonenumbers.parse(key, None)`` gives an
    E.164 ``key``, or None where that is not certain (no known calling code, a leading zero, a
    national prefix ``parse`` might strip, a length it refuses)."""
    if not E164.fullmatch(key):
        return None
    digits = key[1:]
    for n in (1, 2, 3):
        if int(digits[:n]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            code, significant = int(digits[:n]), digits[n:]
            break
    else:
        return None
    if not 2 <= len(significant) <= 17 or significant[0] == "0":
        return None
    strips = _strips_prefix(code)
    if strips is not None and strips.match(significant):
        return None
    return code, significant


def place(key: str) -> tuple[tuple[str, ...], str | None] | None:
    """(``time_zones_for_number``'s zones, ``region_code_for_number``) of the E.164 ``key``, as
    ``phonenumbers`` answers after ``parse``; None where :func:`split` is not certain."""
    found = split(key)
    if found is None:
        return None
    code, significant = found
    region = _region(code, significant)
    kind = _typer(code, region)(significant)
    if kind == PhoneNumberType.UNKNOWN:
        return UNKNOWN_ZONES, region
    if not is_number_type_geographical(kind, code):
        return _country_level_time_zones_for_number(phonenumbers.PhoneNumber(country_code=code)), region
    digits = key[1:]
    for length in range(TIMEZONE_LONGEST_PREFIX, 0, -1):
        if digits[:length] in TIMEZONE_DATA:
            return TIMEZONE_DATA[digits[:length]], region
    return UNKNOWN_ZONES, region
