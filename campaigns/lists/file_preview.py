"""The mapping step: a recipient file's first rows as they will be read, before anything is stored.

:func:`preview_file` opens the file with a :class:`.mapping.Mapping` (detecting what it leaves
empty), decides the header and each column's role as the import would (:func:`.importing.layout`)
and reads the first rows: their cells as decoded and what each becomes (key, or reason). It also
reads a sample of rows to find what staff should decide: national phone numbers with no default
region, and bare digits that could be a phone or a user id.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .columns import CONSENT, COUNTRY, FIELD, IDENTITY_ROLES, IGNORE
from .formats import CSV
from .importing import ColumnsChanged, layout, open_mapped
from .limits import Limits
from .mapping import Mapping
from .normalise import NO_COUNTRY_CODE, PHONE, normalise
from .reading import binary, cell_text, count_lines, is_blank
from .rows import RowReader
from .table import BrokenRow, ImportRefused, Table

SHOWN_ROWS = 10
# Roles whose columns decide a row's verdict: shown first.
DECIDING_ROLES = (*IDENTITY_ROLES, COUNTRY, CONSENT)
SAMPLE_ROWS = 1000


@dataclass
class PreviewRow:
    number: int
    cells: list[str]
    key: str
    status: str
    error: str


@dataclass
class Preview:
    """What the mapping step shows. ``mapping`` has every detected value filled in; ``columns``
    are the column names (the header row, or ``column_N``); ``estimated_rows`` counts line ends
    (CSV) or the rows declared (others); ``notes`` are for staff to act on, the first saying
    whose choices were reused (:attr:`.mapping.Mapping.reused_from`)."""

    mapping: Mapping
    file_format: str
    sheets: list[str]
    columns: list[str]
    rows: list[PreviewRow]
    estimated_rows: int
    counts: dict[str, int] = field(default_factory=dict)
    needs_region: int = 0  # sample values that need a default region to be read
    ambiguous: dict[str, list[str]] = field(default_factory=dict)  # column → example values
    national: dict[str, int] = field(default_factory=dict)  # column → national phone numbers read
    notes: list[str] = field(default_factory=list)
    roles_reset: bool = False  # the submitted roles were for other columns and were guessed again
    doubt: str = ""  # why the guessed identity column is only a guess (:attr:`.importing.Layout.doubt`)
    encoding_doubt: str = ""  # why the detected encoding alone is only a guess (part of ``doubt``)

    @property
    def sampled(self) -> int:
        return sum(self.counts.values())

    def column_order(self) -> list[int]:
        """The columns' indexes in the order the mapping step shows them: first those that decide
        a row's verdict (identities, country, consent), then the others kept, then the ignored
        ones; file order within each. A narrow screen thus shows why each row is what it is."""
        roles = list(self.mapping.roles) + [FIELD] * (len(self.columns) - len(self.mapping.roles))

        def rank(i: int) -> int:
            role = roles[i]
            return 0 if role in DECIDING_ROLES else 2 if role == IGNORE else 1

        return sorted(range(len(self.columns)), key=lambda i: (rank(i), i))


def preview_file(source: Any, mapping: Mapping, *, limits: Limits | None = None) -> Preview:
    """The preview of ``source`` read with ``mapping``. Raises :class:`ImportRefused` (the words
    the import would use) for a file that cannot be a recipient list, or has more rows than the
    limit allows."""
    limits = limits or Limits.from_settings()
    try:
        preview, table = _read(source, mapping, limits)
    except ColumnsChanged:
        # Another encoding, delimiter, sheet or header row gives other columns: guess their roles
        # again. The file is opened anew: each reading has its own open file.
        preview, table = _read(source, mapping.with_(roles=(), headers=()), limits)
        preview.roles_reset = True
    preview.estimated_rows = _estimate(source, table, preview)
    if preview.estimated_rows > limits.max_rows:
        raise ImportRefused(limits.too_many_rows(preview.estimated_rows))
    if not preview.counts:
        raise ImportRefused("no recipient rows")
    preview.notes = _notes(preview)
    return preview


def _read(source: Any, mapping: Mapping, limits: Limits) -> tuple[Preview, Table]:
    """Open ``source``, decide its layout and read the sample, all while it is open."""
    with binary(source) as stream:
        table = open_mapped(stream, source, mapping, limits)
        plan = layout(table, mapping)
        applied = plan.mapping.with_(
            encoding=table.encoding, delimiter=table.delimiter, sheet=table.sheet, header_row=table.header_row
        )
        preview = Preview(
            mapping=applied,
            file_format=table.file_format,
            sheets=table.sheets,
            columns=plan.names,
            rows=[],
            estimated_rows=0,
            doubt=plan.doubt,
            encoding_doubt=table.doubt,
        )
        _read_sample(preview, plan.pending, table.rows, limits, table.unsaved)
    return preview, table


def _read_sample(preview: Preview, pending: list, rest: Any, limits: Limits, unsaved: Any = None) -> None:
    mapping = preview.mapping
    reader = RowReader(mapping, preview.columns, limits, unsaved)
    identity = [(i, mapping.roles[i], preview.columns[i]) for i in mapping.identity_columns()]
    counts: Counter[str] = Counter()
    seen = 0
    for number, cells in [*pending, *_take(rest, SAMPLE_ROWS)]:
        if is_blank(cells) and not isinstance(cells, BrokenRow):
            continue
        seen += 1
        row, _others, status = reader.read(number, cells)
        counts[status] += 1
        if len(preview.rows) < SHOWN_ROWS:
            texts = [cell_text(c) for c in cells]
            preview.rows.append(PreviewRow(number, texts, row[2], status, row[5]))
        for index, reading, name in identity:
            text = cell_text(cells[index]).strip() if index < len(cells) else ""
            if not text:
                continue
            result = normalise(text, mapping.default_region or None, reading=reading)
            if result.ambiguous and len(preview.ambiguous.setdefault(name, [])) < 3:
                preview.ambiguous[name].append(text)
            # A row whose own country column reads its number needs no default region.
            if (result.error == NO_COUNTRY_CODE and NO_COUNTRY_CODE in row[5]) or (
                result.ambiguous and not result.is_valid
            ):
                preview.needs_region += 1
            if result.kind == PHONE and not text.startswith(("+", "00")):
                preview.national[name] = preview.national.get(name, 0) + 1
    preview.counts = dict(counts)


def _take(rows: Any, n: int):
    for i, item in enumerate(rows):
        if i >= n:
            return
        yield item


def _estimate(source: Any, table: Any, preview: Preview) -> int:
    """Data rows, about: the sample when the file ended within it; else line ends less the header
    (CSV) or the rows the sheet declares (XLSX)."""
    sampled = sum(preview.counts.values())
    if sampled < SAMPLE_ROWS:
        return sampled
    if table.file_format != CSV:
        return max(sampled, table.declared_rows - (1 if preview.mapping.header else 0))
    with binary(source) as stream:
        lines = count_lines(stream)
    return max(sampled, lines - (1 if preview.mapping.header else 0))


def reused_note(preview: Preview) -> str:
    """What a mapping taken from an earlier list reuses, in the words the page and the command
    print; "" when it was not taken from one."""
    mapping = preview.mapping
    if not mapping.reused_from:
        return ""
    roles = ", ".join(
        f"{name or f'column {i + 1}'}={role}"
        for i, (name, role) in enumerate(zip(preview.columns, mapping.roles))
        if role != FIELD
    )
    region = f"region {mapping.default_region}" if mapping.default_region else "no default region"
    return (
        f"Using the mapping of list “{mapping.reused_from}” (same header row): roles {roles or '-'}; "
        f"identity order {mapping.order_text()}; {region}. How the file is read (encoding, "
        "delimiter, sheet, header row) was detected for this file."
    )


def _notes(preview: Preview) -> list[str]:
    notes = [reused_note(preview)] if preview.mapping.reused_from else []
    region = preview.mapping.default_region
    if preview.needs_region and not region:
        notes.append(
            f"{preview.needs_region} of the first rows' phone numbers have no country code: choose the "
            "default region (the country of numbers written without +), or they are reported invalid."
        )
    for name, examples in preview.ambiguous.items():
        shown = ", ".join(examples)
        if region:
            notes.append(
                f"Column “{name}”: digits such as {shown} are phone numbers in {region} and could also be "
                "user ids; they are read as phone numbers. Choose “User id” for the column if they are user ids."
            )
        else:
            notes.append(
                f"Column “{name}”: digits such as {shown} could be phone numbers written without country "
                "code or user ids: choose the default region to read them as phones, or “User id” for the column."
            )
    if not any(r in IDENTITY_ROLES for r in preview.mapping.roles):
        notes.append("Choose at least one identity column.")
    if preview.doubt:
        notes.append(f"Only a guess, to check before importing: {preview.doubt}.")
    return notes
