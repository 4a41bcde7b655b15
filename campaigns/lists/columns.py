"""What each column of a recipient file holds: guessed from its header, chosen by staff.

A column's *role* is one of the identity readings of :mod:`.normalise` (``any``, ``username``,
``phone``, ``phone_international``, ``user_id``), ``field`` (a personalisation field) or
``ignore``. Every identity column is read: a CRM export with ``Username`` and ``Mobile`` gives one
recipient per row whichever of the two the row fills.

Guessing, from the header names (lower-cased, letters and digits only): the exact names of
:data:`HEADER_ROLES` first; if none matches, names containing ``telegram``, ``username``,
``phone``, ``mobile``…; if none, the generic ``contact`` and ``user``. Every other column is a
personalisation field.
"""

from __future__ import annotations

import re

from .normalise import ANY, PHONE, PHONE_INTERNATIONAL, USER_ID, USERNAME

FIELD = "field"
IGNORE = "ignore"
IDENTITY_ROLES = (ANY, USERNAME, PHONE, PHONE_INTERNATIONAL, USER_ID)
ROLES = (*IDENTITY_ROLES, FIELD, IGNORE)
ROLE_LABELS = {
    ANY: "Any identity (@username, phone or user id)",
    USERNAME: "Username",
    PHONE: "Phone",
    PHONE_INTERNATIONAL: "Phone, international (+ may be missing)",
    USER_ID: "User id",
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
    **dict.fromkeys(
        [
            "phone",
            "phonenumber",
            "phoneno",
            "mobile",
            "mobilephone",
            "mobilenumber",
            "mobileno",
            "cell",
            "cellphone",
            "cellnumber",
            "telephone",
            "tel",
            "whatsapp",
            "telegramphone",
        ],
        PHONE,
    ),
    **dict.fromkeys(
        ["msisdn", "e164", "internationalphone", "phoneinternational", "phonee164"], PHONE_INTERNATIONAL
    ),
}
# Parts of header names, when no exact name matched.
_HEADER_PARTS = (
    ("msisdn", PHONE_INTERNATIONAL),
    ("e164", PHONE_INTERNATIONAL),
    ("telegram", ANY),
    ("username", USERNAME),
    ("phone", PHONE),
    ("mobile", PHONE),
)
_WEAK_HEADERS = {"contact": ANY, "user": ANY}


def squash(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def guess_roles(headers: list[str]) -> list[str] | None:
    """One role per header (module docstring), or None when no header names an identity."""
    squashed = [squash(h) for h in headers]
    for rule in (HEADER_ROLES.get, _part_role, _WEAK_HEADERS.get):
        found = [rule(s) if s else None for s in squashed]
        if any(found):
            return [role or FIELD for role in found]
    return None


def _part_role(squashed: str) -> str | None:
    for part, role in _HEADER_PARTS:
        if part in squashed:
            return role
    return None


def role_of_header(header: str) -> str:
    """The identity reading a header suggests (:func:`guess_roles` for one column), else ``any``."""
    roles = guess_roles([header])
    return roles[0] if roles and roles[0] in IDENTITY_ROLES else ANY


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
