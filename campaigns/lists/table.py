"""What reading a recipient file yields: a :class:`Table` of rows of cells, rows that could not be
read (:class:`BrokenRow`) or were read with a note (:class:`NotedRow`), and :class:`ImportRefused`
for a file that is no recipient list."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any


class ImportRefused(Exception):
    """The whole file was refused; ``str(exc)`` is a message for staff. Nothing was written."""


@dataclass
class Table:
    """An opened file: its rows as (row_number, cells) and how it was read (``file_format`` one
    of :data:`.formats.FORMATS`' names; ``encoding`` a Python codec name, "" for a workbook;
    ``sheets``: a workbook's sheet names; ``header_row``: the row the rows start at, the header's
    when there is one, 1-based). Row numbers count records (a spreadsheet's rows)."""

    rows: Iterator[tuple[int, list[str | int | float | None]]]
    file_format: str
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""
    sheets: list[str] = field(default_factory=list)
    declared_rows: int = 0  # a workbook sheet's rows from the header row on (0: unknown)
    header_row: int = 1
    # Cells written as only a recipient is (@name, +49…) in a workbook sheet's first rows below
    # its header (:func:`.sheets.recipient_cells`); None when not counted (a sheet staff chose,
    # CSV and the other formats).
    recipient_cells: int | None = None
    # Why the detected encoding is only a guess (:func:`.encoding.encoding_doubt`), or "".
    doubt: str = ""
    # A workbook sheet's cells holding a formula with no saved value or an error: row number →
    # {column index: "" or the error} (:class:`.xlsx_formulas.UnsavedFormulas`); None when the
    # sheet holds no formula.
    unsaved: Callable[[int], dict[int, str]] | None = None


def cell_text(cell: str | int | float | None | Any) -> str:
    """A cell as text. Spreadsheet numbers lose their ``.0`` (a phone stored as 13125550112.0
    is ``"13125550112"``); dates become ISO 8601."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime.datetime) and cell.time() == datetime.time(0):
        return cell.date().isoformat()
    if isinstance(cell, (datetime.date, datetime.time)):
        return cell.isoformat()
    return str(cell)


def is_blank(cells: Sequence) -> bool:
    return all(not cell_text(c).strip() for c in cells)


class BrokenRow(list):
    """A record that cannot be imported as read; ``reason`` says why. Holds the cells that could
    be read (none when the CSV reader failed), to show staff which row it is."""

    def __init__(self, reason: str, cells: Sequence = ()):
        super().__init__(cells)
        self.reason = reason


class NotedRow(list):
    """A record read in a way staff should hear about (``note``), e.g. a cell cut at the end of
    its line because its quote was never closed; it is imported like any other row."""

    def __init__(self, note: str, cells: Sequence = ()):
        super().__init__(cells)
        self.note = note
