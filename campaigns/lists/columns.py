"""Recognising columns by their header: which one holds recipients, and which hold phones."""

from __future__ import annotations

import re

from .reading import ImportRefused

# Header names (lower-cased, letters and digits only) that name the recipient column, best first.
RECIPIENT_HEADERS = (
    "recipient",
    "recipients",
    "telegram",
    "telegramusername",
    "telegramhandle",
    "telegramid",
    "tgusername",
    "tg",
    "tgid",
    "username",
    "user",
    "userid",
    "contact",
    "handle",
    "phone",
    "phonenumber",
    "mobile",
    "mobilephone",
    "cellphone",
    "telephone",
    "tel",
    "msisdn",
)
_RECIPIENT_HEADER_PARTS = ("telegram", "username", "phone", "mobile")
_PHONE_HEADER_PARTS = ("phone", "mobile", "cell", "msisdn", "whatsapp")
_PHONE_HEADERS = {"tel", "telephone"}


def squash(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def recipient_column_index(headers: list[str], column: str | None) -> int | None:
    """The recipient column's index: ``column`` if given, else by header name, else None."""
    if column is not None:
        wanted = column.strip().lower()
        for i, header in enumerate(headers):
            if header.lower() == wanted:
                return i
        shown = ", ".join(f'"{h}"' for h in headers if h)
        raise ImportRefused(f'no column named "{column}" (the columns are {shown})')
    squashed = [squash(h) for h in headers]
    for name in RECIPIENT_HEADERS:
        if name in squashed:
            return squashed.index(name)
    for part in _RECIPIENT_HEADER_PARTS:
        for i, header in enumerate(squashed):
            if part in header:
                return i
    return None


def is_phone_header(header: str) -> bool:
    squashed = squash(header)
    return squashed in _PHONE_HEADERS or any(part in squashed for part in _PHONE_HEADER_PARTS)
