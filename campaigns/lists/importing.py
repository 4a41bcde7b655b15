"""Streaming import of a recipient file (CSV or XLSX) into a :class:`RecipientList`.

One call reads the file once, row by row, and writes ``Recipient`` rows in batches, so a
million-row file never sits in memory; what is kept is one entry per distinct key, to report
later spellings of the same recipient as duplicates of the first. Every data row becomes one
``Recipient`` (valid, invalid with its reason, or duplicate of an earlier row); blank rows are
skipped. A file that cannot be a recipient list at all is refused with :class:`ImportRefused`
and nothing is written: the whole import runs in one transaction.

Row numbers are spreadsheet row numbers (the header is row 1), so "duplicate of row 2" points at
the row staff see in Excel.

Text is decoded strictly: the encoding is detected on the first MiB, and a later row that is not
valid text in it (a Windows-1251 row pasted into a UTF-8 file) becomes an invalid row saying so,
rather than a name full of "�" sent to a customer. Control characters (NUL and the other C0
codes but tab, CR and LF) are removed from every value before it is stored, and the row notes it:
PostgreSQL cannot store NUL in text, and a stray NUL in one cell must not refuse the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from django.db import transaction

from ..models import Recipient, RecipientList
from ..privacy import drop_erased
from .columns import is_phone_header, recipient_column_index
from .normalise import is_explicit_form, normalise
from .reading import BrokenRow, ImportRefused, Table, binary, cell_text, is_blank, open_table

BATCH_SIZE = 2000
MAX_PROBLEMS = 200  # problems kept in RecipientList.report; the counts cover all of them

# C0 control characters except tab, LF and CR, which are CSV structure or cell content.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CONTROL_CHARACTERS_NOTE = "removed control characters"


@dataclass(frozen=True)
class ImportReport:
    """What an import did. Counts cover every data row (blank rows are not rows);
    ``problems`` holds the first :data:`MAX_PROBLEMS` rows that are invalid, duplicate or had
    control characters removed (:data:`CONTROL_CHARACTERS_NOTE`; such a row may still be valid)
    as ``{"row": int, "value": str, "status": "valid"|"invalid"|"duplicate", "error": str}``."""

    total_rows: int
    valid_count: int
    invalid_count: int
    duplicate_count: int
    encoding: str  # Python codec name; "" for XLSX
    recipient_column: str
    file_format: str  # "csv" | "xlsx"
    delimiter: str = ""
    sheet: str = ""
    problems: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    problems_truncated: bool = False
    cleaned_count: int = 0  # rows whose control characters were removed
    columns: tuple[str, ...] = ()  # personalisation fields in file order (the recipient column left out)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = list(self.problems)
        data["columns"] = list(self.columns)
        return data


def import_recipient_list(
    recipient_list: RecipientList,
    source: str | os.PathLike | IO[bytes] | Any,
    *,
    column: str | None = None,
    encoding: str | None = None,
    default_region: str | None = None,
) -> ImportReport:
    """Import ``source`` into ``recipient_list``, replacing any rows it had.

    ``source``: a path, a Django ``UploadedFile``/``File``, or a binary file object.
    ``column``: the recipient column's header (case-insensitive); by default found by name
    (:data:`RECIPIENT_HEADERS`), else the first column. ``encoding``: a Python codec name; by
    default a BOM, then UTF-8, then charset-normalizer decide. ``default_region``: ISO 3166
    alpha-2 for national phone numbers; defaults to ``recipient_list.default_region``.

    Saves ``recipient_list`` (an unsaved one is created) with its counts, encoding, column and
    ``report``. Raises :class:`ImportRefused` for a file that is empty, not text/CSV/XLSX, has
    no recipient rows, or lacks ``column``; then nothing is written.
    """
    region = default_region if default_region is not None else recipient_list.default_region
    was_adding = recipient_list._state.adding
    try:
        with binary(source) as stream, transaction.atomic():
            table = open_table(stream, source, encoding, _names_recipients)
            report = _import_rows(recipient_list, table, column=column, region=region or None)
    except BaseException:
        if was_adding:
            # The rolled-back INSERT left a pk on the instance; make it unsaved again.
            recipient_list.pk = None
            recipient_list._state.adding = True
        raise
    return report


def _import_rows(
    recipient_list: RecipientList, table: Table, *, column: str | None, region: str | None
) -> ImportReport:
    header_row = next(((n, c) for n, c in table.rows if not is_blank(c) or isinstance(c, BrokenRow)), None)
    if header_row is None:
        raise ImportRefused("the file is empty")
    first_number, first_cells = header_row
    if isinstance(first_cells, BrokenRow):
        raise ImportRefused(f"the header row cannot be read ({first_cells.reason})")
    headers = [_clean(cell_text(c))[0].strip().lstrip("\ufeff") for c in first_cells]
    index = recipient_column_index(headers, column)
    pending: list[tuple[int, list]] = []
    if index is None:
        # No header names a recipient column: the file may have no header at all. The first row
        # is data only when its first cell is written as a recipient (@name, +phone, digits, a
        # link), valid or not, so "@abc" is reported as too short; a bare word such as
        # "Customers" is a header even though it would pass as a username.
        if is_explicit_form(cell_text(first_cells[0])):
            pending.append((first_number, list(first_cells)))
            headers = [f"column_{i + 1}" for i in range(len(headers))]
        index = 0
    recipient_column = headers[index] if index < len(headers) else f"column_{index + 1}"
    phone_column = is_phone_header(recipient_column)
    names = _field_names(headers)

    if recipient_list._state.adding:
        recipient_list.save()
    else:
        recipient_list.recipients.all().delete()

    first_seen: dict[str, int] = {}
    counts = {Recipient.Status.VALID: 0, Recipient.Status.INVALID: 0, Recipient.Status.DUPLICATE: 0}
    problems: list[dict[str, Any]] = []
    problem_rows = cleaned = 0
    batch: list[Recipient] = []
    for number, cells in _chain(pending, table.rows):
        if is_blank(cells) and not isinstance(cells, BrokenRow):
            continue
        recipient = _recipient(recipient_list, number, cells, index, names, region, phone_column, first_seen)
        counts[recipient.status] += 1
        cleaned += recipient.error.endswith(CONTROL_CHARACTERS_NOTE)
        # A valid row has an error text only when it carries a note (control characters removed).
        if recipient.error:
            problem_rows += 1
            if len(problems) < MAX_PROBLEMS:
                problems.append(
                    {
                        "row": number,
                        "value": recipient.raw_value,
                        "status": recipient.status,
                        "error": recipient.error,
                    }
                )
        batch.append(recipient)
        if len(batch) >= BATCH_SIZE:
            Recipient.objects.bulk_create(batch)
            batch.clear()
    Recipient.objects.bulk_create(batch)
    if drop_erased(recipient_list):  # an erased person is not imported again (campaigns.privacy)
        counts = {status: recipient_list.recipients.filter(status=status).count() for status in counts}

    total = sum(counts.values())
    if total == 0:
        raise ImportRefused("no recipient rows")
    report = ImportReport(
        total_rows=total,
        valid_count=counts[Recipient.Status.VALID],
        invalid_count=counts[Recipient.Status.INVALID],
        duplicate_count=counts[Recipient.Status.DUPLICATE],
        encoding=table.encoding,
        recipient_column=recipient_column,
        file_format=table.file_format,
        delimiter=table.delimiter,
        sheet=table.sheet,
        problems=tuple(problems),
        problems_truncated=len(problems) < problem_rows,
        cleaned_count=cleaned,
        columns=tuple(name for i, name in enumerate(names) if i != index and name),
    )
    recipient_list.total_rows = report.total_rows
    recipient_list.valid_count = report.valid_count
    recipient_list.invalid_count = report.invalid_count
    recipient_list.duplicate_count = report.duplicate_count
    recipient_list.encoding = report.encoding
    recipient_list.recipient_column = recipient_column[:100]
    recipient_list.report = report.as_json()
    recipient_list.save(
        update_fields=[
            "total_rows",
            "valid_count",
            "invalid_count",
            "duplicate_count",
            "encoding",
            "recipient_column",
            "report",
        ]
    )
    return report


def _recipient(
    recipient_list: RecipientList,
    number: int,
    cells: Sequence,
    index: int,
    names: list[str],
    region: str | None,
    phone_column: bool,
    first_seen: dict[str, int],
) -> Recipient:
    """One data row as an unsaved Recipient; a row that breaks anything becomes invalid.

    Control characters are removed from every value before anything is stored, and the row
    says so in ``error`` (:data:`CONTROL_CHARACTERS_NOTE`, after the reason of an invalid or
    duplicate row; alone on a valid one)."""
    raw, raw_cleaned = _clean(cell_text(cells[index]) if index < len(cells) else "")
    if isinstance(cells, BrokenRow):
        return Recipient(
            recipient_list=recipient_list,
            row_number=number,
            raw_value=raw.strip()[:500],
            status=Recipient.Status.INVALID,
            error=_noted(cells.reason, raw_cleaned),
        )
    try:
        fields, fields_cleaned = _fields(cells, index, names)
        result = normalise(raw, region, phone_column=phone_column)
    except Exception as exc:  # a broken row must never sink the upload
        return Recipient(
            recipient_list=recipient_list,
            row_number=number,
            raw_value=raw[:500],
            status=Recipient.Status.INVALID,
            error=_noted(f"unreadable row: {_clean(str(exc))[0]}", raw_cleaned),
        )
    recipient = Recipient(
        recipient_list=recipient_list,
        row_number=number,
        raw_value=raw.strip()[:500],
        key=result.key,
        kind=result.kind,
        fields=fields,
    )
    if result.error:
        recipient.status = Recipient.Status.INVALID
        recipient.error = result.error
    elif result.key in first_seen:
        recipient.status = Recipient.Status.DUPLICATE
        recipient.error = f"duplicate of row {first_seen[result.key]}"
    else:
        first_seen[result.key] = number
    recipient.error = _noted(recipient.error, raw_cleaned or fields_cleaned)
    return recipient


def _noted(error: str, cleaned: bool) -> str:
    """``error`` fitted to ``Recipient.error`` (300 characters), with the control-characters note
    appended when ``cleaned``; the note is never the part cut off."""
    if not cleaned:
        return error[:300]
    if not error:
        return CONTROL_CHARACTERS_NOTE
    return f"{error[: 300 - len(CONTROL_CHARACTERS_NOTE) - 2]}; {CONTROL_CHARACTERS_NOTE}"


def _clean(text: str) -> tuple[str, bool]:
    """``text`` without C0 control characters (tab, LF and CR stay), and whether any were there."""
    cleaned = _CONTROL_CHARACTERS.sub("", text)
    return cleaned, len(cleaned) != len(text)


def _fields(cells: Sequence, index: int, names: list[str]) -> tuple[dict[str, str], bool]:
    """The row's other columns, header → value, values exactly as in the file (no trimming:
    a name's newline or a formula-looking text is data; exports neutralise formulas) but for
    control characters, which are removed; and whether any were."""
    fields: dict[str, str] = {}
    any_cleaned = False
    for i in range(max(len(cells), len(names))):
        if i == index:
            continue
        value, cleaned = _clean(cell_text(cells[i]) if i < len(cells) else "")
        any_cleaned = any_cleaned or cleaned
        name = names[i] if i < len(names) else ""
        if not name:
            if not value:
                continue
            name = f"column_{i + 1}"
        fields[name] = value
    return fields, any_cleaned


def _field_names(headers: list[str]) -> list[str]:
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


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _names_recipients(headers: list[str]) -> bool:
    return recipient_column_index(headers, None) is not None
