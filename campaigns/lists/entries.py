"""Recipients pasted as text (the suppression list's "Add many"), read like an imported file.

One entry per line; ``;``, tabs and commas separate entries on a line too, except in a number
grouped with commas (``1,234,567`` is one user id). Each entry is normalised as a column of the
given reading would be (:func:`.normalise.normalise`: the default region, spreadsheet damage),
and a later entry with a key already seen is a duplicate of the first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .normalise import ANY, normalise

_SEPARATORS = re.compile(r"[;\t\n]|,(?!\d{3}(?:\D|$))")
_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+")


@dataclass(frozen=True)
class Entry:
    """One pasted entry: ``number`` counts entries from 1; ``status`` is valid | invalid |
    duplicate; ``error`` the reason (or "duplicate of entry N")."""

    number: int
    raw: str
    key: str
    status: str
    error: str


def split_entries(text: str) -> list[str]:
    """The non-empty entries of ``text``, trimmed, in order."""
    entries = []
    for line in text.splitlines():
        parts = [line] if _GROUPED.fullmatch(line.strip()) else _SEPARATORS.split(line)
        entries += [p.strip() for p in parts if p.strip()]
    return entries


def read_entries(text: str, *, default_region: str | None = None, reading: str = ANY) -> list[Entry]:
    """Every entry of ``text`` with its key or reason (module docstring)."""
    seen: dict[str, int] = {}
    entries = []
    for number, raw in enumerate(split_entries(text), start=1):
        result = normalise(raw, default_region, reading=reading)
        if result.error:
            entries.append(Entry(number, raw, "", "invalid", result.error))
        elif result.key in seen:
            entries.append(
                Entry(number, raw, result.key, "duplicate", f"duplicate of entry {seen[result.key]}")
            )
        else:
            seen[result.key] = number
            entries.append(Entry(number, raw, result.key, "valid", ""))
    return entries
