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
from collections.abc import Callable, Sequence
from typing import Any

from .columns import (
    CONSENT,
    COUNTRY,
    FIELD,
    IGNORE,
    NAMED_ROLES,
    OPT_OUT,
    PHONE_LABEL,
    TAGS,
    field_name,
    is_identity_header,
    label_stem,
    phone_preference,
)
from .evidence import (
    MAX_VALUES,
    consent_refusal,
    date_reason,
    no_country_reason,
    not_text,
    nothing_reason,
    opt_out_refusal,
    row_region,
    split_values,
    too_many_values,
)
from .known import recognise_export
from .limits import Limits
from .mapping import Mapping
from .normalise import NO_COUNTRY_CODE, PHONE, USERNAME, is_explicit_form, normalise
from .reading import BrokenRow, NotedRow, cell_text
from .tag_cells import split_tags
from .vocabulary import squash
from .xlsx_formulas import unsaved_reason
from .zonenames import is_zone_column, valid_zone

VALID, INVALID, DUPLICATE = "valid", "invalid", "duplicate"  # Recipient.Status values
ERROR_MAX = 300  # Recipient.error
RAW_MAX = 500  # Recipient.raw_value
# C0 control characters except tab, LF and CR, which are CSV structure or cell content.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CONTROL_CHARACTERS_NOTE = "removed control characters"
HEADER_IN_DATA = (
    "“{value}” is a column name, not a recipient: a header row inside the data (files joined "
    "together?) or a second header row; delete the row"
)
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

    A row's consent columns are asked first (a "no" is never a recipient), then its opt-out
    columns (anything but "no" or nothing there is never a recipient); its country column
    gives the region its national numbers are read in (the list's default region only when the
    row names none); a cell of several values gives several identities; phones are ordered by
    :func:`.columns.phone_preference` (mobile first, by the column's header or its label cell).

    :meth:`read` returns ``(row, others, status)``: ``row`` is (row_number, raw_value, key, kind,
    status, error, fields) as :class:`campaigns.lists.writing.RowWriter` takes it, ``others`` the
    other identities as [(key, kind), …]. The row's tags (a tags column's cells,
    :func:`.tag_cells.split_tags`) are then in :attr:`tags`, for a row with a key only."""

    def __init__(
        self,
        mapping: Mapping,
        names: list[str],
        limits: Limits,
        unsaved: Callable[[int], dict[int, str]] | None = None,
    ):
        roles = list(mapping.roles) + [FIELD] * (len(names) - len(mapping.roles))
        self.region = mapping.default_region or None
        self.rank = {kind: i for i, kind in enumerate(mapping.identity_order)}
        header = [name or f"column {i + 1}" for i, name in enumerate(names)] + [
            f"column {i + 1}" for i in range(len(names), len(roles))
        ]
        labels = {
            label_stem(names[i]): i for i, role in enumerate(roles) if role == PHONE_LABEL and i < len(names)
        }
        # Identity columns: (index, reading, header, label column or None).
        self.identity = [
            (i, roles[i], header[i], labels.get(label_stem(names[i])) if i < len(names) else None)
            for i in mapping.identity_columns()
        ]
        self.indexes = [index for index, _reading, _header, _label in self.identity]
        self.several = len(self.identity) > 1
        self.nothing = nothing_reason([reading for _i, reading, _h, _l in self.identity])
        self.countries = [(i, header[i]) for i, role in enumerate(roles) if role == COUNTRY]
        self.consents = [(i, header[i]) for i, role in enumerate(roles) if role == CONSENT]
        self.opt_outs = [(i, header[i]) for i, role in enumerate(roles) if role == OPT_OUT]
        self.tag_columns = [i for i, role in enumerate(roles) if role == TAGS]
        self.tags: list[str] = []  # the tags of the row :meth:`read` read last (none when invalid)
        self.skip = {i for i, role in enumerate(roles) if role != FIELD and role not in NAMED_ROLES}
        # The personalisation columns: (index, name), canonical roles under the role's name.
        self.field_columns = field_keys(roles, names)
        # The fields that give each recipient's own time zone for send windows (a column named
        # timezone, time_zone, TZ…): a value that names no zone is noted on the row.
        self.zone_fields = [
            (name, header[i]) for i, name in self.field_columns if name and is_zone_column(name)
        ]
        self.names = names
        # The file's own column names: a row repeating them is a header row (files joined).
        self.header_words = {squash(n) for n in names if n} if mapping.header is not False else set()
        self.max_cell = limits.max_cell_chars
        self.limits = limits
        self.seen = FirstRows()
        self.regions: set[str] = set()  # the regions rows' countries named (search reads them)
        self.typed: list[str] = []  # the current row's identity cells that are no text (:func:`not_text`)
        # A workbook's cells holding a formula with no saved value (:attr:`.table.Table.unsaved`),
        # asked about the empty cells of the columns read (all but the ignored ones).
        self.unsaved = unsaved
        self.read_columns = [(i, header[i]) for i, role in enumerate(roles) if role != IGNORE]

    def read(self, number: int, cells: Sequence) -> tuple[tuple, list[tuple[str, str]], str]:
        notes: list[str] = [cells.note] if isinstance(cells, NotedRow) else []
        self.tags = []
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
        self.typed = [not_text(cells[index]) if index < count else "" for index in self.indexes]
        raw = " / ".join(t for t in texts if t)[:RAW_MAX] if self.several else texts[0][:RAW_MAX]
        fields: dict[str, str] = {}
        try:
            fields = self._fields(values)
            longest = max(map(len, values), default=0) if len(joined) > self.max_cell else 0
            unsaved = self._unsaved(number, values) if self.unsaved is not None else ""
            if isinstance(cells, BrokenRow):
                error, fields = cells.reason, {}
            elif longest > self.max_cell:
                error, fields = self.limits.cell_too_long(longest), {}
            elif unsaved:
                error = unsaved
            else:
                refusal = consent_refusal(values, self.consents) if self.consents else ""
                refusal = refusal or (opt_out_refusal(values, self.opt_outs) if self.opt_outs else "")
                if not refusal:
                    return self._identify(number, raw, values, texts, fields, notes, cleaned)
                error = refusal
        except Exception as exc:  # a broken row must never sink the upload
            error = f"unreadable row: {clean(str(exc))[0]}"
        if cleaned:
            notes.append(CONTROL_CHARACTERS_NOTE)
        return (number, raw, "", "", INVALID, _joined(error, notes), fields), [], INVALID

    def _unsaved(self, number: int, values: list[str]) -> str:
        """The reason for a row whose empty cells the import reads hold a formula with no saved
        value or an error (:mod:`.xlsx_formulas`), or "". The sheet is searched only once such a
        cell is empty."""
        count = len(values)
        empty = [(i, h) for i, h in self.read_columns if i >= count or not values[i].strip()]
        if not empty:
            return ""
        formulas = self.unsaved(number)
        found = [(h, formulas[i]) for i, h in empty if i in formulas]
        return unsaved_reason(found) if found else ""

    def _identify(
        self,
        number: int,
        raw: str,
        values: list[str],
        texts: list[str],
        fields: dict,
        notes: list[str],
        cleaned: bool,
    ) -> tuple[tuple, list[tuple[str, str]], str]:
        found, problems = self._identities(values, texts)
        for name, column in self.zone_fields:
            value = fields.get(name, "").strip()
            if value and not valid_zone(value):
                problems.append(UNKNOWN_ZONE_NOTE.format(value=value[:60], column=column))
        if cleaned:
            notes.append(CONTROL_CHARACTERS_NOTE)
        if len(found) > MAX_VALUES:
            found, problems = [], [too_many_values(len(found))]
        if not found:
            error = "; ".join(problems) if problems else self.nothing
            return (number, raw, "", "", INVALID, _joined(error, notes), fields), [], INVALID
        found.sort()
        key, kind = found[0][-2], found[0][-1]
        others = list({k: (k, c) for *_order, k, c in found[1:] if k != key}.values())
        identities = (key, *(k for k, _ in others))
        first = next((row for row in map(self.seen.get, identities) if row is not None), None)
        status, error = VALID, ""
        if first is not None:
            status, error = DUPLICATE, f"duplicate of row {first}"
        for identity in identities:
            self.seen.setdefault(identity, first if first is not None else number)
        if self.tag_columns:
            self.tags = [t for i in self.tag_columns if i < len(values) for t in split_tags(values[i])]
        return (number, raw, key, kind, status, _joined(error, problems + notes), fields), others, status

    def _identities(self, values: list[str], texts: list[str]) -> tuple[list[tuple], list[str]]:
        """The row's valid identities as (rank, preference, column, part, key, kind), and the
        reasons of its invalid cells."""
        where = row_region(values, self.countries, self.region) if self.countries else None
        region = where.region if where else self.region
        if where is not None and where.region:
            self.regions.add(where.region)
        source = where.source if where else (" (the list's default region)" if region else "")
        found: list[tuple] = []
        problems: list[str] = [where.problem] if where and where.problem else []
        count = len(values)
        for position, ((_index, reading, header, label), text) in enumerate(zip(self.identity, texts)):
            if not text:
                continue
            if self.typed[position]:
                reason = self.typed[position].format(value=text[:40])
                problems.append(f"{header}: {reason}" if self.several else reason)
                continue
            parts = split_values(text) if len(text) > 8 else (text,)
            if len(parts) > MAX_VALUES:
                reason = too_many_values(len(parts))
                problems.append(f"{header}: {reason}" if self.several else reason)
                continue
            for part_number, part in enumerate(parts):
                result = normalise(part, region, reading=reading, region_source=source)
                if (result.error or result.kind == USERNAME) and self._column_name(part):
                    problems.append(HEADER_IN_DATA.format(value=part[:40]))
                    continue
                if result.error:
                    reason = date_reason(part) or result.error
                    if reason == NO_COUNTRY_CODE and where is not None:
                        if where.problem:  # the row's country is the fault, already said
                            continue
                        reason = no_country_reason(self.countries)
                    problems.append(f"{header}: {reason}" if self.several else reason)
                    continue
                preference = 0
                if result.kind == PHONE:
                    label_text = values[label] if label is not None and label < count else ""
                    preference = phone_preference(header, label_text)
                found.append(
                    (self.rank[result.kind], preference, position, part_number, result.key, result.kind)
                )
        return found, problems

    def _column_name(self, text: str) -> bool:
        """Whether the identity cell ``text`` is a column's name (this file's, or any identity
        column's), written bare: a header row in the data, never a username."""
        return not is_explicit_form(text) and (squash(text) in self.header_words or is_identity_header(text))

    def _fields(self, values: list[str]) -> dict[str, str]:
        """The row's personalisation columns, name → value, values exactly as in the file (no
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


def field_keys(roles: Sequence[str], names: list[str]) -> list[tuple[int, str]]:
    """(index, name) of each column kept among a row's fields: a personalisation field under its
    header (:func:`.columns.field_name`: in lower snake case in a known export); a canonical
    field, country or time zone under the role's name (its first column; a later one under its
    header). Names are unique: a later column whose name is taken gets ``_2``, ``_3``…"""
    known = recognise_export(names) is not None
    keys: list[tuple[int, str]] = []
    taken: set[str] = set()
    for i, name in enumerate(names):
        role = roles[i] if i < len(roles) else FIELD
        if role in NAMED_ROLES and role not in taken:
            taken.add(role)
            keys.append((i, role))
        elif role == FIELD or role in NAMED_ROLES:
            key = base = field_name(name, known_export=known)
            number = 2
            while key and key in taken:
                key, number = f"{base}_{number}", number + 1
            taken.add(key)
            keys.append((i, key))
    return keys


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
    """The names the rows' fields are kept under, in file order (:func:`field_keys`)."""
    return [name for _i, name in field_keys(mapping.roles, names) if name]
