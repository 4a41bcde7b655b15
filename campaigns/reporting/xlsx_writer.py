"""The results export for people: a workbook whose text cells are typed as text (no formula runs,
nothing is prefixed or changed), times as date-times in the reader's zone (named in the header),
numbers as numbers where a column holds only numbers, identifiers kept as identifiers (text), a
frozen header row with a filter, columns as wide as their values, and an "About" sheet; see
:mod:`campaigns.reporting.exports`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from itertools import chain, islice
from typing import IO

XLSX_MAX_ROWS = 1_048_576  # Excel's rows per sheet (the header is one)
XLSX_MAX_CELL = 32_767  # Excel's characters per cell
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ABOUT_XLSX = (
    "For people: times are in the zone named in their column's header, as date-times; a column that "
    "holds only numbers holds numbers; every other cell holds the value exactly as stored, typed as "
    "text, so no formula runs and identifiers (phones, user ids, message ids, keys) keep their + and "
    "digits. Skipped rows were never sent, so they show no message. For machines (re-import into a "
    "CRM), use the CSV export: every value as stored, times in UTC (ISO 8601)."
)
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
# Column widths, in characters: from the header and the first rows, within these bounds.
WIDTH_SAMPLE_ROWS = 200
MIN_WIDTH, MAX_WIDTH = 8, 60
# A column whose name says it holds identifiers stays text even when its values are all digits
# (a phone, a user or customer id, a postcode: arithmetic on them means nothing, and Excel would
# drop a leading 0 or show 15+ digits in scientific notation).
_IDENTIFIER_NAME = re.compile(
    r"phone|mobile|handy|tel\b|fax|whatsapp|(^|[\W_])id($|[\W_])|user|key|code|zip|postal|plz|iban|"
    r"account|number|(^|[\W_])(nr|no)($|[\W_])|sku|ean|ref",
    re.I,
)
_PLAIN_NUMBER = re.compile(r"-?(0|[1-9]\d{0,14})(\.\d{1,10})?")


@dataclass(frozen=True)
class PeopleColumns:
    """How the sheet shows columns by header: ``times`` hold ISO 8601 text, shown as date-times
    in ``zone``; ``numbers`` maps a header to the Excel number format its numeric text is shown
    in; ``texts`` are identifiers shown as text even when stored as numbers (a message id);
    every other text stays text. ``unsent``: (column, value, other column): a row whose column
    holds the value shows the other column empty. ``titles``: header → the title shown (a column
    without one keeps its name, or "name (list column)" when a title took it); ``labels``:
    header → {stored value: the words shown}."""

    zone: tzinfo
    times: frozenset[str] = frozenset()
    numbers: Mapping[str, str] = field(default_factory=dict)
    texts: frozenset[str] = frozenset()
    # (column, value, column left empty): a row never sent shows no message.
    unsent: tuple[str, str, str] | None = None
    titles: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


class NumericColumn:
    """Whether a column ``name`` holds only plain numbers ("12.50", "-3"; empty values skipped),
    told value by value (:meth:`add`), so a million rows need no list. :attr:`number_format`: "0"
    or "0.00…" (as many decimals as the longest), or None when the column is an identifier by name
    or by value (a leading + or 0, more than 15 digits, anything not a plain number) or empty."""

    def __init__(self, name: str) -> None:
        self.numeric = not _IDENTIFIER_NAME.search(name)
        self.seen = False
        self.decimals = 0

    def add(self, value: object) -> None:
        if not self.numeric or value is None or value == "":
            return
        if not isinstance(value, str) or not _PLAIN_NUMBER.fullmatch(value):
            self.numeric = False
            return
        self.seen = True
        self.decimals = max(self.decimals, len(value.partition(".")[2]))

    @property
    def number_format(self) -> str | None:
        if not (self.numeric and self.seen):
            return None
        return "0." + "0" * self.decimals if self.decimals else "0"


def numeric_columns(shown: Mapping[str, str], fields: Iterable[dict | None]) -> dict[str, str]:
    """{header: number format} of the personalisation fields that hold only numbers
    (:class:`NumericColumn`): ``shown`` maps each field's name to its header, ``fields`` is every
    row's fields (read once, value by value)."""
    kinds = {name: NumericColumn(name) for name in shown}
    for row in fields:
        for name, kind in kinds.items():
            kind.add((row or {}).get(name))
    return {shown[name]: kind.number_format for name, kind in kinds.items() if kind.number_format}


def for_people(rows: Iterable[list], columns: PeopleColumns) -> tuple[Iterator[list], dict[int, str]]:
    """``rows`` (the header first, values as the CSV export has them) as the sheet shows them:
    headers titled (``columns.titles``; time headers named with the zone: "Sent (Europe/Berlin)"),
    values of ``columns.labels`` in words, times date-times in the
    zone (to the second, no zone: Excel has none), numeric text of ``columns.numbers`` as numbers,
    ``columns.texts`` as text, ``columns.unsent`` emptied; and the number format of each time and
    number column by index."""
    rows = iter(rows)
    header = next(rows, None)
    if header is None:
        return iter(()), {}
    zone_name = str(getattr(columns.zone, "key", columns.zone))
    times = [i for i, name in enumerate(header) if name in columns.times]
    numbers = {i: columns.numbers[name] for i, name in enumerate(header) if name in columns.numbers}
    texts = [i for i, name in enumerate(header) if name in columns.texts]
    shown = _titles(header, columns.titles, times, zone_name)
    labels = {i: columns.labels[name] for i, name in enumerate(header) if name in columns.labels}
    unsent = columns.unsent and (
        header.index(columns.unsent[0]),
        columns.unsent[1],
        header.index(columns.unsent[2]),
    )

    def converted() -> Iterator[list]:
        yield shown
        for row in rows:
            row = list(row)
            if unsent and row[unsent[0]] == unsent[1]:
                row[unsent[2]] = None
            for i in times:
                if row[i]:
                    moment = datetime.fromisoformat(str(row[i])).astimezone(columns.zone)
                    row[i] = moment.replace(tzinfo=None, microsecond=0)
            for i in numbers:
                row[i] = _number(row[i])
            for i in texts:
                row[i] = None if row[i] is None else str(row[i])
            for i, words in labels.items():
                row[i] = words.get(row[i], row[i])
            yield row

    formats = {i: DATETIME_FORMAT for i in times} | numbers
    return converted(), formats


def _titles(header: list[str], titles: Mapping[str, str], times: list[int], zone_name: str) -> list[str]:
    """The header as shown: each name's title (a time's with the zone: "Sent (Europe/Berlin)");
    a name without a title that a title already took gets " (list column)"."""
    taken = {titles[name] for name in header if name in titles}
    shown = []
    for i, name in enumerate(header):
        title = titles.get(name) or (f"{name} (list column)" if name in taken else name)
        shown.append(f"{title} ({zone_name})" if i in times else title)
    return shown


def _number(value: object) -> object:
    if not isinstance(value, str) or not value:
        return value or None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    return int(number) if number == number.to_integral_value() and "." not in value else float(number)


def write_xlsx(rows: Iterable[list], out: IO[bytes], number_formats: Mapping[int, str] | None = None) -> int:
    """Write ``rows`` (the header first) as a workbook to ``out``: text cells typed as text,
    numbers as numbers, datetimes as date-times; ``number_formats``: column index → Excel format.
    The header row is frozen and filtered, and columns are as wide as the header and the first
    :data:`WIDTH_SAMPLE_ROWS` rows need. Returns the number of rows after the header."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Results")
    rows = iter(rows)
    first = list(islice(rows, WIDTH_SAMPLE_ROWS + 1))
    widths: dict[int, int] = {}
    for row in first:
        for i, value in enumerate(row):
            widths[i] = max(widths.get(i, 0), _shown_length(value))
    for i, width in widths.items():
        sheet.column_dimensions[get_column_letter(i + 1)].width = max(MIN_WIDTH, min(width + 2, MAX_WIDTH))
    sheet.freeze_panes = "A2"
    written = -1
    for row in chain(first, rows):
        sheet.append(_cells(sheet, row, number_formats or {}, header=written < 0))
        written += 1
    if first:
        sheet.auto_filter.ref = f"A1:{get_column_letter(max(len(first[0]), 1))}{written + 1}"
    about = workbook.create_sheet("About")
    about.append(["Export for people (XLSX)"])
    about.append([ABOUT_XLSX])
    workbook.save(out)
    return max(written, 0)


def _cells(sheet, row: list, number_formats: Mapping[int, str], *, header: bool) -> list:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    cells = []
    for i, value in enumerate(row):
        if isinstance(value, datetime):
            cell = WriteOnlyCell(sheet, value=value)
            cell.number_format = DATETIME_FORMAT
        elif value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            text = ILLEGAL_CHARACTERS_RE.sub("", _text(value))
            cell = WriteOnlyCell(sheet, value=text[:XLSX_MAX_CELL] or None)
            cell.data_type = "s"  # text, even when it starts with "=": never a formula
            cell.number_format = "@"
        else:
            cell = WriteOnlyCell(sheet, value=value)
            if i in number_formats:
                cell.number_format = number_formats[i]
        if header:
            cell.font = Font(bold=True)
        cells.append(cell)
    return cells


def _shown_length(value: object) -> int:
    if isinstance(value, datetime):
        return len("2026-12-06 13:07:12")
    return max((len(line) for line in _text(value).splitlines()), default=0)


def _text(value) -> str:
    """A cell's text as the CSV export writes it (``campaigns.reporting.exports.csv_value``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
