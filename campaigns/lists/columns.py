"""What each column of a recipient file holds: guessed from its header, chosen by staff.

A column's *role* is one of the identity readings of :mod:`.normalise` (``any``, ``username``,
``phone``, ``phone_international``, ``user_id``); or what the row carries beside its identities:
its ``country`` (the region its national numbers are read in, :mod:`.countries`), its ``consent``
(yes/no: a "no" row is never a recipient), its ``opt_out`` (a column saying the person withdrew:
anything in it but no or nothing keeps the row from being a recipient), its ``time_zone``, a ``phone_label`` (Google's
``Phone 1 - Label``: which phone is the mobile; never an identity); its ``tags`` (several per cell,
:mod:`.tag_cells`; written as :class:`~campaigns.models.tags.RecipientTag` rows); a canonical personalisation
field (:data:`CANONICAL_FIELDS`: ``first_name``…, stored under that name whatever the header was,
so ``{{ first_name }}`` works); ``field`` (a personalisation field under its header); or
``ignore``. Every identity column is read: a CRM export with ``Username`` and ``Mobile`` gives one
recipient per row whichever of the two the row fills.

Guessing, from the header names (:func:`squash`: case, spaces and punctuation do not count): a
known export's own table first (:mod:`.known`); then the exact names of :data:`HEADER_ROLES` and of
:data:`.vocabulary.HEADERS` (13 languages); then names containing ``telegram``, ``username``,
``phone``, ``mobile``, ``country``…; if none names an identity, the generic ``contact`` and
``user``. Each canonical field goes to its first column only; every other column is a
personalisation field, except in a known export (Google, Outlook …: 30-odd columns of photos,
phonetic names, labels), where it is ignored unless staff keep it, and a kept one is named in
lower snake case like the canonical fields (:func:`field_name`: ``Address 1 - PO Box`` →
``address_1_po_box``).
"""

from __future__ import annotations

import functools
import re

from .known import recognise_export
from .normalise import ANY, PHONE, PHONE_INTERNATIONAL, USER_ID, USERNAME
from .vocabulary import HEADERS, MOBILE_WORDS, OPT_OUT_PARTS, SECONDARY_PHONE_WORDS, squash

FIELD = "field"
IGNORE = "ignore"
COUNTRY = "country"
CONSENT = "consent"
OPT_OUT = "opt_out"
TIME_ZONE = "time_zone"
PHONE_LABEL = "phone_label"
TAGS = "tags"
IDENTITY_ROLES = (ANY, USERNAME, PHONE, PHONE_INTERNATIONAL, USER_ID)
# Personalisation fields with one name in every list, whatever the column was called.
CANONICAL_FIELDS = {
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name",
    "email": "E-mail",
    "city": "City",
    "company": "Company",
}
EVIDENCE_ROLES = (COUNTRY, CONSENT, OPT_OUT, TIME_ZONE, PHONE_LABEL)
ROLES = (*IDENTITY_ROLES, *EVIDENCE_ROLES, TAGS, *CANONICAL_FIELDS, FIELD, IGNORE)
# Roles whose column is stored among the row's fields, under the role's name (the first column
# with the role) or its header (any later one).
NAMED_ROLES = (COUNTRY, TIME_ZONE, *CANONICAL_FIELDS)
ROLE_LABELS = {
    ANY: "Any identity (@username, phone or user id)",
    USERNAME: "Username",
    PHONE: "Phone",
    PHONE_INTERNATIONAL: "Phone, international (+ may be missing)",
    USER_ID: "User id",
    COUNTRY: "Country of the row (its phone numbers' region)",
    CONSENT: "Consent (yes / no)",
    OPT_OUT: "Opted out (yes, or a date: never a recipient)",
    TIME_ZONE: "Time zone",
    PHONE_LABEL: "Label of a phone (Mobile, Work…)",
    TAGS: "Tags (several per cell: VIP, Berlin)",
    **{name: f"Field: {name}" for name in CANONICAL_FIELDS},
    FIELD: "Personalisation field",
    IGNORE: "Ignore",
}


# Exact header names (squashed) and the identity they name.
HEADER_ROLES = {
    **dict.fromkeys(["recipient", "recipients", "telegram", "tg", "telegramcontact", "tgcontact"], ANY),
    **dict.fromkeys(
        ["username", "telegramusername", "tgusername", "telegramhandle", "tghandle", "handle"],
        USERNAME,
    ),
    **dict.fromkeys(["userid", "telegramid", "telegramuserid", "tgid", "tguserid", "chatid"], USER_ID),
    **dict.fromkeys(["whatsapp", "telegramphone", "cellnumber", "mobileno"], PHONE),
    **dict.fromkeys(
        ["msisdn", "e164", "internationalphone", "phoneinternational", "phonee164"], PHONE_INTERNATIONAL
    ),
}


@functools.cache
def _language_roles() -> dict[str, str]:
    """Squashed header → role, from :data:`.vocabulary.HEADERS` (the first language wins)."""
    found: dict[str, str] = {}
    for table in HEADERS.values():
        for role, words in table.items():
            for word in words:
                found.setdefault(squash(word), PHONE if role == "mobile" else role)
    return found


# Parts of header names, when no exact name matched (a label's parts before a phone's).
_HEADER_PARTS = (
    # A column saying the person withdrew ("Unsubscribed", "Email Opt Out", "Do not contact",
    # "Abgemeldet", "Отписан"): its yes is a no, so it is read before any other part.
    *((part, OPT_OUT) for part in OPT_OUT_PARTS),
    ("msisdn", PHONE_INTERNATIONAL),
    ("e164", PHONE_INTERNATIONAL),
    ("telegram", ANY),
    ("username", USERNAME),
    ("phonelabel", PHONE_LABEL),
    ("phonetype", PHONE_LABEL),
    ("phonetic", FIELD),
    ("fax", IGNORE),
    ("phone", PHONE),
    ("mobile", PHONE),
    ("countrycode", COUNTRY),
    ("countryregion", COUNTRY),
    ("country", COUNTRY),
    ("timezone", TIME_ZONE),
    ("emaillabel", FIELD),
    ("emailtype", FIELD),
    ("email", "email"),
    ("city", "city"),
)
_WEAK_HEADERS = {"contact": ANY, "user": ANY}
HEADER_ROLES.update(dict.fromkeys(["dnc", "noconsent", "blocked", "bounced"], OPT_OUT))
# Tags: ``tags``, ``labels``, Google's ``Group Membership``, Shopify's ``Tags`` (and HEADERS' words).
HEADER_ROLES.update(dict.fromkeys(["tags", "tag", "labels", "groupmembership", "groups", "segments"], TAGS))


def guess_roles(headers: list[str]) -> list[str] | None:
    """One role per header (module docstring), or None when no header names an identity."""
    squashed = [squash(h) for h in headers]
    known = recognise_export(headers)
    roles = [known.role_of(s) if known else None for s in squashed]
    for rule in (HEADER_ROLES.get, _language_roles().get, _part_role):
        roles = [role or (rule(s) if s else None) for s, role in zip(squashed, roles)]
    if not any(role in IDENTITY_ROLES for role in roles):
        roles = [role or (_WEAK_HEADERS.get(s) if s else None) for s, role in zip(squashed, roles)]
        if not any(role in IDENTITY_ROLES for role in roles):
            return None
    roles = _canonical_once([role or FIELD for role in roles])
    return [IGNORE if known and role == FIELD else role for role in roles]


def _canonical_once(roles: list[str]) -> list[str]:
    """Each canonical field for its first column only (the others stay fields)."""
    seen: set[str] = set()
    for i, role in enumerate(roles):
        if role in CANONICAL_FIELDS:
            roles[i] = FIELD if role in seen else role
            seen.add(role)
    return roles


def field_name(header: str, *, known_export: bool) -> str:
    """The name a personalisation column's values are kept under (``{{ name }}``): its header, or
    in a known export (:func:`.known.recognise_export`) the header in lower snake case, as the
    canonical fields are named (``Address 1 - PO Box`` → ``address_1_po_box``); "" for an
    empty header."""
    if not known_export:
        return header
    return re.sub(r"\W+", "_", header.casefold()).strip("_")


def _part_role(squashed: str) -> str | None:
    squashed = re.sub(r"[0-9]", "", squashed)  # "Phone 1 - Label" is a phone's label
    for part, role in _HEADER_PARTS:
        if part in squashed:
            return role
    return None


@functools.lru_cache(maxsize=1024)  # a file's few headers and labels, asked once per phone
def phone_preference(header: str, label: str = "") -> int:
    """How early a phone is the row's key among its phones (0 first): a mobile by its label cell
    or header, then a plain phone, then an address's, office's or home phone. A label starting
    with ``*`` (Google: the contact's primary) comes first among its kind."""
    label_words = squash(label)
    words = squash(header)
    primary = 0 if label.strip().startswith("*") else 1
    mobile = _mobile_words()
    if any(w in label_words for w in mobile) or (not label_words and any(w in words for w in mobile)):
        return primary
    if label_words or any(w in words for w in SECONDARY_PHONE_WORDS):
        return 4 + primary
    return 2 + primary


@functools.cache
def _mobile_words() -> tuple[str, ...]:
    return tuple(w for w in map(squash, MOBILE_WORDS) if w)


def label_stem(header: str) -> str:
    """The part a phone column and its label column share: ``Phone 1 - Value`` and ``Phone 1 -
    Label`` → ``phone1``."""
    return re.sub(r"(label|type|value)$", "", squash(header))


def role_of_header(header: str) -> str:
    """The identity reading a header suggests (:func:`guess_roles` for one column), else ``any``."""
    roles = guess_roles([header])
    return roles[0] if roles and roles[0] in IDENTITY_ROLES else ANY


@functools.cache
def _identity_header_words() -> frozenset[str]:
    words = {w for w, role in _language_roles().items() if role in IDENTITY_ROLES}
    return frozenset(words | set(HEADER_ROLES) | set(_WEAK_HEADERS))


def is_identity_header(text: str) -> bool:
    """Whether ``text`` is, as a whole, the name an identity column is headed with (``Username``,
    ``Telegram``, ``Handy``, ``Телефон`` …): in an identity cell, a header row, not a recipient.
    A word merely containing one (``phone_shop_berlin``) is not."""
    return squash(text) in _identity_header_words()


def names_recipients(headers: list[str]) -> bool:
    """Whether a header row names an identity column (picks a workbook's sheet)."""
    return guess_roles(headers) is not None


def column_index(headers: list[str], column: str) -> int:
    """The index of the header named ``column`` (case-insensitive); raises ``ValueError`` with a
    message naming the columns there are."""
    wanted = column.strip().lower()
    for i, header in enumerate(headers):
        if header.lower() == wanted:
            return i
    shown = ", ".join(f'"{h}"' for h in headers if h)
    raise ValueError(f'no column named "{column}" (the columns are {shown})')
