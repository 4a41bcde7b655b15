"""Reading a tags column's cell: ``VIP, Berlin`` → ["VIP", "Berlin"].

Files write several tags to a cell in their own ways: Shopify's ``Tags`` with commas, Google
Contacts' ``Labels`` / ``Group Membership`` with `` ::: `` (``* myContacts ::: VIP ::: Berlin``),
spreadsheets with ``;`` or ``|``. Google's system groups (``* myContacts``, ``* starred``: a
leading ``*``) say nothing staff chose and are dropped.
"""

from __future__ import annotations

import functools
import re

from ..models.tags import TAG_MAX_LENGTH

# Separators between the tags of one cell (``:::`` before the others: it holds no comma).
_SEPARATORS = re.compile(r"\s*:::\s*|\s*[,;|\n]\s*")
MAX_TAGS_PER_CELL = 50  # a cell of hundreds of "tags" is a mis-mapped column, not labels


@functools.lru_cache(maxsize=4096)  # a tags column repeats a few cells over a million rows
def split_tags(text: str) -> tuple[str, ...]:
    """The tags of one cell, as written (blanks, duplicates in any case and Google's system
    groups dropped), in order, at most :data:`MAX_TAGS_PER_CELL`, each cut to the tag length."""
    found: dict[str, str] = {}
    for part in _SEPARATORS.split(text or ""):
        name = " ".join(part.split())
        if not name or name.startswith("*"):
            continue
        found.setdefault(name.casefold(), name[:TAG_MAX_LENGTH])
        if len(found) >= MAX_TAGS_PER_CELL:
            break
    return tuple(found.values())
