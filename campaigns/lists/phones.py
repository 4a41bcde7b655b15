"""Phone numbers with phonenumbers: one spelling to E.164 or a reason, trunk prefixes, and which
bare digits are a national number somewhere (see :mod:`.normalise` for how they are used)."""

from __future__ import annotations

import functools

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


def national(compact: str, region: str, *, with_trunk: bool) -> str | None:
    """The E.164 key of ``compact`` as a national number of ``region``, or None when it is not a
    valid one. ``with_trunk``: only when written with the region's trunk prefix (if it has one)."""
    trunk = _trunk_prefix(region)
    if with_trunk and trunk and not compact.startswith(trunk):
        return None
    if not with_trunk and trunk and compact.startswith(trunk):
        return None
    return parse(compact, region)[0] or None


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
        return "", "phone numbers with an extension cannot be messaged on Telegram"
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_country_code(number.country_code)
        place = f" in {where}" if where and where != "ZZ" else ""
        return "", f"not a valid phone number: {e164} is not a number in use{place}"
    return e164, ""
