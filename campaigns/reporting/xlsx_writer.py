"""The results export for people: a workbook whose text cells are typed as text (no formula runs,
nothing is prefixed or changed), identifiers kept as identifiers, and an "About" sheet; see
:mod:`campaigns.reporting.exports`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import IO

XLSX_MAX_ROWS = 1_048_576  # Excel's rows per sheet (the header is one)
XLSX_MAX_CELL = 32_767  # Excel's characters per cell
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ABOUT_XLSX = (
    "For people: every cell holds the value exactly as stored, typed as text where it is text, so no "
    "formula runs and identifiers keep their + and digits. For machines (re-import into a CRM), "
    "use the CSV export: the same values, as plain CSV."
)


def write_xlsx(rows: Iterable[list], out: IO[bytes]) -> int:
    """Write ``rows`` (the header first) as a workbook to ``out``: text cells typed as text, numbers
    as numbers, datetimes as ISO 8601 text; returns the number of rows after the header."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Results")
    written = -1
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, datetime):
                value = value.isoformat()
            if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
                text = ILLEGAL_CHARACTERS_RE.sub("", _text(value))
                cell = WriteOnlyCell(sheet, value=text[:XLSX_MAX_CELL])
                cell.data_type = "s"  # text, even when it starts with "=": never a formula
                cell.number_format = "@"
            else:
                cell = WriteOnlyCell(sheet, value=value)
            if written < 0:
                cell.font = Font(bold=True)
            cells.append(cell)
        sheet.append(cells)
        written += 1
    about = workbook.create_sheet("About")
    about.append(["Export for people (XLSX)"])
    about.append([ABOUT_XLSX])
    workbook.save(out)
    return max(written, 0)


def _text(value) -> str:
    """A cell's text as the CSV export writes it (``campaigns.reporting.exports.csv_value``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
