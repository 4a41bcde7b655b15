"""Reading a recipient file as rows of cells: CSV in any common encoding and delimiter, or any
other format of :mod:`.formats` (workbooks: :mod:`.xlsx_reader`; :mod:`.vcard`;
:mod:`.telegram_export`), told by its content.

The encoding is detected on the first MiB (:mod:`.encoding`), the delimiter by counting; the file
is then streamed row by row. Text is decoded strictly: a later row that is not valid text in the
detected encoding becomes a :class:`BrokenRow` saying so, rather than a name full of "�".

A quote that is never closed makes Python's csv module read every later line into one cell, so
one customer would be sent the next customers' handles. A record spanning several lines that is
not well-formed CSV (it parses only leniently) is therefore taken apart: its first line becomes a
:class:`NotedRow` (the cell ends at the line end, and the row says so, naming its line) and the
lines after it are read again as rows of their own. Workbooks are checked against the limits from
their zip directory before anything is decompressed (:mod:`.xlsx_reader`). Nothing here knows about
recipients.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from .encoding import UnknownEncoding, check_encoding, detect_encoding, encoding_doubt
from .formats import CSV, VCARD, formats_text, sniff
from .limits import Limits
from .table import BrokenRow, ImportRefused, NotedRow, Table, cell_text, is_blank
from .telegram_export import read_telegram_export
from .vcard import read_vcards
from .xlsx_reader import open_workbook

__all__ = ["BrokenRow", "ImportRefused", "NotedRow", "Table", "cell_text", "is_blank", "open_table"]

SAMPLE_BYTES = 1 << 20
# Control characters (Unicode category Cc) but tab, CR and LF, and the replacement character.
_BINARY_CHARACTERS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]"
)  # encoding and delimiter are detected on the first MiB
DELIMITERS = (",", ";", "\t")
# Excel's first line naming the delimiter ("sep=;"), written by European Excel exports.
_EXCEL_SEPARATOR = re.compile(r"sep=(.)\r?\n", re.IGNORECASE)
NOT_TEXT = f"not a text/CSV file, nor another format recipients are read from: upload {formats_text()}"

# Bytes the detected encoding cannot decode are read as this lone surrogate, which no strict
# decoder produces: a row holding it is reported as not being text in that encoding.
_UNDECODABLE = "\udcff"
_MARK_UNDECODABLE = "tgcampaigns.reading.mark"
codecs.register_error(_MARK_UNDECODABLE, lambda exc: (_UNDECODABLE, exc.end))


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


def source_size(source: Any) -> int | None:
    """The size in bytes of a path, an upload or a seekable stream; None when it cannot be told."""
    if isinstance(source, (str, os.PathLike)):
        return os.path.getsize(source)
    size = getattr(source, "size", None)
    if isinstance(size, int):
        return size
    try:
        position = source.tell()
        end = source.seek(0, io.SEEK_END)
        source.seek(position)
        return end
    except (AttributeError, OSError, ValueError):
        return None


def open_table(
    stream: IO[bytes],
    source: Any,
    encoding: str | None,
    names_recipients: Callable[[list[str]], bool],
    *,
    delimiter: str | None = None,
    sheet: str | None = None,
    header_row: int = 0,
    limits: Limits | None = None,
) -> Table:
    """Open ``stream`` (read from its start) as a table, in any format of :mod:`.formats` (told
    by its content). ``source`` is what it was opened from (a path lets a workbook be read in
    place; its name makes refusals precise); ``encoding`` a codec name or None to detect it;
    ``delimiter`` one of :data:`DELIMITERS` or None to detect it; ``sheet`` a workbook's sheet
    name, or None for the one holding recipients; ``header_row`` the 1-based row the header (or
    the data) starts at, 0 to find it (workbooks; a CSV file starts at its first row). Raises
    :class:`ImportRefused` for an empty, binary, unread-format or too large file, or an unknown
    encoding, delimiter, sheet."""
    limits = limits or Limits.from_settings()
    size = source_size(source)
    if size is not None and size > limits.max_bytes:
        raise ImportRefused(limits.too_large(size))
    sample = stream.read(SAMPLE_BYTES)
    if isinstance(sample, str):
        raise TypeError("open the recipient file in binary mode")
    if not sample:
        raise ImportRefused("the file is empty")
    name = source if isinstance(source, (str, os.PathLike)) else getattr(source, "name", "")
    kind = sniff(sample, name if isinstance(name, (str, os.PathLike)) else "")
    if kind in ("zip", "ole"):
        return open_workbook(
            stream, source, sample, kind, names_recipients, limits, sheet=sheet, header_row=header_row
        )
    if kind in (VCARD, "json"):
        data = sample + stream.read()
        return read_vcards(data) if kind == VCARD else read_telegram_export(data)
    table = _open_csv(stream, sample, encoding, delimiter)
    if header_row > 1:
        table.rows = (item for item in table.rows if item[0] >= header_row)
        table.header_row = header_row
    return table


def _open_csv(stream: IO[bytes], sample: bytes, encoding: str | None, delimiter: str | None) -> Table:
    complete = len(sample) < SAMPLE_BYTES
    try:
        chosen = check_encoding(encoding) if encoding else detect_encoding(sample, complete)
    except UnknownEncoding as exc:
        raise ImportRefused(str(exc)) from None
    if chosen is None or _looks_binary(sample.decode(chosen, errors="replace")):
        raise ImportRefused(NOT_TEXT)
    if delimiter and delimiter not in DELIMITERS:
        raise ImportRefused(f"unknown delimiter {delimiter!r}: use comma, semicolon or tab")
    text = sample.decode(chosen, errors="replace")
    excel_line = _EXCEL_SEPARATOR.match(text.lstrip("\ufeff"))
    if excel_line and excel_line.group(1) in DELIMITERS:
        delimiter = delimiter or excel_line.group(1)
    delimiter = delimiter or _detect_delimiter(text)
    reader = io.BufferedReader(_PrefixedReader(sample, stream))
    # Not errors="replace": the encoding was detected on the first MiB only, and a later row in
    # another encoding must be reported, not sent as "����" (see _csv_rows).
    lines = io.TextIOWrapper(reader, encoding=chosen, errors=_MARK_UNDECODABLE, newline="")
    if excel_line:
        lines.readline()  # Excel's "sep=;" line: a directive, not the header (Excel hides it)
    # A detected encoding other than Unicode's may be one of several readings of the bytes.
    doubt = "" if encoding or chosen.startswith("utf") else encoding_doubt(sample, chosen)
    return Table(
        rows=_csv_rows(lines, delimiter, chosen),
        file_format=CSV,
        encoding=chosen,
        delimiter=delimiter,
        doubt=doubt,
    )


def count_lines(stream: IO[bytes], limit: int | None = None) -> int:
    """Line ends in ``stream`` from where it stands (about the rows of a CSV file: more when cells
    hold line breaks), reading in blocks; stops counting past ``limit``."""
    count = 0
    while block := stream.read(1 << 20):
        count += block.count(b"\n")
        if limit is not None and count > limit:
            break
    return count


def _looks_binary(text: str) -> bool:
    """Control characters (other than tab/CR/LF) or undecodable bytes in more than 5% of the
    sample: compressed or binary data, whatever the file is called. Such data decodes to 10–25%
    of them; a text file with a few stray NULs stays far below, and those are removed per cell."""
    if not text:
        return False
    bad = len(_BINARY_CHARACTERS.findall(text))
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


class _Lines:
    """The text stream's physical lines for ``csv.reader``, remembering those of the record being
    read (``record``) and taking lines back to be read again (:meth:`push_back`)."""

    def __init__(self, stream: IO[str]):
        self._stream = stream
        self._back: deque[str] = deque()
        self.record: list[str] = []
        self.number = 0  # physical line number of the last line handed out

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._back.popleft() if self._back else next(self._stream)
        self.number += 1
        self.record.append(line)
        return line

    def push_back(self, lines: list[str]) -> None:
        self._back.extendleft(reversed(lines))
        self.number -= len(lines)


def _csv_rows(stream: IO[str], delimiter: str, encoding: str) -> Iterator[tuple[int, list]]:
    lines = _Lines(stream)
    reader = csv.reader(lines, delimiter=delimiter)
    number = 0
    while True:
        number += 1
        lines.record = []
        first_line = lines.number + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if len(lines.record) < 2:
                # One malformed record (a 128 KiB cell) becomes an invalid row, not a failure.
                yield number, BrokenRow(f"unreadable row: {exc}")
                continue
            row = []  # a quote ran over later lines until a cell grew too large: as below
        if len(lines.record) > 1 and not (row and _well_formed(lines.record, delimiter)):
            # The lines after the record's first are read again as rows of their own.
            lines.push_back(lines.record[1:])
            cells = next(csv.reader([lines.record[0]], delimiter=delimiter), [])
            note = f"unclosed quote on line {first_line}: its cell ends at the end of that line"
            row = NotedRow(note, [cell.rstrip("\r\n") for cell in cells])
        if any(_UNDECODABLE in cell for cell in row):
            reason = f"row is not valid {encoding} text; re-save the file as UTF-8 or choose the encoding"
            yield number, BrokenRow(reason, [cell.replace(_UNDECODABLE, "\ufffd") for cell in row])
            continue
        yield number, row


def _well_formed(record: list[str], delimiter: str) -> bool:
    """Whether the lines of one record are strict CSV: every quoted cell closed, and closed right
    before a delimiter or the line end. A record the lenient reader made of an unclosed quote and
    the lines after it is not."""
    try:
        return len(list(csv.reader(record, delimiter=delimiter, strict=True))) == 1
    except csv.Error:
        return False
