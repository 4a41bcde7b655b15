"""Streaming import of a recipient file (CSV or XLSX) into a :class:`RecipientList`.

One call reads the file once, row by row, and writes ``Recipient`` rows in batches, so a
million-row file never sits in memory; what is kept is one entry per distinct identity, to report
later spellings of the same person as duplicates of the first. Every data row becomes one
``Recipient`` (valid, invalid with its reason, or duplicate of an earlier row; :mod:`.rows`);
blank rows are skipped. A file that cannot be a recipient list at all is refused with
:class:`ImportRefused` and nothing is kept: by default the whole import is one transaction; a
worker's import (``atomic=False``) commits each batch so its progress shows, and deletes what it
wrote when it fails.

Row numbers are spreadsheet row numbers (the header is row 1), so "duplicate of row 2" points at
the row staff see in Excel.

Text is decoded strictly: the encoding is detected on the first MiB, and a later row that is not
valid text in it (a Windows-1251 row pasted into a UTF-8 file) becomes an invalid row saying so,
rather than a name full of "�" sent to a customer. Control characters (NUL and the other C0
codes but tab, CR and LF) are removed from every value before it is stored, and the row notes it:
PostgreSQL cannot store NUL in text, and a stray NUL in one cell must not refuse the file. A
``timezone`` (``tz``, ``time_zone``) column's value that names no IANA zone is noted on its row too:
send windows read each recipient's zone from it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from django.db import connection, transaction

from tgcampaigns import counters

from ..models import ImportStatus, Recipient, RecipientIdentity, RecipientList, RecipientTag
from ..models.privacy import drop_erased
from .columns import FIELD, IDENTITY_ROLES, column_index, guess_roles, names_recipients, role_of_header
from .known import recognise_export, withdrawn_export
from .limits import Limits
from .mapping import Mapping
from .normalise import ANY, is_explicit_form
from .reading import BrokenRow, ImportRefused, Table, binary, cell_text, is_blank, open_table
from .rows import (
    CONTROL_CHARACTERS_NOTE,
    DUPLICATE,
    INVALID,
    VALID,
    RowReader,
    clean,
    field_names,
    personalisation_names,
)
from .sheets import recipient_columns
from .writing import BackgroundWriter, RowWriter

__all__ = ["CONTROL_CHARACTERS_NOTE", "ImportRefused", "ImportReport", "import_recipient_list"]

NO_RECIPIENTS_IN_SHEET = (
    "no column of sheet “{sheet}” is named as holding recipients (username, phone, …) and none of "
    "its first rows holds one (@name, +49…): it reads like a cover sheet. Choose the sheet that "
    "holds the recipients, or choose the column's role (username, phone) in the mapping"
)
NO_RECIPIENT_COLUMN = (
    "no column is headed as usernames, phone numbers or user ids ({headers}), and none holds "
    "values written as @username, +phone number or a t.me link: head the recipients' column "
    "“Username”, “Phone” or “User ID” and upload again, or choose the column's role"
)
LOOK_AHEAD_ROWS = 50  # rows read to find the recipients' column under a header that names none
BATCH_SIZE = 5000
MAX_PROBLEMS = 200  # problems kept in RecipientList.report; the counts cover all of them
MAX_TAGS_REPORTED = 50  # the most used tags named in the report


@dataclass(frozen=True)
class ImportReport:
    """What an import did. Counts cover every data row (blank rows are not rows);
    ``problems`` holds the first :data:`MAX_PROBLEMS` rows that are invalid, duplicate or carry a
    note (control characters removed, an unclosed quote, an invalid second identity, a time zone
    column naming no zone: such a row may still be valid) as ``{"row": int, "value": str, "status": "valid"|"invalid"|"duplicate",
    "error": str}``. ``recipient_column``: the identity columns' headers, comma-separated."""

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
    columns: tuple[str, ...] = ()  # personalisation fields in file order
    identity_columns: tuple[str, ...] = ()
    identity_order: tuple[str, ...] = ()
    other_identities: int = 0  # identities kept besides the keys
    recognised: str = ""  # the known export the header row is (:mod:`.known`), "" for none
    regions: tuple[str, ...] = ()  # the regions the rows' own countries named
    tags: dict[str, int] = field(default_factory=dict)  # tag as first written → rows, most first

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("problems", "columns", "identity_columns", "identity_order", "regions"):
            data[name] = list(data[name])
        return data


class ColumnsChanged(ImportRefused):
    """The file's header row is not the one a mapping's roles were chosen for."""


@dataclass
class Layout:
    """How one file's columns are read: the mapping as it applies (``header`` and ``roles``
    decided), the unique column names, and the first data rows already read (``pending``).
    ``doubt``: why the roles, guessed without evidence, may be shown but not imported unchosen."""

    mapping: Mapping
    names: list[str]
    pending: list[tuple[int, list]]
    doubt: str = ""


def open_mapped(stream: IO[bytes], source: Any, mapping: Mapping, limits: Limits) -> Table:
    """``stream`` opened as a table the way ``mapping`` says (its encoding, delimiter, sheet and
    header row; each detected where empty): :func:`.reading.open_table` for the mapping step and
    the import alike."""
    return open_table(
        stream,
        source,
        mapping.encoding or None,
        names_recipients,
        delimiter=mapping.delimiter or None,
        sheet=mapping.sheet or None,
        header_row=mapping.header_row,
        limits=limits,
    )


def import_recipient_list(
    recipient_list: RecipientList,
    source: str | os.PathLike | IO[bytes] | Any,
    *,
    column: str | None = None,
    encoding: str | None = None,
    default_region: str | None = None,
    mapping: Mapping | None = None,
    atomic: bool = True,
    progress: Callable[[int], None] | None = None,
    limits: Limits | None = None,
) -> ImportReport:
    """Import ``source`` into ``recipient_list``, replacing any rows it had.

    ``source``: a path, a Django ``UploadedFile``/``File``, or a binary file object.
    ``mapping``: how to read it (:class:`.mapping.Mapping`; by default everything is detected and
    the columns' roles guessed from their headers). ``column`` (a header, case-insensitive: that
    column is the one identity column), ``encoding`` (a codec name) and ``default_region`` (ISO
    3166 alpha-2; default: the list's) override the mapping's. ``atomic``: one transaction (the
    default), or a commit per batch with ``progress(rows_read)`` called after each, for a worker.

    Saves ``recipient_list`` (an unsaved one is created) with its counts, mapping and ``report``.
    Raises :class:`ImportRefused` for a file that is empty, not text/CSV/XLSX, breaks a limit,
    has no recipient rows or no identity column, or lacks ``column``; then nothing is kept.
    """
    mapping = mapping or Mapping()
    region = (
        default_region
        if default_region is not None
        else (mapping.default_region or recipient_list.default_region)
    )
    mapping = mapping.with_(encoding=encoding or mapping.encoding, default_region=(region or "").upper())
    limits = limits or Limits.from_settings()
    was_adding = recipient_list._state.adding
    started = time.monotonic()
    try:
        with binary(source) as stream, transaction.atomic() if atomic else contextlib.nullcontext():
            table = open_mapped(stream, source, mapping, limits)
            report = _import_rows(recipient_list, table, mapping, column, atomic, progress, limits)
        counters.count_import(report.total_rows, time.monotonic() - started)
        return report
    except BaseException:
        if was_adding:
            # The rolled-back INSERT left a pk on the instance; make it unsaved again.
            recipient_list.pk = None
            recipient_list._state.adding = True
        elif not atomic:
            forget_rows(recipient_list)
        raise


def forget_rows(recipient_list: RecipientList) -> None:
    """Delete the list's recipients, their identities and tags (a failed worker import's batches)."""
    with transaction.atomic():
        RecipientTag.objects.filter(recipient__recipient_list=recipient_list).delete()
        RecipientIdentity.objects.filter(recipient__recipient_list=recipient_list).delete()
        Recipient.objects.filter(recipient_list=recipient_list).delete()


def first_rows(table: Table) -> tuple[int, list] | None:
    """The first row that is not blank (a broken one counts), or None."""
    return next(((n, c) for n, c in table.rows if not is_blank(c) or isinstance(c, BrokenRow)), None)


def layout(table: Table, mapping: Mapping, column: str | None = None) -> Layout:
    """Decide the header and each column's role for ``table`` (consuming its first row).

    Roles come from ``mapping.roles`` (extra columns are fields), else ``column`` (the one
    identity column), else the headers (:func:`.columns.guess_roles`). A file whose first row
    names no identity column and starts with a recipient (``@name``, digits, a link) has no
    header; its first column holds the recipients. Raises :class:`ImportRefused`."""
    found = first_rows(table)
    if found is None:
        raise ImportRefused("the file is empty")
    number, cells = found
    if isinstance(cells, BrokenRow):
        raise ImportRefused(f"the header row cannot be read ({cells.reason})")
    headers = [clean(cell_text(c))[0].strip().lstrip("\ufeff") for c in cells]
    withdrawn = withdrawn_export(headers) if mapping.header is not False else ""
    if withdrawn:
        raise ImportRefused(f"this is {withdrawn}")
    header = mapping.header
    roles = list(mapping.roles)
    pending: list[tuple[int, list]] = []
    doubt = ""
    if not roles and column is not None:
        try:
            index = column_index(headers, column)
        except ValueError as exc:
            raise ImportRefused(str(exc)) from None
        roles = [FIELD] * len(headers)
        roles[index] = role_of_header(headers[index])
        header = True
    elif not roles:
        header, roles, pending, doubt = _guessed_roles(table, headers, cells, header)
    elif header is not False and mapping.headers and tuple(headers) != mapping.headers:
        raise ColumnsChanged(
            "the file's columns are not those the mapping was made for: "
            + ", ".join(f'"{h}"' for h in headers)
        )
    elif len(roles) > len(headers):
        raise ImportRefused(
            f"{len(roles)} roles for the file's {len(headers)} columns: give one role per column, in order"
        )
    header = header is not False
    roles = (roles + [FIELD] * len(headers))[: max(len(headers), len(roles))]
    if not any(role in IDENTITY_ROLES for role in roles):
        raise ImportRefused(
            "no identity column: choose username, phone, user id or any identity for a column"
        )
    names = field_names(headers) if header else [f"column_{i + 1}" for i in range(len(headers))]
    applied = mapping.with_(header=header, roles=tuple(roles), headers=tuple(headers) if header else ())
    doubt = "; ".join(d for d in (table.doubt, doubt) if d)
    return Layout(applied, names, pending if header else [(number, list(cells))], doubt)


def _guessed_roles(table: Table, headers: list[str], cells: list, header: bool | None) -> tuple:
    """(header, roles, rows read ahead, doubt) for a first row whose roles nobody chose: the
    headers' roles (:func:`.columns.guess_roles`); for a header row that names no identity column,
    the columns whose cells are written as recipients (:func:`.sheets.recipient_columns`), which
    reads rows ahead. When neither says, the first column, and ``doubt`` says why it may not be
    imported so (:attr:`Layout.doubt`)."""
    guessed = guess_roles(headers) if header is not False else None
    if guessed is not None:
        return header, guessed, [], ""
    if header is None:
        # No header names an identity: the file may have no header at all. The first row is
        # data only when its first cell is written as a recipient (@name, +phone, digits, a
        # link), valid or not, so "@abc" is reported as too short; a bare word such as
        # "Customers" is a header even though it would pass as a username.
        header = not is_explicit_form(cell_text(cells[0]) if cells else "")
        if header and table.recipient_cells == 0:
            raise ImportRefused(NO_RECIPIENTS_IN_SHEET.format(sheet=table.sheet))
    if not header:
        return header, [ANY] + [FIELD] * (len(headers) - 1), [], ""
    # A header row naming no identity: its first column may hold first names, which pass as
    # usernames (Maximilian → @maximilian, a stranger). Only cells written as recipients tell;
    # without them the first column is shown in the mapping step, but never imported unchosen.
    ahead = list(itertools.islice(table.rows, LOOK_AHEAD_ROWS))
    columns = recipient_columns([c for _, c in ahead if not isinstance(c, BrokenRow)])
    if columns:
        return header, [ANY if i in columns else FIELD for i in range(len(headers))], ahead, ""
    doubt = NO_RECIPIENT_COLUMN.format(headers=", ".join(f"“{h}”" for h in headers if h))
    return header, [ANY] + [FIELD] * (len(headers) - 1), ahead, doubt if len(headers) > 1 else ""


def _import_rows(
    recipient_list: RecipientList,
    table: Table,
    mapping: Mapping,
    column: str | None,
    atomic: bool,
    progress: Callable[[int], None] | None,
    limits: Limits,
) -> ImportReport:
    plan = layout(table, mapping, column)
    if plan.doubt:
        raise ImportRefused(plan.doubt)
    mapping = plan.mapping.with_(
        encoding=table.encoding,
        delimiter=table.delimiter,
        sheet=table.sheet if table.sheets[1:] else "",
        header_row=table.header_row,
    )
    if recipient_list._state.adding:
        recipient_list.save()
    elif atomic:
        forget_rows(recipient_list)
    reader = RowReader(mapping, plan.names, limits, table.unsaved)
    writer = RowWriter(recipient_list.pk)
    background = _background_writer(recipient_list, atomic)
    flush = background.send if background else (lambda batch: _flush(batch, atomic))
    try:
        tally = _read_rows(reader, writer, _chain(plan.pending, table.rows), flush, limits, progress)
        flush(writer)
    except BaseException:
        if background is not None:
            background.abandon()
        raise
    if background is not None:
        background.close()
    counts = tally.counts
    if drop_erased(recipient_list):  # an erased person is not imported again (campaigns.models.privacy)
        counts = {status: recipient_list.recipients.filter(status=status).count() for status in counts}
    total = sum(counts.values())
    if total == 0:
        raise ImportRefused("no recipient rows")
    report = _report(table, mapping, plan, reader, counts, tally)
    _record(recipient_list, report, mapping)
    return report


def _report(table, mapping, plan, reader, counts, tally: Tally) -> ImportReport:
    identity_headers = tuple(plan.names[i] or f"column_{i + 1}" for i in mapping.identity_columns())
    return ImportReport(
        total_rows=sum(counts.values()),
        valid_count=counts[VALID],
        invalid_count=counts[INVALID],
        duplicate_count=counts[DUPLICATE],
        encoding=table.encoding,
        recipient_column=", ".join(identity_headers),
        file_format=table.file_format,
        delimiter=table.delimiter,
        sheet=table.sheet,
        problems=tuple(tally.problems),
        problems_truncated=len(tally.problems) < tally.problem_rows,
        cleaned_count=tally.cleaned,
        columns=tuple(personalisation_names(mapping, plan.names)),
        identity_columns=identity_headers,
        identity_order=mapping.identity_order,
        other_identities=tally.others,
        recognised=_recognised(mapping),
        regions=tuple(sorted(reader.regions)),
        tags=dict(tally.tags.most_common(MAX_TAGS_REPORTED)),
    )


@dataclass
class Tally:
    """What reading the rows counted: rows per status, the problems kept (and how many rows had
    one), rows cleaned of control characters, other identities kept."""

    counts: dict[str, int] = field(default_factory=lambda: {VALID: 0, INVALID: 0, DUPLICATE: 0})
    problems: list[dict[str, Any]] = field(default_factory=list)
    problem_rows: int = 0
    cleaned: int = 0
    others: int = 0
    tags: Counter = field(default_factory=Counter)


def _read_rows(
    reader: RowReader,
    writer: RowWriter,
    rows: Iterator,
    flush: Callable[[RowWriter], None],
    limits: Limits,
    progress: Callable[[int], None] | None,
) -> Tally:
    """Read every data row into ``writer``, handing it to ``flush`` every :data:`BATCH_SIZE` rows."""
    tally = Tally()
    counts = tally.counts
    for number, cells in rows:
        if is_blank(cells) and not isinstance(cells, BrokenRow):
            continue
        row, other, status = reader.read(number, cells)
        counts[status] += 1
        if counts[VALID] + counts[INVALID] + counts[DUPLICATE] > limits.max_rows:
            raise ImportRefused(limits.too_many_rows())
        tally.others += len(other)
        error = row[5]
        if error:
            tally.cleaned += error.endswith(CONTROL_CHARACTERS_NOTE)
            tally.problem_rows += 1
            if len(tally.problems) < MAX_PROBLEMS:
                tally.problems.append({"row": number, "value": row[1], "status": status, "error": error})
        if reader.tags:
            tally.tags.update(reader.tags)
        writer.add(row, other, reader.tags)
        if len(writer) >= BATCH_SIZE:
            flush(writer)
            if progress is not None:
                progress(sum(counts.values()))
    return tally


def _background_writer(recipient_list: RecipientList, atomic: bool) -> BackgroundWriter | None:
    """A writer on a second connection when batches commit on their own and nothing encloses the
    import in a transaction (a worker's import on PostgreSQL): then reading and writing overlap.
    Inside a transaction a second connection would not see the list's row."""
    if atomic or connection.vendor != "postgresql" or connection.in_atomic_block:
        return None
    return BackgroundWriter(recipient_list.pk)


def _recognised(mapping: Mapping) -> str:
    """The name of the known export whose headers the file has, when its roles were guessed."""
    export = recognise_export(list(mapping.headers)) if mapping.headers else None
    return export.name if export else ""


def _flush(writer: RowWriter, atomic: bool) -> None:
    if atomic:
        writer.flush()
        return
    with transaction.atomic():
        writer.flush()


def _record(recipient_list: RecipientList, report: ImportReport, mapping: Mapping) -> None:
    recipient_list.total_rows = report.total_rows
    recipient_list.valid_count = report.valid_count
    recipient_list.invalid_count = report.invalid_count
    recipient_list.duplicate_count = report.duplicate_count
    recipient_list.encoding = report.encoding
    recipient_list.recipient_column = report.recipient_column[:100]
    recipient_list.default_region = mapping.default_region
    recipient_list.report = report.as_json()
    recipient_list.mapping = mapping.as_json()
    recipient_list.import_status = ImportStatus.DONE
    recipient_list.import_progress = report.total_rows
    recipient_list.import_error = ""
    recipient_list.save(
        update_fields=[
            "total_rows",
            "valid_count",
            "invalid_count",
            "duplicate_count",
            "encoding",
            "recipient_column",
            "default_region",
            "report",
            "mapping",
            "import_status",
            "import_progress",
            "import_error",
        ]
    )


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest
