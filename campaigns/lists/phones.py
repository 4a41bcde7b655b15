"""Phone numbers with phonenumbers: one spelling to E.164 or a reason, trunk prefixes, and which
bare digits are a national number somewhere (see :mod:`.normalise` for how they are used)."""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata


@functools.cache
def _trunk_prefix(region: str) -> str:
    """The region's trunk (national) prefix when its national numbers need one ("0" in DE, "8"
    in RU); "" where they are written without (NANP's "1" is optional, Norway has none)."""
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.country_code == 1:
        return ""
    return metadata.national_prefix or ""


@functools.cache
def _national_lengths(region: str) -> frozenset[int]:
    """The lengths a full national number of ``region`` can have as written: its national
    significant number's lengths (phonenumbers' metadata), or those plus its trunk prefix. A
    cheap test before parsing; numbers that need no area code ("local only") are never valid."""
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None or not metadata.general_desc.possible_length:
        return frozenset(range(1, 20))
    trunk = len(metadata.national_prefix or "")
    return frozenset(n + extra for n in metadata.general_desc.possible_length for extra in {0, trunk})


def national(compact: str, region: str, *, with_trunk: bool) -> str | None:
    """The E.164 key of the digits ``compact`` as a national number of ``region``, or None when
    it is not a valid one. ``with_trunk``: only when written with the region's trunk prefix (if
    it has one)."""
    trunk = _trunk_prefix(region)
    if with_trunk and trunk and not compact.startswith(trunk):
        return None
    if not with_trunk and trunk and compact.startswith(trunk):
        return None
    if compact.isdigit() and len(compact) not in _national_lengths(region):
        return None
    quick = quick_national(compact, region)
    if quick is not None:
        return quick or None
    return parse(compact, region)[0] or None


@functools.cache
def _simple_trunk(region: str) -> tuple[int, str, re.Pattern[str] | None, frozenset[int]] | None:
    """(country code, trunk prefix, international call prefix, lengths) for a region whose
    national numbers are the trunk prefix and the national significant number, nothing more
    (US, CA, DE, FR, RU, IN, NL…); None for regions with other parsing rules (GB, BR, JP…) or
    no trunk prefix (IT keeps its leading 0)."""
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None or not metadata.national_prefix:
        return None
    if (
        metadata.national_prefix_for_parsing != metadata.national_prefix
        or metadata.national_prefix_transform_rule
    ):
        return None
    prefix = re.compile(metadata.international_prefix) if metadata.international_prefix else None
    lengths = frozenset(metadata.general_desc.possible_length or ())
    return metadata.country_code, metadata.national_prefix, prefix, lengths


def quick_national(compact: str, region: str) -> str | None:
    """The E.164 key of the ASCII digits ``compact`` as a national number of ``region``, "" when
    it is none, or None when this shortcut does not apply (then ask :func:`parse`). It builds the
    number without ``phonenumbers.parse`` (half the cost of an import row), only where parsing is
    plain: a simple trunk prefix, no international call prefix, no leading country code, a
    possible length. tests/test_recipients.py holds it equal to phonenumbers on random digits."""
    simple = _simple_trunk(region)
    if simple is None or not compact.isascii() or not compact.isdigit():
        return None
    code, trunk, international, lengths = simple
    if (international and international.match(compact)) or compact.startswith(str(code)):
        return None
    significant = compact[len(trunk) :] if compact.startswith(trunk) else compact
    if not significant or significant[0] == "0" or len(significant) not in lengths:
        return None
    number = phonenumbers.PhoneNumber(country_code=code, national_number=int(significant))
    return f"+{code}{significant}" if _is_valid(number, region, significant) else ""


@functools.cache
def _regions_by_trunk() -> dict[str, tuple[str, ...]]:
    """Trunk prefix → the main region of each country code using it, for the prefixes other than
    "0" (a leading 0 already reads as a national number): {"1": ("US",), "8": ("BY", "RU", "TM")}.
    One region per country code is enough: ``is_valid_number`` checks a number against every
    region of its country code."""
    found: dict[str, set[str]] = {}
    for regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.values():
        main = regions[0]
        metadata = PhoneMetadata.metadata_for_region(main)
        trunk = (metadata.national_prefix or "") if metadata else ""
        if trunk and not trunk.startswith("0"):
            found.setdefault(trunk, set()).add(main)
    return {trunk: tuple(sorted(regions)) for trunk, regions in found.items()}


def trunk_phone_elsewhere(compact: str) -> tuple[str, str] | None:
    """(E.164, region) when the bare digits ``compact`` are a valid national number, written with
    its trunk prefix, of a region whose numbers need one (``89161230001``: +79161230001 in RU);
    else None. Bare digits are a user id only when they are not such a number."""
    for trunk, regions in _regions_by_trunk().items():
        if compact.startswith(trunk):
            for region in regions:
                key = parse(compact, region)[0]
                if key:
                    return key, phonenumbers.region_code_for_number(phonenumbers.parse(key, None)) or region
    return None


_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short for a phone number",
    NumberParseException.TOO_SHORT_NSN: "too short for a phone number",
    NumberParseException.TOO_LONG: "too long for a phone number",
}


EXTENSION = "phone numbers with an extension cannot be messaged on Telegram"


def parse(value: str, region: str | None) -> tuple[str, str]:
    """(E.164, "") for a valid phone number written as ``value`` (national numbers in ``region``),
    else ("", the reason)."""
    try:
        number = phonenumbers.parse(value, region)
    except NumberParseException as exc:
        return "", _PARSE_ERRORS.get(exc.error_type, "not a phone number")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if number.extension:
        # E.164 has no extensions and Telegram accounts are tied to a plain number; dropping the
        # extension would message whoever answers the switchboard's main line.
        return "", EXTENSION
    if not _is_valid(number, region):
        where = phonenumbers.region_code_for_country_code(number.country_code)
        place = f" in {where}" if where and where != "ZZ" else ""
        return "", f"not a valid phone number: {e164} is not a number in use{place}"
    return e164, ""


def _is_valid(number: phonenumbers.PhoneNumber, region: str | None, significant: str = "") -> bool:
    """``phonenumbers.is_valid_number``, faster: the likely region is asked first, and every check
    uses the metadata's patterns compiled once (:func:`_validator`) instead of phonenumbers'
    per-call ``re.compile`` lookups, which were the import's largest cost. The answer is
    phonenumbers' own (``region_code_for_number``'s order, ``is_valid_number_for_region``'s
    rules); tests/test_recipients.py holds the two equal. ``significant``: the national
    significant number when the caller has it."""
    significant = significant or phonenumbers.national_significant_number(number)
    likely = (
        region if region and phonenumbers.country_code_for_region(region) == number.country_code else None
    )
    likely = likely or phonenumbers.region_code_for_country_code(number.country_code)
    if likely and likely != "ZZ" and _validator(likely)(significant):
        return True
    for candidate, leading in _regions_of(number.country_code):
        if leading is not None:
            if leading.match(significant):
                return _validator(candidate)(significant)
        elif _validator(candidate)(significant):
            return True
    return False


@functools.cache
def _regions_of(country_code: int) -> tuple[tuple[str, re.Pattern[str] | None], ...]:
    """(region, leading digits pattern) for each region of the country code, in phonenumbers'
    order (``region_code_for_number``)."""
    found = []
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ()):
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is not None:
            found.append((region, re.compile(metadata.leading_digits) if metadata.leading_digits else None))
    return tuple(found)


_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)


@functools.cache
def _validator(region: str):
    """A function: national significant number → valid in ``region`` (phonenumbers'
    ``_number_type_helper(...) != UNKNOWN``: the general description and one number type match,
    each by possible length and by its whole pattern)."""
    metadata = PhoneMetadata.metadata_for_region(region)

    def desc(d) -> tuple[frozenset[int], re.Pattern[str]] | None:
        if d is None or not d.national_number_pattern:
            return None
        return frozenset(d.possible_length or ()), re.compile(d.national_number_pattern)

    general = desc(metadata.general_desc) if metadata else None
    types = (
        [t for t in (desc(getattr(metadata, name, None)) for name in _TYPES) if t is not None]
        if metadata
        else []
    )

    def matches(significant: str, d: tuple[frozenset[int], re.Pattern[str]]) -> bool:
        lengths, pattern = d
        return (not lengths or len(significant) in lengths) and pattern.fullmatch(significant) is not None

    def valid(significant: str) -> bool:
        if general is None or not matches(significant, general):
            return False
        return any(matches(significant, d) for d in types)

    return valid
