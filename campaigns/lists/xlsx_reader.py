"""XLSX workbooks as tables, checked against the import's limits before openpyxl decompresses them.

A workbook is a zip archive of XML files, and a few KiB can expand to gigabytes: one shared
string of 100 million characters, or millions of shared strings that openpyxl turns into Python
objects one by one (about 15 µs each) before the first row is read. So before openpyxl opens it:

1. the zip directory's uncompressed sizes must add up to at most
   ``TGC_IMPORT_MAX_UNCOMPRESSED_BYTES``;
2. the shared-strings table and the sheets are scanned as bytes, in blocks, without parsing XML:
   no shared string (``<si>``) and no cell (``<c>``) may span more than 16 bytes per allowed
   character (``TGC_IMPORT_MAX_CELL_CHARS``; rich-text markup takes room), and there may be no
   more shared strings than cells that could use them (a table larger than its sheets is not a
   spreadsheet export).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Callable, Iterator
from typing import IO, Any

from .limits import Limits
from .table import ImportRefused, Table, cell_text

# Bytes an allowed character may take in the XML of a cell, markup included.
BYTES_PER_CHARACTER = 16
_BLOCK = 1 << 20
_SHARED_STRING = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s>/]")
_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s>/]")


def open_workbook(
    stream: IO[bytes],
    source: Any,
    sample: bytes,
    names_recipients: Callable[[list[str]], bool],
    sheet: str | None,
    limits: Limits,
) -> Table:
    """``stream`` (whose first bytes are ``sample``) as a table of one sheet: ``sheet`` by name,
    or the first whose header row ``names_recipients``, else the first. Raises
    :class:`ImportRefused` for a file that is no workbook or breaks a limit."""
    from openpyxl import load_workbook

    if isinstance(source, (str, os.PathLike)):
        target: Any = source
    elif stream.seekable():
        stream.seek(0)
        target = stream
    else:
        target = io.BytesIO(sample + stream.read())
    check_workbook(target, limits)
    if hasattr(target, "seek"):
        target.seek(0)
    try:
        # read_only streams rows from the zip instead of building every cell object.
        workbook = load_workbook(target, read_only=True, data_only=True)
    except Exception:
        raise ImportRefused("not a text/CSV file or an Excel .xlsx workbook") from None
    names = [ws.title for ws in workbook.worksheets]
    if sheet is not None and sheet not in names:
        workbook.close()
        shown = ", ".join(f'"{n}"' for n in names)
        raise ImportRefused(f'no sheet named "{sheet}" (the sheets are {shown})')
    chosen = workbook[sheet] if sheet is not None else _recipient_sheet(workbook, names_recipients)
    declared = chosen.max_row or 0
    chosen.reset_dimensions()  # some writers store a wrong <dimension>; read every row

    def rows() -> Iterator[tuple[int, list]]:
        try:
            for number, values in enumerate(chosen.iter_rows(values_only=True), start=1):
                yield number, list(values)
        finally:
            workbook.close()

    return Table(rows=rows(), file_format="xlsx", sheet=chosen.title, sheets=names, declared_rows=declared)


def check_workbook(target: Any, limits: Limits) -> None:
    """Refuse (:class:`ImportRefused`) a workbook that breaks the limits (module docstring).
    A file that is no zip archive passes: openpyxl refuses it with the usual words."""
    try:
        archive = zipfile.ZipFile(target)
    except (zipfile.BadZipFile, OSError):
        return
    with archive:
        members = archive.infolist()
        expanded = sum(m.file_size for m in members)
        if expanded > limits.max_uncompressed_bytes:
            raise ImportRefused(limits.expands_too_much(expanded))
        widest = limits.max_cell_chars * BYTES_PER_CHARACTER
        sheets = [
            m for m in members if m.filename.startswith("xl/worksheets/") and m.filename.endswith(".xml")
        ]
        tables = [m for m in members if m.filename.endswith("sharedStrings.xml")]
        cells = strings = 0
        for member in sheets:
            count, too_wide = _scan(archive, member, _CELL, widest)
            cells += count
            if too_wide:
                raise ImportRefused(limits.cell_too_long())
        for member in tables:
            count, too_wide = _scan(archive, member, _SHARED_STRING, widest, most=cells + 1 - strings)
            strings += count
            if too_wide:
                raise ImportRefused(limits.cell_too_long())
        if strings > cells + 1:
            raise ImportRefused(
                f"the workbook holds more shared texts than its {cells:,} cells could use: it is no "
                "spreadsheet export. Open it in a spreadsheet and save it again, or save it as CSV"
            )


def _scan(
    archive: zipfile.ZipFile,
    member: zipfile.ZipInfo,
    tag: re.Pattern[bytes],
    widest: int,
    most: int | None = None,
) -> tuple[int, bool]:
    """(how many ``tag`` elements ``member`` holds, whether a stretch of more than ``widest``
    bytes holds none), reading it in blocks so memory stays at one block whatever the member
    expands to; stops once the count passes ``most``. Stretches are measured in windows of
    ``widest / 2`` bytes searched by the regex engine, so a million small cells cost no Python
    loop."""
    window = max(256, widest // 2)
    count = 0
    empty_since: int | None = None  # offset where the current run of tag-less windows began
    start = 0  # offset of text[0] in the member
    carry = b""
    with archive.open(member) as data:
        while True:
            block = data.read(_BLOCK)
            text = carry + block
            # Cut before the last "<" near the end so no tag is split between two rounds.
            cut = len(text) if not block else text.rfind(b"<", max(0, len(text) - 64))
            cut = len(text) if cut < 0 else cut
            chunk, carry = text[:cut], text[cut:]
            count += tag.subn(b"", chunk)[1]
            if most is not None and count > most:
                return count, False
            for offset in range(0, len(chunk), window):
                if tag.search(chunk, offset, offset + window + 16):
                    empty_since = None
                    continue
                if empty_since is None:
                    empty_since = start + offset
                if start + min(offset + window, len(chunk)) - empty_since > widest:
                    return count, True
            start += len(chunk)
            if not block:
                return count, False


def _recipient_sheet(workbook: Any, names_recipients: Callable[[list[str]], bool]) -> Any:
    """The first sheet whose first row ``names_recipients``, else the first sheet."""
    for sheet in workbook.worksheets:
        for values in sheet.iter_rows(max_row=1, values_only=True):
            if names_recipients([cell_text(v).strip() for v in values]):
                return sheet
    return workbook.worksheets[0]
