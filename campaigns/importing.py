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

import codecs
import csv
import datetime
import io
import os
import re
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from django.db import transaction

from campaigns.models import Recipient, RecipientList
from campaigns.recipients import is_explicit_form, normalise

BATCH_SIZE = 2000
MAX_PROBLEMS = 200  # problems kept in RecipientList.report; the counts cover all of them
SAMPLE_BYTES = 1 << 20  # encoding and delimiter are detected on the first MiB
DELIMITERS = (",", ";", "\t")

# Header names (lower-cased, letters and digits only) that name the recipient column, best first.
RECIPIENT_HEADERS = (
    "recipient",
    "recipients",
    "telegram",
    "telegramusername",
    "telegramhandle",
    "telegramid",
    "tgusername",
    "tg",
    "tgid",
    "username",
    "user",
    "userid",
    "contact",
    "handle",
    "phone",
    "phonenumber",
    "mobile",
    "mobilephone",
    "cellphone",
    "telephone",
    "tel",
    "msisdn",
)
_RECIPIENT_HEADER_PARTS = ("telegram", "username", "phone", "mobile")
_PHONE_HEADER_PARTS = ("phone", "mobile", "cell", "msisdn", "whatsapp")
_PHONE_HEADERS = {"tel", "telephone"}

# C0 control characters except tab, LF and CR, which are CSV structure or cell content.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CONTROL_CHARACTERS_NOTE = "removed control characters"

# Bytes the detected encoding cannot decode are read as this lone surrogate, which no strict
# decoder produces: a row holding it is reported as not being text in that encoding.
_UNDECODABLE = "\udcff"
_MARK_UNDECODABLE = "tgcampaigns.importing.mark"
codecs.register_error(_MARK_UNDECODABLE, lambda exc: (_UNDECODABLE, exc.end))


class ImportRefused(Exception):
    """The whole file was refused; ``str(exc)`` is a message for staff. Nothing was written."""


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


@dataclass
class _Table:
    """An opened file: its rows as (row_number, cells) and how it was read."""

    rows: Iterator[tuple[int, list[str | int | float | None]]]
    file_format: str
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""


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
        with _binary(source) as stream, transaction.atomic():
            table = _open_table(stream, source, encoding)
            report = _import_rows(recipient_list, table, column=column, region=region or None)
    except BaseException:
        if was_adding:
            # The rolled-back INSERT left a pk on the instance; make it unsaved again.
            recipient_list.pk = None
            recipient_list._state.adding = True
        raise
    return report


def _import_rows(
    recipient_list: RecipientList, table: _Table, *, column: str | None, region: str | None
) -> ImportReport:
    header_row = next(((n, c) for n, c in table.rows if not _is_blank(c) or isinstance(c, _BrokenRow)), None)
    if header_row is None:
        raise ImportRefused("the file is empty")
    first_number, first_cells = header_row
    if isinstance(first_cells, _BrokenRow):
        raise ImportRefused(f"the header row cannot be read ({first_cells.reason})")
    headers = [_clean(_text(c))[0].strip().lstrip("\ufeff") for c in first_cells]
    index = _recipient_column(headers, column)
    pending: list[tuple[int, list]] = []
    if index is None:
        # No header names a recipient column: the file may have no header at all. The first row
        # is data only when its first cell is written as a recipient (@name, +phone, digits, a
        # link), valid or not, so "@abc" is reported as too short; a bare word such as
        # "Customers" is a header even though it would pass as a username.
        if is_explicit_form(_text(first_cells[0])):
            pending.append((first_number, list(first_cells)))
            headers = [f"column_{i + 1}" for i in range(len(headers))]
        index = 0
    recipient_column = headers[index] if index < len(headers) else f"column_{index + 1}"
    phone_column = _is_phone_header(recipient_column)
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
        if _is_blank(cells) and not isinstance(cells, _BrokenRow):
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
    raw, raw_cleaned = _clean(_text(cells[index]) if index < len(cells) else "")
    if isinstance(cells, _BrokenRow):
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
        value, cleaned = _clean(_text(cells[i]) if i < len(cells) else "")
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


def _squash(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def _recipient_column(headers: list[str], column: str | None) -> int | None:
    """The recipient column's index: ``column`` if given, else by header name, else None."""
    if column is not None:
        wanted = column.strip().lower()
        for i, header in enumerate(headers):
            if header.lower() == wanted:
                return i
        shown = ", ".join(f'"{h}"' for h in headers if h)
        raise ImportRefused(f'no column named "{column}" (the columns are {shown})')
    squashed = [_squash(h) for h in headers]
    for name in RECIPIENT_HEADERS:
        if name in squashed:
            return squashed.index(name)
    for part in _RECIPIENT_HEADER_PARTS:
        for i, header in enumerate(squashed):
            if part in header:
                return i
    return None


def _is_phone_header(header: str) -> bool:
    squashed = _squash(header)
    return squashed in _PHONE_HEADERS or any(part in squashed for part in _PHONE_HEADER_PARTS)


def _text(cell: str | int | float | None | Any) -> str:
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


def _is_blank(cells: Sequence) -> bool:
    return all(not _text(c).strip() for c in cells)


class _BrokenRow(list):
    """A record that cannot be imported as read; ``reason`` says why. Holds the cells that could
    be read (none when the CSV reader failed), to show staff which row it is."""

    def __init__(self, reason: str, cells: Sequence = ()):
        super().__init__(cells)
        self.reason = reason


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


# --- opening the file ------------------------------------------------------------------------


class _PrefixedReader(io.RawIOBase):
    """A raw binary stream over ``prefix`` followed by the rest of ``source``: lets us sniff the
    first MiB of any readable object (an upload, a pipe) and then read it all from the start."""

    def __init__(self, prefix: bytes, source: IO[bytes]):
        self._prefix = memoryview(prefix)
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._source.read(len(buffer))
        if isinstance(data, str):
            raise TypeError("open the recipient file in binary mode")
        buffer[: len(data)] = data
        return len(data)


@contextmanager
def _binary(source: Any) -> Iterator[IO[bytes]]:
    """``source`` as a binary file object positioned at its start; closed after if we opened it."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as stream:
            yield stream
        return
    reopened = bool(getattr(source, "closed", False) and hasattr(source, "open"))
    if reopened:
        source.open("rb")  # a Django File/FieldFile that was closed after upload
    if hasattr(source, "seek"):
        try:
            source.seek(0)
        except (OSError, ValueError):
            pass  # not seekable: read from wherever it stands
    try:
        yield source
    finally:
        if reopened:
            source.close()


def _open_table(stream: IO[bytes], source: Any, encoding: str | None) -> _Table:
    sample = stream.read(SAMPLE_BYTES)
    if isinstance(sample, str):
        raise TypeError("open the recipient file in binary mode")
    if not sample:
        raise ImportRefused("the file is empty")
    if sample.startswith(b"PK\x03\x04"):
        return _open_xlsx(stream, source, sample)
    if sample.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportRefused("an old Excel .xls file: save it as .xlsx or CSV and upload again")
    complete = len(sample) < SAMPLE_BYTES
    chosen = _check_encoding(encoding) if encoding else _detect_encoding(sample, complete)
    text = sample.decode(chosen, errors="replace")
    if _looks_binary(text):
        raise ImportRefused("not a text/CSV file")
    delimiter = _detect_delimiter(text)
    reader = io.BufferedReader(_PrefixedReader(sample, stream))
    # Not errors="replace": the encoding was detected on the first MiB only, and a later row in
    # another encoding must be reported, not sent as "����" (see _csv_rows).
    lines = io.TextIOWrapper(reader, encoding=chosen, errors=_MARK_UNDECODABLE, newline="")
    return _Table(
        rows=_csv_rows(lines, delimiter, chosen), file_format="csv", encoding=chosen, delimiter=delimiter
    )


def _check_encoding(name: str) -> str:
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise ImportRefused(f'unknown encoding "{name}"') from None
    # rot13, base64, zlib … are codecs too, but not text encodings.
    if not getattr(info, "_is_text_encoding", True):
        raise ImportRefused(f'"{name}" is not a text encoding')
    return info.name


def _detect_encoding(sample: bytes, complete: bool) -> str:
    """A BOM decides; else UTF-8 if the sample decodes as UTF-8; else charset-normalizer's best
    guess (this is what recognises Windows-1251 exports of Cyrillic names)."""
    from charset_normalizer import from_bytes

    # UTF-32 LE's BOM starts with UTF-16 LE's, so it is tested first.
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    # A NUL alone does not make a file binary (one stray NUL in a cell is removed on import);
    # _looks_binary refuses a sample where control characters are a meaningful share.
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # The sample may end inside a multi-byte character; that alone is not a decoding error.
        if not complete and exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"
    # charset-normalizer takes a NUL for binary; the decoded sample is judged by _looks_binary.
    best = from_bytes(re.sub(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", b"", sample)).best()
    if best is None:
        raise ImportRefused("not a text/CSV file")
    return codecs.lookup(best.encoding).name


def _looks_binary(text: str) -> bool:
    """Control characters (other than tab/CR/LF) or undecodable bytes in more than 5% of the
    sample: compressed or binary data, whatever the file is called. Such data decodes to 10–25%
    of them; a text file with a few stray NULs stays far below, and those are removed per cell."""
    if not text:
        return False
    bad = sum(1 for c in text if c == "\ufffd" or (unicodedata.category(c) == "Cc" and c not in "\t\r\n"))
    return bad > max(8, len(text) // 20)


def _detect_delimiter(text: str) -> str:
    """The candidate found most often in the header line (then the first 20 lines); ``,`` when
    none occurs. Counting is more predictable than csv.Sniffer on quoted multi-line cells."""
    lines = [line for line in text.splitlines() if line.strip()][:20]
    for scope in (lines[:1], lines):
        counts = {d: sum(line.count(d) for line in scope) for d in DELIMITERS}
        best = max(DELIMITERS, key=lambda d: counts[d])
        if counts[best]:
            return best
    return ","


def _csv_rows(lines: IO[str], delimiter: str, encoding: str) -> Iterator[tuple[int, list]]:
    reader = csv.reader(lines, delimiter=delimiter)
    number = 0
    while True:
        number += 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # One malformed record (a 128 KiB cell) becomes an invalid row, not a failure.
            yield number, _BrokenRow(f"unreadable row: {exc}")
            continue
        if any(_UNDECODABLE in cell for cell in row):
            reason = f"row is not valid {encoding} text; re-save the file as UTF-8 or choose the encoding"
            yield number, _BrokenRow(reason, [cell.replace(_UNDECODABLE, "\ufffd") for cell in row])
            continue
        yield number, row


def _open_xlsx(stream: IO[bytes], source: Any, sample: bytes) -> _Table:
    from openpyxl import load_workbook

    if isinstance(source, (str, os.PathLike)):
        target: Any = source
    elif stream.seekable():
        stream.seek(0)
        target = stream
    else:
        target = io.BytesIO(sample + stream.read())
    try:
        # read_only streams rows from the zip instead of building every cell object.
        workbook = load_workbook(target, read_only=True, data_only=True)
    except Exception:
        raise ImportRefused("not a text/CSV file or an Excel .xlsx workbook") from None
    sheet = _recipient_sheet(workbook)
    sheet.reset_dimensions()  # some writers store a wrong <dimension>; read every row

    def rows() -> Iterator[tuple[int, list]]:
        try:
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, list(values)
        finally:
            workbook.close()

    return _Table(rows=rows(), file_format="xlsx", sheet=sheet.title)


def _recipient_sheet(workbook: Any) -> Any:
    """The first sheet whose first row names a recipient column, else the first sheet."""
    for sheet in workbook.worksheets:
        for values in sheet.iter_rows(max_row=1, values_only=True):
            if _recipient_column([_text(v).strip() for v in values], None) is not None:
                return sheet
    return workbook.worksheets[0]
