"""Telegram Desktop's "Export Telegram data" ``result.json`` as a table: its contacts, and nothing
else.

Only ``contacts.list`` is read: ``personal_information`` is the exporting account itself and
``frequent_contacts`` a rating of people and chats it messages (both never recipients). Each
contact becomes a row ``phone_number``, ``user_id``, ``first_name``, ``last_name``: the phone is
its key (as written, ``+49 1512 3456731``), the user id a second identity. A contact exported
without a phone (``"phone_number": ""``) is reported "no phone number": its user id alone reaches
only people a session has already met. An entry with neither is reported too. Any other JSON is
refused, naming the formats that are read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .formats import refusal
from .table import BrokenRow, ImportRefused, Table

HEADER = ["phone_number", "user_id", "first_name", "last_name"]
NO_PHONE = (
    "no phone number (Telegram's export gives only the user id {user_id}, which reaches only "
    "people a session has already met)"
)
NO_IDENTITY = "no phone number or user id in this contact of the export"
WRONG_TYPE = (
    "{name} is {kind} in this contact of the export, which Telegram never writes: the file was "
    "changed after the export; export the contacts again"
)
OTHER_JSON = (
    "Only Telegram Desktop's contacts export is read as JSON (Settings › Advanced › Export "
    "Telegram data, with “Contacts list” ticked, format “Machine-readable JSON”)"
)


def read_telegram_export(data: bytes) -> Table:
    """The contacts of ``result.json`` (bytes) as a :class:`Table` (module docstring). Raises
    :class:`ImportRefused` for a file that is not JSON or not such an export."""
    try:
        # Bytes: json detects UTF-8 (with or without its BOM), UTF-16 and UTF-32 itself.
        document = json.loads(data)
    except RecursionError:
        raise ImportRefused(refusal("JSON nested deeper than any export", OTHER_JSON)) from None
    except ValueError as exc:
        if "integer string conversion" in str(exc):  # Python's limit on a number's digits
            raise ImportRefused(
                refusal("JSON holding a number thousands of digits long", OTHER_JSON)
            ) from None
        raise ImportRefused(
            refusal("a file that starts like JSON but is not valid JSON", OTHER_JSON)
        ) from None
    contacts = _contacts(document)
    if contacts is None:
        raise ImportRefused(refusal("JSON that is not Telegram Desktop's contacts export", OTHER_JSON))

    def rows() -> Iterator[tuple[int, list]]:
        yield 1, HEADER
        for number, contact in enumerate(contacts, start=2):
            yield number, _row(contact)

    return Table(rows=rows(), file_format="telegram", declared_rows=len(contacts) + 1)


def _contacts(document: Any) -> list | None:
    contacts = document.get("contacts") if isinstance(document, dict) else None
    listed = contacts.get("list") if isinstance(contacts, dict) else None
    return listed if isinstance(listed, list) else None


def _row(contact: Any) -> list:
    if not isinstance(contact, dict):
        return BrokenRow(NO_IDENTITY)
    for name in ("phone_number", "user_id"):
        kind = _wrong_type(contact.get(name))
        if kind:
            cells = [_text(contact.get(n)) for n in HEADER]
            return BrokenRow(WRONG_TYPE.format(name=name, kind=kind), cells)
    cells = [_text(contact.get(name)) for name in ("phone_number", "user_id", "first_name", "last_name")]
    phone, user_id = cells[0].strip(), cells[1].strip()
    if phone:
        return cells
    if user_id:
        return BrokenRow(NO_PHONE.format(user_id=user_id), cells)
    return BrokenRow(NO_IDENTITY, cells)


def _wrong_type(value: Any) -> str:
    """What ``value`` is when Telegram never writes it so ("a decimal number"), else "": a
    phone or user id as a float may have lost digits, a true/false or a list is no identity."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, (dict, list)):
        return "a list or an object"
    return ""


def _text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value)
