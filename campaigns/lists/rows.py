"""One data row of a recipient file → one recipient: its key, its other identities, its status.

A row is one recipient whichever identity columns it fills. Each filled identity cell is
normalised as its column's role reads it; the valid identities are sorted by the identity order
(then by column), the first is the row's key and the others are kept as its other identities.
An identity cell that is invalid while another is valid leaves a note on the (valid) row; a row
with no valid identity is invalid with the reason (each column's reason, named by its header,
when there are several identity columns).

De-duplication sees every identity: a row is a duplicate of the first row that had any of its
identities, and the identities it adds point at that first row too.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Sequence
from typing import Any

from .columns import FIELD
from .limits import Limits
from .mapping import Mapping
from .normalise import normalise
from .reading import BrokenRow, NotedRow, cell_text
from .zonenames import is_zone_column, valid_zone

VALID, INVALID, DUPLICATE = "valid", "invalid", "duplicate"  # Recipient.Status values
ERROR_MAX = 300  # Recipient.error
RAW_MAX = 500  # Recipient.raw_value
# C0 control characters except tab, LF and CR, which are CSV structure or cell content.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CONTROL_CHARACTERS_NOTE = "removed control characters"
UNKNOWN_ZONE_NOTE = (
    "unknown time zone “{value}” in column “{column}” (use an IANA name such as Europe/Berlin)"
)


def clean(text: str) -> tuple[str, bool]:
    """``text`` without C0 control characters (tab, LF and CR stay), and whether any were there."""
    if not _CONTROL_CHARACTERS.search(text):
        return text, False
    return _CONTROL_CHARACTERS.sub("", text), True


class RowReader:
    """Reads the data rows of one file, in order, with one column layout (``mapping.roles`` for
    ``names``, the unique header names) and remembers the identities seen for de-duplication.

    :meth:`read` returns ``(row, others, status)``: ``row`` is (row_number, raw_value, key, kind,
    status, error, fields) as :class:`campaigns.lists.writing.RowWriter` takes it, ``others`` the
    other identities as [(key, kind), …]."""

    def __init__(self, mapping: Mapping, names: list[str], limits: Limits):
        self.region = mapping.default_region or None
        self.rank = {kind: i for i, kind in enumerate(mapping.identity_order)}
        self.identity = [
            (i, mapping.roles[i], names[i] or f"column {i + 1}") for i in mapping.identity_columns()
        ]
        self.indexes = [index for index, _reading, _header in self.identity]
        self.several = len(self.identity) > 1
        self.skip = {i for i, role in enumerate(mapping.roles) if role != FIELD}
        # The personalisation columns: (index, name).
        self.field_columns = [(i, name) for i, name in enumerate(names) if i not in self.skip]
        # The fields that give each recipient's own time zone for send windows (a column named
        # timezone, time_zone, TZ…): a value that names no zone is noted on the row.
        self.zone_fields = [name for _i, name in self.field_columns if name and is_zone_column(name)]
        self.names = names
        self.max_cell = limits.max_cell_chars
        self.limits = limits
        self.seen = FirstRows()

    def read(self, number: int, cells: Sequence) -> tuple[tuple, list[tuple[str, str]], str]:
        notes: list[str] = [cells.note] if isinstance(cells, NotedRow) else []
        values = (
            cells
            if type(cells) is list and all(type(c) is str for c in cells)
            else [cell_text(c) for c in cells]
        )
        joined = "\t".join(values)
        cleaned = bool(_CONTROL_CHARACTERS.search(joined))
        if cleaned:
            values = [_CONTROL_CHARACTERS.sub("", v) for v in values]
        count = len(values)
        texts = [values[index].strip() if index < count else "" for index in self.indexes]
        raw = " / ".join(t for t in texts if t)[:RAW_MAX] if self.several else texts[0][:RAW_MAX]
        fields: dict[str, str] = {}
        try:
            fields = self._fields(values)
            longest = max(map(len, values), default=0) if len(joined) > self.max_cell else 0
            if isinstance(cells, BrokenRow):
                error, fields = cells.reason, {}
            elif longest > self.max_cell:
                error, fields = self.limits.cell_too_long(longest), {}
            else:
                return self._identify(number, raw, texts, fields, notes, cleaned)
        except Exception as exc:  # a broken row must never sink the upload
            error = f"unreadable row: {clean(str(exc))[0]}"
        if cleaned:
            notes.append(CONTROL_CHARACTERS_NOTE)
        return (number, raw, "", "", INVALID, _joined(error, notes), fields), [], INVALID

    def _identify(
        self, number: int, raw: str, texts: list[str], fields: dict, notes: list[str], cleaned: bool
    ) -> tuple[tuple, list[tuple[str, str]], str]:
        found: list[tuple[int, int, str, str]] = []
        problems: list[str] = []
        for position, ((_index, reading, header), text) in enumerate(zip(self.identity, texts)):
            if not text:
                continue
            result = normalise(text, self.region, reading=reading)
            if result.error:
                problems.append(f"{header}: {result.error}" if len(self.identity) > 1 else result.error)
            else:
                found.append((self.rank[result.kind], position, result.key, result.kind))
        for name in self.zone_fields:
            value = fields.get(name, "").strip()
            if value and not valid_zone(value):
                problems.append(UNKNOWN_ZONE_NOTE.format(value=value[:60], column=name))
        if cleaned:
            notes.append(CONTROL_CHARACTERS_NOTE)
        if not found:
            error = "; ".join(problems) if problems else "empty recipient"
            return (number, raw, "", "", INVALID, _joined(error, notes), fields), [], INVALID
        found.sort()
        key, kind = found[0][2], found[0][3]
        others = list({k: (k, c) for _r, _p, k, c in found[1:] if k != key}.values())
        identities = (key, *(k for k, _ in others))
        first = next((row for row in map(self.seen.get, identities) if row is not None), None)
        status, error = VALID, ""
        if first is not None:
            status, error = DUPLICATE, f"duplicate of row {first}"
        for identity in identities:
            self.seen.setdefault(identity, first if first is not None else number)
        return (number, raw, key, kind, status, _joined(error, problems + notes), fields), others, status

    def _fields(self, values: list[str]) -> dict[str, str]:
        """The row's personalisation columns, header → value, values exactly as in the file (no
        trimming: a name's newline or a formula-looking text is data; exports neutralise
        formulas). Cells beyond the header row are kept as ``column_N`` when not empty."""
        count = len(values)
        fields = {name: values[i] if i < count else "" for i, name in self.field_columns if name}
        for i, name in self.field_columns:
            if not name and i < count and values[i]:
                fields[f"column_{i + 1}"] = values[i]
        for i in range(len(self.names), count):
            if values[i] and i not in self.skip:
                fields[f"column_{i + 1}"] = values[i]
        return fields


class FirstRows:
    """identity → the first row that had it, for de-duplication, in two arrays (12 bytes a slot,
    open addressing) instead of a dict: a dict of a million key strings took over 100 MB.

    Identities are kept as their 64-bit hash (Python's SipHash of the key). Two different
    identities with one hash (about one chance in 10^8 for a million) would make the later row a
    duplicate of the earlier: one person not messaged, never one messaged twice."""

    def __init__(self, capacity: int = 1 << 14):
        self._hashes = array("q", bytes(8 * capacity))
        self._rows = array("l", bytes(self._rows_itemsize() * capacity))
        self._mask = capacity - 1
        self._used = 0

    @staticmethod
    def _rows_itemsize() -> int:
        return array("l").itemsize

    def _slot(self, h: int) -> int:
        hashes, mask = self._hashes, self._mask
        i = h & mask
        while hashes[i] and hashes[i] != h:
            i = (i + 1) & mask
        return i

    def get(self, key: str) -> int | None:
        h = hash(key) or 1
        i = self._slot(h)
        return self._rows[i] if self._hashes[i] == h else None

    def setdefault(self, key: str, row: int) -> int:
        h = hash(key) or 1
        i = self._slot(h)
        if self._hashes[i] == h:
            return self._rows[i]
        self._hashes[i], self._rows[i] = h, row
        self._used += 1
        if self._used * 3 > len(self._hashes) * 2:
            self._grow()
        return row

    def __len__(self) -> int:
        return self._used

    def _grow(self) -> None:
        hashes, rows = self._hashes, self._rows
        capacity = len(hashes) * 2
        self._hashes = array("q", bytes(8 * capacity))
        self._rows = array("l", bytes(self._rows_itemsize() * capacity))
        self._mask = capacity - 1
        for h, row in zip(hashes, rows):
            if h:
                i = self._slot(h)
                self._hashes[i], self._rows[i] = h, row


def _joined(error: str, notes: list[str]) -> str:
    """``error`` and the ``notes`` after it, fitted to :data:`ERROR_MAX` characters; the notes are
    never the part cut off (the control-characters note last of all)."""
    tail = "; ".join(notes)
    if not error:
        return tail[-ERROR_MAX:] if len(tail) > ERROR_MAX else tail
    if not tail:
        return error[:ERROR_MAX]
    return f"{error[: max(0, ERROR_MAX - len(tail) - 2)]}; {tail}"[-ERROR_MAX:]


def field_names(headers: list[str]) -> list[str]:
    """Header names made unique (a repeated header gets `` (column N)``); blanks stay blank."""
    seen: set[str] = set()
    names = []
    for i, header in enumerate(headers):
        name = header
        if name and name in seen:
            name = f"{header} (column {i + 1})"
        seen.add(name)
        names.append(name)
    return names


def personalisation_names(mapping: Mapping, names: list[str]) -> list[Any]:
    """The personalisation fields' names in file order."""
    return [
        name
        for i, name in enumerate(names)
        if name and (i >= len(mapping.roles) or mapping.roles[i] == FIELD)
    ]
