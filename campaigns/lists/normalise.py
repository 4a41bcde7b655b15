"""Recipient validation and normalisation: one raw cell in, one key (or one reason) out.

Keys are what the app stores and de-duplicates on (DESIGN.md "Limits the validators encode"):

- ``@username``, lower-cased. Telegram usernames are 5–32 characters of a–z, 0–9 and ``_``,
  start with a letter, do not end with ``_`` and are case-insensitive (Telegram's username
  rules, core.telegram.org/method/account.updateUsername: USERNAME_INVALID).
- ``+E164`` for phones, parsed with ``phonenumbers`` against a default region (ISO 3166 alpha-2)
  and kept only when ``is_valid_number`` holds.
- the decimal user id: ASCII digits only, no ``+``, no leading zero. The Bot API guarantees a
  user id fits in 52 significant bits (core.telegram.org/bots/api#user), so at most 16 digits.

The spellings are kept apart on purpose, so no input is both a phone and a user id: ``+…`` or
``00…`` is international, a leading ``0`` or separators (spaces, dashes, brackets) is a national
phone needing the default region, and bare digits are a user id — except in a column the import
knows holds phones (``phone_column=True``), where spreadsheets have dropped the ``+``.

No database, no network: this module is safe to call from anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import phonenumbers
from phonenumbers import NumberParseException

# The values of ``campaigns.models.RecipientKind``, repeated so this module needs no app registry.
USERNAME = "username"
PHONE = "phone"
USER_ID = "user_id"

USERNAME_MIN = 5
USERNAME_MAX = 32
# Bot API, "User.id": "at most 52 significant bits".
USER_ID_MAX = 2**52 - 1
USER_ID_MAX_DIGITS = len(str(USER_ID_MAX))  # 16; checked before int(), which refuses 4300+ digits

_USERNAME_CHARS = re.compile(r"[a-z0-9_]+")
_PHONEISH = re.compile(r"[0-9\s().\-/]+")
_ASCII_DIGITS = re.compile(r"[0-9]+")
# How a value starts when it is written as a recipient rather than as a word: @name, +phone,
# digits, a t.me/telegram.me link or a tg:// link. A bare word may be a username or a header.
_EXPLICIT_FORM = re.compile(
    r"(?:[@+0-9]|-[0-9]|tg://|(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me|telegram\.dog)/)",
    re.IGNORECASE,
)
# Invisible characters that spreadsheets and copy-paste leave around a value.
_INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"
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


@dataclass(frozen=True)
class Normalised:
    """The outcome for one raw value: ``key`` and ``kind`` when valid, else ``error`` (a reason
    staff can read, e.g. ``"username too short: 3 characters, Telegram needs 5–32"``)."""

    key: str = ""
    kind: str = ""
    error: str = ""

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


def normalise(raw: str, default_region: str | None = None, *, phone_column: bool = False) -> Normalised:
    """Normalise one recipient as written by staff.

    ``raw``: ``@name``, ``name``, ``t.me/name``, ``https://t.me/name``, ``tg://resolve?domain=name``,
    a phone (``+49 30 1234567``, ``0049…``, or national ``030 1234567`` with ``default_region``),
    a user id (``123456789``), or a ``tg://user?id=`` / ``t.me/+<phone>`` link.
    ``default_region``: ISO 3166 alpha-2 (``"DE"``) for national phone numbers, or None.
    ``phone_column``: the value comes from a column holding phones, so bare digits are a phone
    whose ``+`` a spreadsheet dropped (tried as ``+digits``, then as a national number).

    Never raises for bad input: returns ``Normalised(error=...)`` with the reason.
    """
    value = (raw or "").strip().strip(_INVISIBLE).strip()
    if not value:
        return _invalid("empty recipient")
    region = (default_region or "").strip().upper() or None

    lowered = value.lower()
    try:
        if lowered.startswith("tg://"):
            return _from_tg_link(value, region)
        if _looks_like_telegram_url(lowered):
            return _from_t_me(value, region)
    except ValueError:  # urlsplit: "Invalid IPv6 URL", a netloc that NFKC-normalises to "/"…
        return _invalid("not a valid Telegram link")
    if value.startswith("@"):
        return _username(value[1:])
    if re.fullmatch(r"-\d+", value):
        if value.startswith("-100"):
            return _invalid("a channel, not a user")
        return _invalid("a group chat, not a user")
    if value.startswith("+"):
        return _phone(value, None)
    if _PHONEISH.fullmatch(value):
        return _digits(value, region, phone_column=phone_column)
    if "@" in value and "." in value.split("@", 1)[1]:
        return _invalid("an e-mail address, not a Telegram recipient")
    if re.fullmatch(r"[A-Za-z0-9_.\-]+", value):
        return _username(value)
    return _invalid("not a username, phone number or user id")


def _looks_like_telegram_url(lowered: str) -> bool:
    rest = lowered.split("://", 1)[1] if lowered.startswith(("http://", "https://")) else lowered
    return rest.split("/", 1)[0] in _TELEGRAM_HOSTS and "/" in rest


def _from_t_me(value: str, region: str | None) -> Normalised:
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


def _from_tg_link(value: str, region: str | None) -> Normalised:
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
    number = int(digits)
    if number <= 0:
        return _invalid("user id must be a positive number")
    if number > USER_ID_MAX:
        return _invalid("too large for a Telegram user id (at most 52 bits)")
    return Normalised(key=str(number), kind=USER_ID)


def _digits(value: str, region: str | None, *, phone_column: bool) -> Normalised:
    compact = re.sub(r"[\s().\-/]", "", value)
    if not compact:
        return _invalid("not a username, phone number or user id")
    if compact.startswith("00"):
        # The ITU international call prefix: 0049… is +49….
        return _phone("+" + compact[2:], None)
    if phone_column and compact[0] != "0":
        as_international = _phone("+" + compact, None)
        if as_international.is_valid or not region:
            return as_international
        return _phone(compact, region)
    if compact == value and compact[0] != "0":
        return _user_id(compact)
    if not region:
        return _invalid("no country code: write the phone as +… or set the list's default region")
    return _phone(value, region)


_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short for a phone number",
    NumberParseException.TOO_SHORT_NSN: "too short for a phone number",
    NumberParseException.TOO_LONG: "too long for a phone number",
}


def _phone(value: str, region: str | None) -> Normalised:
    try:
        number = phonenumbers.parse(value, region)
    except NumberParseException as exc:
        return _invalid(_PARSE_ERRORS.get(exc.error_type, "not a phone number"))
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if number.extension:
        # E.164 has no extensions and Telegram accounts are tied to a plain number; dropping the
        # extension would message whoever answers the switchboard's main line.
        return _invalid("phone numbers with an extension cannot be messaged on Telegram")
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_country_code(number.country_code)
        place = f" in {where}" if where and where != "ZZ" else ""
        return _invalid(f"not a valid phone number: {e164} is not a number in use{place}")
    return Normalised(key=e164, kind=PHONE)
