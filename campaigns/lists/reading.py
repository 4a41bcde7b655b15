"""Reading a recipient file as rows of cells: CSV in any common encoding and delimiter, or XLSX.

The encoding is detected on the first MiB (a BOM, then UTF-8, then charset-normalizer), the
delimiter by counting; the file is then streamed row by row. Text is decoded strictly: a later
row that is not valid text in the detected encoding becomes a :class:`BrokenRow` saying so,
rather than a name full of "�". Nothing here knows about recipients.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import os
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

SAMPLE_BYTES = 1 << 20  # encoding and delimiter are detected on the first MiB
DELIMITERS = (",", ";", "\t")

# Bytes the detected encoding cannot decode are read as this lone surrogate, which no strict
# decoder produces: a row holding it is reported as not being text in that encoding.
_UNDECODABLE = "\udcff"
_MARK_UNDECODABLE = "tgcampaigns.reading.mark"
codecs.register_error(_MARK_UNDECODABLE, lambda exc: (_UNDECODABLE, exc.end))


class ImportRefused(Exception):
    """The whole file was refused; ``str(exc)`` is a message for staff. Nothing was written."""


@dataclass
class Table:
    """An opened file: its rows as (row_number, cells) and how it was read (``file_format``
    "csv" | "xlsx"; ``encoding`` a Python codec name, "" for XLSX)."""

    rows: Iterator[tuple[int, list[str | int | float | None]]]
    file_format: str
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""


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
def binary(source: Any) -> Iterator[IO[bytes]]:
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


def open_table(
    stream: IO[bytes], source: Any, encoding: str | None, names_recipients: Callable[[list[str]], bool]
) -> Table:
    """Open ``stream`` (read from its start) as a table. ``source`` is what it was opened from
    (a path lets openpyxl seek); ``encoding`` a codec name or None to detect it;
    ``names_recipients(headers)`` picks a workbook's sheet. Raises :class:`ImportRefused` for an
    empty, binary or old-Excel file, or an unknown encoding."""
    sample = stream.read(SAMPLE_BYTES)
    if isinstance(sample, str):
        raise TypeError("open the recipient file in binary mode")
    if not sample:
        raise ImportRefused("the file is empty")
    if sample.startswith(b"PK\x03\x04"):
        return _open_xlsx(stream, source, sample, names_recipients)
    if sample.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportRefused("an old Excel .xls file: save it as .xlsx or CSV and upload again")
    complete = len(sample) < SAMPLE_BYTES
    chosen = _check_encoding(encoding) if encoding else _detect_encoding(sample, complete)
    text = sample.decode(chosen, errors="replace")
    if _looksbinary(text):
        raise ImportRefused("not a text/CSV file")
    delimiter = _detect_delimiter(text)
    reader = io.BufferedReader(_PrefixedReader(sample, stream))
    # Not errors="replace": the encoding was detected on the first MiB only, and a later row in
    # another encoding must be reported, not sent as "����" (see _csv_rows).
    lines = io.TextIOWrapper(reader, encoding=chosen, errors=_MARK_UNDECODABLE, newline="")
    return Table(
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


def _looksbinary(text: str) -> bool:
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
            yield number, BrokenRow(f"unreadable row: {exc}")
            continue
        if any(_UNDECODABLE in cell for cell in row):
            reason = f"row is not valid {encoding} text; re-save the file as UTF-8 or choose the encoding"
            yield number, BrokenRow(reason, [cell.replace(_UNDECODABLE, "\ufffd") for cell in row])
            continue
        yield number, row


def _open_xlsx(
    stream: IO[bytes], source: Any, sample: bytes, names_recipients: Callable[[list[str]], bool]
) -> Table:
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
    sheet = _recipient_sheet(workbook, names_recipients)
    sheet.reset_dimensions()  # some writers store a wrong <dimension>; read every row

    def rows() -> Iterator[tuple[int, list]]:
        try:
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, list(values)
        finally:
            workbook.close()

    return Table(rows=rows(), file_format="xlsx", sheet=sheet.title)


def _recipient_sheet(workbook: Any, names_recipients: Callable[[list[str]], bool]) -> Any:
    """The first sheet whose first row ``names_recipients``, else the first sheet."""
    for sheet in workbook.worksheets:
        for values in sheet.iter_rows(max_row=1, values_only=True):
            if names_recipients([cell_text(v).strip() for v in values]):
                return sheet
    return workbook.worksheets[0]
