"""Recipient validation and normalisation: one raw cell in, one key (or one reason) out.

Keys are what the app stores and de-duplicates on (docs/design.md "Limits the validators encode"):

- ``@username``, lower-cased. Telegram usernames are 5–32 characters of a–z, 0–9 and ``_``,
  start with a letter, do not end with ``_`` and are case-insensitive (Telegram's username
  rules, core.telegram.org/method/account.updateUsername: USERNAME_INVALID).
- ``+E164`` for phones, parsed with ``phonenumbers`` and kept only when ``is_valid_number`` holds.
- the decimal user id: ASCII digits only, no ``+``, no leading zero. The Bot API guarantees a
  user id fits in 52 significant bits (core.telegram.org/bots/api#user), so at most 16 digits.

Explicit spellings mean one thing in any column: ``@name`` and ``t.me/…`` links are usernames,
``+…`` and ``00…`` international phones, ``-100…`` a channel. What a bare value means depends on
the column's *reading* (the mapping step's choice per column):

``any`` (any identity)
    a bare word is a username; digits with a leading ``0`` or with separators (spaces, dashes,
    brackets) are a national phone, read in the default region; bare digits are a user id, unless
    they are a phone number in the default region written with its trunk prefix (``8…`` in RU,
    ``0…`` in DE; NANP numbers need none): then a phone. Without a default region, bare digits that
    are a phone with a trunk prefix somewhere (``89161230001``: RU) are refused, asking for the
    region or for "user id" as the column's reading.
``phone`` / ``phone_international``
    digits are a phone: in the default region first (with its trunk prefix where it has one),
    then as an international number whose ``+`` a spreadsheet dropped (bare digits only), then in
    the default region without the trunk prefix. ``phone_international`` tries the dropped ``+``
    first (a column of MSISDNs).
``username`` / ``user_id``
    a bare value is a username / a user id only; thousands separators are removed from ids.

Spreadsheet damage (a ``.0`` float suffix, scientific notation, ``'`` and ``="…"`` text markers)
is undone or refused first (:mod:`.excel`). No database, no network: safe to call from anywhere.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import phonenumbers

from . import phones
from .countries import country_name
from .excel import ExcelDamage, repair

ROW_COUNTRY = " (the row's country)"  # a region_source: the row's own country column named it

# The values of ``campaigns.models.RecipientKind``, repeated so this module needs no app registry.
USERNAME = "username"
PHONE = "phone"
USER_ID = "user_id"
KINDS = (USERNAME, PHONE, USER_ID)

# How a column's bare values are read (the mapping step's identity choices).
ANY = "any"
PHONE_INTERNATIONAL = "phone_international"
READINGS = (ANY, USERNAME, PHONE, PHONE_INTERNATIONAL, USER_ID)

USERNAME_MIN = 5
USERNAME_MAX = 32
# Bot API, "User.id": "at most 52 significant bits".
USER_ID_MAX = 2**52 - 1
USER_ID_MAX_DIGITS = len(str(USER_ID_MAX))  # 16; checked before int(), which refuses 4300+ digits
PHONE_MIN_DIGITS = 5  # shorter than any national number in use (ITU-T E.164 subscriber numbers)

_USERNAME = re.compile(r"[a-z][a-z0-9_]{3,30}[a-z0-9]")
_USERNAME_CHARS = re.compile(r"[a-z0-9_]+")
_PHONEISH = re.compile(r"[0-9\s().\-/]+")
_PHONE_PUNCTUATION = re.compile(r"[\s().\-/]")
_ASCII_DIGITS = re.compile(r"[0-9]+")
_LETTER = re.compile(r"[^\W\d_]")
# How a value starts when it is written as a recipient rather than as a word: @name, +phone,
# digits, a t.me/telegram.me link or a tg:// link. A bare word may be a username or a header.
_EXPLICIT_FORM = re.compile(
    r"(?:[@+0-9]|-[0-9]|tg://|(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me|telegram\.dog)/)",
    re.IGNORECASE,
)
# Invisible characters that spreadsheets and copy-paste leave around a value: zero-width ones and
# the bidi marks, embeddings and isolates (Windows' contact cards wrap numbers in U+202A … U+202C).
_INVISIBLE = (
    "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# A phone's punctuation as input methods write it: full-width forms, Unicode dashes and minus.
_WIDE_PUNCTUATION = str.maketrans(
    {"＋": "+", "－": "-", "（": "(", "）": ")", "．": ".", "／": "/", "\u3000": " ", "\u2212": "-"}
    | dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015", "-")
)
_NUMBER_LIKE = re.compile(r"[\d\s+()./\-]+")
_TELEGRAM_HOSTS = {"t.me", "www.t.me", "telegram.me", "www.telegram.me", "telegram.dog"}
# t.me paths that are pages, not usernames.
_RESERVED_PATHS = {
    "joinchat": "an invite link, not a user",
    "addlist": "a folder link, not a user",
    "addstickers": "a sticker set link, not a user",
    "addemoji": "an emoji set link, not a user",
    "share": "a share link, not a user",
    "proxy": "a proxy link, not a user",
    "socks": "a proxy link, not a user",
    "c": "a private chat link, not a user",
    "s": "a channel preview link, not a user",
    "boost": "a boost link, not a user",
}


NO_COUNTRY_CODE = "no country code: set the list's default region or write +…"


def outside_a_list(error: str) -> str:
    """``error`` (a :func:`normalise` refusal) as said where no recipient list reads the identity
    (a person's lookup, erasure, a test send, a suppression): a phone without its country code is
    asked for with one, since there is no list whose default region would read it."""
    if error.startswith("no country code"):
        return "no country code: write it with + and its country code, e.g. +49 170 1234567"
    return error


@dataclass(frozen=True)
class Normalised:
    """The outcome for one raw value: ``key`` and ``kind`` when valid, else ``error`` (a reason
    staff can read, e.g. ``"username too short: 3 characters, Telegram needs 5–32"``).
    ``ambiguous``: bare digits that could be a phone or a user id: read as a phone in the default
    region, or refused for want of one (the mapping step asks about such a column)."""

    key: str = ""
    kind: str = ""
    error: str = ""
    ambiguous: bool = False

    @property
    def is_valid(self) -> bool:
        return not self.error


def _invalid(reason: str) -> Normalised:
    return Normalised(error=reason)


def is_explicit_form(raw: str) -> bool:
    """True when ``raw`` is written the way only a recipient is (``@name``, ``+49…``, digits,
    ``t.me/…``, ``https://t.me/…``, ``tg://…``), valid or not; False for a bare word such as
    ``alice_w`` or ``Customers``, which may as well be a column header."""
    value = (raw or "").strip().strip(_INVISIBLE).strip()
    return bool(_EXPLICIT_FORM.match(value))


def normalise(
    raw: str,
    default_region: str | None = None,
    *,
    reading: str = ANY,
    phone_column: bool = False,
    region_source: str = "",
) -> Normalised:
    """Normalise one recipient as written by staff (:func:`_normalise`). A value refused as no
    recipient at all that holds a phone number among other words (``Tel: +49 …``, ``+49 …
    (mobile)``) is refused naming the number: the words may say it is a fax or an office line,
    so the number is not taken from them."""
    result = _normalise(
        raw, default_region, reading=reading, phone_column=phone_column, region_source=region_source
    )
    if result.error in _NO_RECIPIENT and reading != USER_ID:
        found = _phone_among_words(raw, _region(default_region))
        if found:
            return _invalid(
                f"words around the phone number {found}: keep only the number in the cell "
                "(several numbers separated by commas)"
            )
    return result


_NO_RECIPIENT = {
    "not a phone number",
    "not a phone number (the column holds phone numbers)",
    "not a username, phone number or user id",
}


def _phone_among_words(raw: str, region: str | None) -> str:
    """The first phone number ``phonenumbers`` finds in ``raw`` (E.164), or ""."""
    if sum(c.isdigit() for c in raw) < PHONE_MIN_DIGITS:
        return ""
    for match in phonenumbers.PhoneNumberMatcher(raw[:RAW_SCAN], region or "ZZ"):
        return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
    return ""


RAW_SCAN = 200  # characters of a refused value searched for a phone number


def _normalise(
    raw: str,
    default_region: str | None = None,
    *,
    reading: str = ANY,
    phone_column: bool = False,
    region_source: str = "",
) -> Normalised:
    """Normalise one recipient as written by staff.

    ``raw``: ``@name``, ``name``, ``t.me/name``, ``tg://resolve?domain=name``, a phone (``+49 30…``,
    ``0049…``, national ``030 1234567`` in ``default_region``, ISO 3166 alpha-2 or None), a user id,
    a ``tg://user?id=`` / ``t.me/+<phone>`` link, possibly damaged by a spreadsheet (:func:`.excel.repair`).
    ``reading``: one of :data:`READINGS` (module docstring); ``phone_column=True`` means ``"phone"``.
    ``region_source``: whose region it is, for a national number's reason (" (the row's country)").
    Never raises for bad input: returns ``Normalised(error=...)`` with the reason."""
    value = _ascii_number((raw or "").strip().strip(_INVISIBLE).strip())
    if not value:
        return _invalid("empty recipient")
    if phone_column and reading == ANY:
        reading = PHONE
    if value[0] == "@" and _USERNAME.fullmatch(value[1:].lower()):  # the common cases, first
        return Normalised(key="@" + value[1:].lower(), kind=USERNAME)
    region = _region(default_region)
    if value.isascii() and value.isdigit():  # nothing to repair, no link: a user id or a phone
        return _digits(value, region, reading, region_source)
    try:
        value = repair(value, separators=",.'\u00a0\u202f " if reading == USER_ID else ",")
    except ExcelDamage as exc:
        return _invalid(str(exc))
    if not value:
        return _invalid("empty recipient")

    lowered = value.lower()
    try:
        if lowered.startswith("tg://"):
            return _from_tg_link(value)
        if _looks_like_telegram_url(lowered):
            return _from_t_me(value)
    except ValueError:  # urlsplit: "Invalid IPv6 URL", a netloc that NFKC-normalises to "/"…
        return _invalid("not a valid Telegram link")
    if value.startswith("@"):
        return _username(value[1:])
    if re.fullmatch(r"-\d+", value):
        if value.startswith("-100"):
            return _invalid("a channel, not a user")
        return _invalid("a group chat, not a user")
    if value.startswith("+"):
        return _plus_phone(value)
    if _PHONEISH.fullmatch(value):
        return _digits(value, region, reading, region_source)
    if "@" in value and "." in value.split("@", 1)[1]:
        return _invalid("an e-mail address, not a Telegram recipient")
    if reading in (PHONE, PHONE_INTERNATIONAL):
        return _invalid("not a phone number (the column holds phone numbers)")
    if reading == USER_ID:
        return _invalid("not a user id: a user id is a number (the column holds user ids)")
    if re.fullmatch(r"[A-Za-z0-9_.\-]+", value):
        return _username(value)
    return _invalid("not a username, phone number or user id")


def _ascii_number(value: str) -> str:
    """``value`` in ASCII when it is written as a number only (a phone or a user id) in another
    script's digits (Arabic-Indic ``٠١٥١…``, Devanagari, full-width ``０９０``) or with full-width
    punctuation, the way it shows; invisible marks inside it go. Anything with a letter is kept as
    written: ``anna٤`` is no username ``anna4``."""
    if value.isascii():
        return value
    bare = "".join(c for c in value if c not in _INVISIBLE).translate(_WIDE_PUNCTUATION)
    if not _NUMBER_LIKE.fullmatch(bare):
        return value
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in bare)


def typed_identity(raw: str) -> Normalised:
    """One identity typed where no list gives a region or a column's reading (a suppression):
    :func:`normalise`, except that bare digits which are also a phone number (``4915123456701``
    with a ``+``; ``89161230001``, a Russian number with its trunk prefix) are refused, saying
    how to write either: read as a user id they would leave the phone's owner unsuppressed."""
    result = normalise(raw)
    value = (raw or "").strip().strip(_INVISIBLE).strip()
    if value.isascii() and value.isdigit() and (result.kind == USER_ID or result.ambiguous):
        phone = _phone("+" + value, None).key or (phones.trunk_phone_elsewhere(value) or ("",))[0]
        if phone:
            return _invalid(
                f"{value} could be the phone number {phone} or the user id {value}: write {phone} "
                f"for the phone, or tg://user?id={value} for the user id"
            )
    return result


@functools.lru_cache(maxsize=64)
def _region(default_region: str | None) -> str | None:
    """``default_region`` upper-cased when phonenumbers knows it, else None."""
    region = (default_region or "").strip().upper()
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


def _looks_like_telegram_url(lowered: str) -> bool:
    rest = lowered.split("://", 1)[1] if lowered.startswith(("http://", "https://")) else lowered
    return rest.split("/", 1)[0] in _TELEGRAM_HOSTS and "/" in rest


def _from_t_me(value: str) -> Normalised:
    if "://" not in value:
        value = "https://" + value
    path = urlsplit(value).path.strip("/")
    if not path:
        return _invalid("a Telegram link without a username")
    first, _, rest = path.partition("/")
    if first.startswith("+"):
        # t.me/+<digits> is a phone-number link; t.me/+<hash> is a private invite link.
        if _ASCII_DIGITS.fullmatch(first[1:]):
            return _phone(first, None)
        return _invalid("an invite link, not a user")
    if first.lower() in _RESERVED_PATHS:
        return _invalid(_RESERVED_PATHS[first.lower()])
    if rest:
        return _invalid("a message link, not a user")
    return _username(first)


def _from_tg_link(value: str) -> Normalised:
    parts = urlsplit(value)
    query = parse_qs(parts.query)
    action = parts.netloc.lower()
    if action == "resolve" and query.get("domain"):
        return _username(query["domain"][0])
    if action == "resolve" and query.get("phone"):
        phone = query["phone"][0].strip()
        return _phone(phone if phone.startswith("+") else "+" + phone, None)
    if action == "user" and query.get("id"):
        return _user_id(query["id"][0])
    if action == "join":
        return _invalid("an invite link, not a user")
    return _invalid("a tg:// link that does not name a user")


def _username(name: str) -> Normalised:
    name = name.strip()
    lowered = name.lower()
    if not lowered:
        return _invalid("empty username")
    if not _USERNAME_CHARS.fullmatch(lowered):
        bad = sorted({c for c in lowered if not _USERNAME_CHARS.fullmatch(c)})
        shown = " ".join(repr(c) for c in bad)
        return _invalid(f"username may contain only a–z, 0–9 and _ (found {shown})")
    if lowered.isdigit():
        return _invalid("digits only: a username starts with a letter (is the column user ids or phones?)")
    if not lowered[0].isalpha():
        return _invalid("username must start with a letter")
    if lowered.endswith("_"):
        return _invalid("username cannot end with an underscore")
    if len(lowered) < USERNAME_MIN:
        return _invalid(f"username too short: {len(lowered)} characters, Telegram needs 5–32")
    if len(lowered) > USERNAME_MAX:
        return _invalid(f"username too long: {len(lowered)} characters, Telegram allows at most 32")
    return Normalised(key="@" + lowered, kind=USERNAME)


def _user_id(digits: str) -> Normalised:
    # str.isdigit() and int() also take "１２３" and "٣"; a user id is written in ASCII digits.
    if not _ASCII_DIGITS.fullmatch(digits):
        return _invalid("a user id is written in digits 0–9 only")
    if len(digits) > USER_ID_MAX_DIGITS:
        return _invalid(f"too long for a user id: {len(digits)} digits, a Telegram user id has at most 16")
    if not digits.strip("0"):
        return _invalid("0 is not a user id")
    if digits[0] == "0":
        return _invalid("a user id does not start with 0")
    if int(digits) > USER_ID_MAX:
        return _invalid("too large for a Telegram user id (at most 52 bits)")
    return Normalised(key=digits, kind=USER_ID)


def _digits(value: str, region: str | None, reading: str, source: str = "") -> Normalised:
    """Digits, possibly with phone punctuation, read as ``reading`` says (module docstring)."""
    compact = _PHONE_PUNCTUATION.sub("", value)
    if not compact:
        return _invalid("not a username, phone number or user id")
    bare = compact == value
    if reading == USER_ID:
        if not bare:
            return _invalid("not a user id: a user id is digits only (this is written like a phone number)")
        return _user_id(compact)
    if reading == USERNAME:
        return _invalid("digits only: a username starts with a letter (is the column user ids or phones?)")
    if compact.startswith("00") and compact.strip("0"):
        # The ITU international call prefix: 0049… is +49….
        return _phone("+" + compact[2:], None)
    if len(compact) < PHONE_MIN_DIGITS and (compact[0] == "0" or not bare or reading != ANY):
        if not compact.strip("0"):
            return _invalid("0 is not a user id or a phone number")
        return _invalid(f"too short for a phone number: {len(compact)} digits")
    if reading in (PHONE, PHONE_INTERNATIONAL):
        international_first = reading == PHONE_INTERNATIONAL
        return _phone_digits(
            compact, region, bare=bare, international_first=international_first, source=source
        )
    if compact[0] == "0" or not bare:
        if not region:
            return _invalid(NO_COUNTRY_CODE)
        quick = phones.quick_national(compact, region) if compact.isdigit() else None
        return Normalised(key=quick, kind=PHONE) if quick else _national(value, region, source)
    if region:
        national = phones.national(compact, region, with_trunk=True)
        if national is not None:
            return Normalised(key=national, kind=PHONE, ambiguous=_user_id(compact).is_valid)
        return _user_id(compact)
    elsewhere = phones.trunk_phone_elsewhere(compact)
    if elsewhere is not None:
        e164, where = elsewhere
        reason = (
            f"{compact} is a phone number in {where} written without its country code ({e164}), or a user "
            "id: set the list's default region to read it as a phone, or choose “user id” for the column"
        )
        return Normalised(error=reason, ambiguous=True)
    return _user_id(compact)


def _phone_digits(
    compact: str, region: str | None, *, bare: bool, international_first: bool, source: str = ""
) -> Normalised:
    """Digits in a column of phones: the region's national form, the international form whose
    ``+`` was dropped (bare digits only), and the region's form without its trunk prefix, in the
    order the module docstring gives; the first valid one wins."""
    order = ("international", "national", "untrunked")
    if not international_first:
        order = ("national", "international", "untrunked")
    for attempt in order:
        if attempt == "international":
            key = _phone("+" + compact, None).key if bare else None
        else:
            key = phones.national(compact, region, with_trunk=attempt == "national") if region else None
        if key and attempt == "international" and source == ROW_COUNTRY and not international_first:
            # 15123456737 in a row whose country is Germany: +1 512… with its "+" dropped, or
            # 01512… whose leading 0 a spreadsheet dropped? The digits and the row disagree.
            untrunked = phones.national(compact, region, with_trunk=False)
            if untrunked and untrunked != key and not _in_region(key, region):
                return _invalid(_two_countries(key, untrunked, region, source))
        if key:
            return Normalised(key=key, kind=PHONE)
    if not region:
        return _invalid(NO_COUNTRY_CODE)
    return _national(compact, region, source)


def _in_region(key: str, region: str) -> bool:
    """Whether the E.164 ``key`` has ``region``'s country code."""
    return key.startswith(f"+{phonenumbers.country_code_for_region(region)}")


def _two_countries(international: str, national: str, region: str, source: str) -> str:
    return (
        f"reads as {international} (written without its +) and as {national} (a number of "
        f"{country_name(region)}{source} that lost its leading 0): write it with +…"
    )


def national_reason(region: str, source: str = "") -> str:
    """The reason for a number written without a country code that is no number of ``region``
    (``source``: whose region, " (the row's country)"): the number may be right and the region
    wrong, so the reason says how to fix either."""
    return (
        f"written without a country code and not a number of {country_name(region)}{source}: "
        "check the number or write it with +…"
    )


def _national(value: str, region: str, source: str) -> Normalised:
    """``value`` written without a country code, read in ``region``."""
    key, error = phones.parse(value, region)
    if key:
        return Normalised(key=key, kind=PHONE)
    if error.startswith("not a valid phone number"):
        error = national_reason(region, source)
    return _invalid(error)


def _plus_phone(value: str) -> Normalised:
    """``+…``: a phone number, without reading letters as a keypad's digits (``+49 151 …
    (mobile)`` would be ``…662453``: words around a number); an extension is said as such."""
    result = _phone(value, None)
    if result.is_valid and not _LETTER.search(value) or result.error == phones.EXTENSION:
        return result
    return _invalid("not a phone number") if _LETTER.search(value) else result


def _phone(value: str, region: str | None) -> Normalised:
    key, error = phones.parse(value, region)
    return Normalised(key=key, kind=PHONE) if key else _invalid(error)
