"""Which sheet of a workbook holds the recipients, and which of its rows is the header.

A workbook exported by a CRM or made by hand often opens with a cover sheet (a title, "Owner",
"Exported on", a count) and puts a merged title and an empty row above the column names. So:

- the sheet is chosen by its content: the one whose first rows hold the most cells written as
  recipients (``@name``, ``+49…``, ``t.me/…`` links, long digit runs such as a phone stored as a
  number), not the first one; a tie goes to the sheet whose header row names an identity column,
  then to the earlier sheet. A cover sheet holds none and is never chosen while another sheet
  holds some;
- the header row is found among the first :data:`SCAN_ROWS` rows: titles (a row filling fewer
  than half the columns the table is wide, such as a merged title) and empty rows above it are
  skipped; a row of short labels that names an identity column (:func:`.columns.names_recipients`)
  and has rows below it wins over one that merely fills the width; grouped titles over such a
  row (``Contact`` merged over ``Phone`` and ``Telegram``) give way to it.

Both are only guesses: staff can choose another sheet and header row in the mapping step
(``--sheet`` and ``--header-row`` in the command). Pure functions on rows of cells.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .normalise import is_explicit_form
from .table import cell_text

SCAN_ROWS = 30  # rows read from the top of each sheet to choose it and find its header
MAX_LABEL = 40  # characters of a column name: a longer cell is a sentence, not a header
_LONG_DIGITS = re.compile(r"\+?\d{7,15}")
# A date written as text ("2026-11-01", "01.11.2026"): a cover sheet's "Exported on", no phone.
# How only a recipient is written, whatever the column: @name, +phone, a Telegram link. Bare words
# and bare digits are not: a first name passes as a username, a customer number as a user id.
_RECIPIENT_FORM = re.compile(
    r"\s*(?:@|\+|tg://|(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me|telegram\.dog)/)", re.IGNORECASE
)
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}(?:[T ][\d:.]+)?|\d{1,2}[./]\d{1,2}[./]\d{2,4}")


def filled(cells: Sequence) -> int:
    """How many cells of a row hold something."""
    return sum(1 for c in cells if cell_text(c).strip())


def header_index(rows: Sequence[Sequence], names_recipients: Callable[[list[str]], bool]) -> int:
    """The index in ``rows`` (a sheet's first rows) of its header row, or of its first row of
    data when it has none; 0 for a sheet with no rows (module docstring)."""
    scanned = list(rows[:SCAN_ROWS])
    widest = max((filled(r) for r in scanned), default=0)
    if widest == 0:
        return 0
    enough = max(1, (widest + 1) // 2) if widest > 1 else 1
    wide = [i for i, r in enumerate(scanned) if filled(r) >= enough]

    def names_columns(i: int) -> bool:
        texts = [cell_text(c).strip() for c in scanned[i]]
        labels = all(len(t) <= MAX_LABEL and len(t.split()) <= 5 for t in texts)
        data_below = any(filled(r) for r in scanned[i + 1 :])
        return labels and data_below and names_recipients(texts) and not any(map(is_explicit_form, texts))

    for i in wide:
        if names_columns(i):
            # Grouped titles ("Contact" merged over "Phone" and "Telegram") name recipients
            # too: the fuller row of names right below them is the header.
            below = i + 1
            if below < len(scanned) and filled(scanned[below]) > filled(scanned[i]) and names_columns(below):
                return below
            return i
    return wide[0]


def recipient_cells(rows: Sequence[Sequence]) -> int:
    """How many cells of ``rows`` are written as only a recipient is (module docstring)."""
    count = 0
    for row in rows:
        for cell in row:
            if isinstance(cell, (int, float)) and not isinstance(cell, bool):
                count += bool(_LONG_DIGITS.fullmatch(cell_text(cell)))
            elif isinstance(cell, str) and cell.strip() and not _DATE.fullmatch(cell.strip()):
                count += (
                    is_explicit_form(cell)
                    and not cell.strip().isdigit()
                    or bool(_LONG_DIGITS.fullmatch(cell.strip()))
                )
    return count


def recipient_columns(rows: Sequence[Sequence]) -> list[int]:
    """The indexes of the columns of ``rows`` (data rows under a header that names no identity
    column) whose filled cells are at least half written as only a recipient is: ``@name``,
    ``+49…``, a ``t.me``/``tg://`` link. A row's cells, not its header, are then the evidence."""
    filled_cells: dict[int, int] = {}
    recipients: dict[int, int] = {}
    for row in rows:
        for i, cell in enumerate(row):
            if isinstance(cell, str) and cell.strip():
                filled_cells[i] = filled_cells.get(i, 0) + 1
                recipients[i] = recipients.get(i, 0) + bool(_RECIPIENT_FORM.match(cell))
    return sorted(i for i, n in recipients.items() if n and 2 * n >= filled_cells[i])


def choose_sheet(
    tops: Sequence[tuple[str, Sequence[Sequence]]], names_recipients: Callable[[list[str]], bool]
) -> str:
    """The name of the sheet holding recipients, from each sheet's (name, first rows)."""
    best: tuple[int, int, int] | None = None
    chosen = tops[0][0] if tops else ""
    for position, (name, rows) in enumerate(tops):
        start = header_index(rows, names_recipients)
        header = [cell_text(c).strip() for c in rows[start]] if rows else []
        score = (recipient_cells(rows[start + 1 :]), int(names_recipients(header)), -position)
        if best is None or score > best:
            best, chosen = score, name
    return chosen
