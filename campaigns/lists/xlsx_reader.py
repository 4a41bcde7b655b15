"""Workbooks (XLSX, legacy XLS, ODS) as tables, read by python-calamine (Rust's calamine: a
100,000-row XLSX in a fraction of openpyxl's time, see ``bench/xlsx.py``), checked against the
import's limits before anything is decompressed.

The sheet holding the recipients and its header row are found by :mod:`.sheets` unless staff
chose them. Numbers stored in cells become their digits (``4915123456751``, never
``4915123456751.0``): a phone typed as a number keeps every digit it had.

A zip workbook is a zip archive of XML files, and a few KiB can expand to gigabytes: one shared
string of 100 million characters, or millions of shared strings turned into objects one by one
before the first row is read. So before calamine opens it:

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

from .formats import NUMBERS_FIX, ODS, XLS, XLSX, refusal
from .limits import Limits
from .sheets import SCAN_ROWS, choose_sheet, header_index, recipient_cells
from .table import ImportRefused, Table
from .xlsx_formulas import FORMULA_MARKERS, UnsavedFormulas, sheet_members

# Bytes an allowed character may take in the XML of a cell, markup included.
BYTES_PER_CHARACTER = 16
_BLOCK = 1 << 20
_SHARED_STRING = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s>/]")
_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s>/]")
_ODS_CELL = re.compile(rb"<table:(?:covered-)?table-cell[\s>/]")
_ODS_TAG = re.compile(rb"<table:(?:covered-)?table-(row|cell)\b[^>]*>")
# An encrypted Office file (Excel's "Encrypt with Password") is an OLE container holding an
# "EncryptedPackage" stream; its directory, which names the stream in UTF-16, is in the first MiB.
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")
ENCRYPTED_FIX = (
    "Open it with its password, then File › Info › Protect Workbook › Encrypt with Password, "
    "clear the password and save it (or save it as CSV)"
)
ODS_CELL_BYTES = 100  # the XML of one ODS cell holding a value, about: what a repeat stands for


def open_workbook(
    stream: IO[bytes],
    source: Any,
    sample: bytes,
    container: str,
    names_recipients: Callable[[list[str]], bool],
    limits: Limits,
    *,
    sheet: str | None = None,
    header_row: int = 0,
) -> Table:
    """``stream`` (whose first bytes are ``sample``; ``container`` "zip" or "ole" as
    :func:`.formats.sniff` says) as a table of one sheet: ``sheet`` by name or the one holding
    recipients (:mod:`.sheets`), from ``header_row`` (1-based) or the row found to be its header.
    Raises :class:`ImportRefused` for a file that is no workbook, breaks a limit, or has no such
    sheet or row."""
    from python_calamine import CalamineWorkbook

    if container == "ole" and _ENCRYPTED in sample:
        raise ImportRefused(refusal("a password-protected workbook", ENCRYPTED_FIX))
    target = _seekable(stream, source, sample)
    file_format = workbook_format(target) if container == "zip" else XLS
    with_formulas: set[str] = set()
    if file_format != XLS:
        with_formulas = check_workbook(target, limits)
    if hasattr(target, "seek"):
        target.seek(0)
    try:
        if isinstance(target, (str, os.PathLike)):
            workbook = CalamineWorkbook.from_path(os.fspath(target))
        else:
            workbook = CalamineWorkbook.from_filelike(target)
    except Exception:
        what = "an Office file that is no Excel workbook" if file_format == XLS else "a damaged workbook"
        raise ImportRefused(refusal(what, "Open it in a spreadsheet and save it as .xlsx or CSV")) from None
    names = list(workbook.sheet_names)
    if not names:
        raise ImportRefused("the workbook has no sheets")
    if sheet and sheet not in names:
        shown = ", ".join(f'"{n}"' for n in names)
        raise ImportRefused(f'no sheet named "{sheet}" (the sheets are {shown})')
    # Each sheet is parsed once: the one chosen is read from the same object.
    loaded = {name: workbook.get_sheet_by_name(name) for name in ([sheet] if sheet else names)}
    tops = {name: _top(values) for name, values in loaded.items()}
    chosen = sheet or choose_sheet(list(tops.items()), names_recipients)
    start = header_row - 1 if header_row else header_index(tops[chosen], names_recipients)
    values = loaded[chosen]
    # Counted only for a sheet chosen here: a sheet staff chose is read as they chose it.
    found = None if sheet else recipient_cells(tops[chosen][start + 1 :])
    del loaded, tops
    return Table(
        rows=_rows(values, start),
        file_format=file_format,
        sheet=chosen,
        sheets=names,
        declared_rows=max(0, values.total_height - start),
        header_row=start + 1,
        recipient_cells=found,
        unsaved=_unsaved_formulas(target, chosen, with_formulas) if with_formulas else None,
    )


def _unsaved_formulas(target: Any, sheet: str, with_formulas: set[str]) -> UnsavedFormulas | None:
    """The search for the cells of ``sheet`` holding a formula with no saved value, when its XML
    holds a formula (``with_formulas``: the members that do); else None."""
    if hasattr(target, "seek"):
        target.seek(0)
    with zipfile.ZipFile(target) as archive:
        member = sheet_members(archive).get(sheet)
    return UnsavedFormulas(target, member) if member in with_formulas else None


def workbook_format(target: Any) -> str:
    """:data:`.formats.XLSX` or :data:`.formats.ODS` for a zip archive holding such a workbook;
    raises :class:`ImportRefused` naming what else it is (an Apple Numbers file, a Word
    document, an archive)."""
    try:
        with zipfile.ZipFile(target) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, KeyError):
        raise ImportRefused(refusal("a damaged zip archive or workbook")) from None
    if "xl/workbook.xml" in names:
        return XLSX
    if mimetype.startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
        return ODS
    if any(n.startswith("Index/") for n in names) or "Index.zip" in names:
        raise ImportRefused(refusal("an Apple Numbers file", NUMBERS_FIX))
    if "word/document.xml" in names or mimetype.startswith(b"application/vnd.oasis.opendocument.text"):
        raise ImportRefused(
            refusal("a text document", "Copy its table into a spreadsheet and save it as CSV")
        )
    raise ImportRefused(refusal("a zip archive", "Unpack it and upload the CSV or workbook inside"))


def _seekable(stream: IO[bytes], source: Any, sample: bytes) -> Any:
    if isinstance(source, (str, os.PathLike)):
        return source
    if stream.seekable():
        stream.seek(0)
        return stream
    return io.BytesIO(sample + stream.read())


def _top(values: Any) -> list[list]:
    """A sheet's first :data:`.sheets.SCAN_ROWS` rows from A1 (empty cells as "")."""
    return values.to_python(skip_empty_area=False, nrows=SCAN_ROWS)


def _rows(values: Any, start: int) -> Iterator[tuple[int, list]]:
    """The sheet's rows from index ``start`` as (spreadsheet row number, cells from column A);
    a whole number stored as a float (a phone typed as a number) becomes an int: its digits."""
    first_row, first_column = values.start if values.height else (0, 0)
    pad = [""] * first_column
    for offset, cells in enumerate(values.iter_rows()):
        index = first_row + offset
        if index < start:
            continue
        yield index + 1, pad + [_whole(c) for c in cells]


def _whole(cell: Any) -> Any:
    if type(cell) is float and cell.is_integer() and abs(cell) < 2**53:
        return int(cell)
    return cell


def check_workbook(target: Any, limits: Limits) -> set[str]:
    """Refuse (:class:`ImportRefused`) a workbook that breaks the limits (module docstring).
    A file that is no zip archive passes: calamine refuses it with the usual words. Returns the
    XLSX sheet members whose XML holds a formula (:mod:`.xlsx_formulas`), seen on the way."""
    try:
        archive = zipfile.ZipFile(target)
    except (zipfile.BadZipFile, OSError):
        return set()
    with archive:
        members = archive.infolist()
        expanded = sum(m.file_size for m in members)
        if expanded > limits.max_uncompressed_bytes:
            raise ImportRefused(limits.expands_too_much(expanded))
        for member in (m for m in members if m.filename == "content.xml"):
            expanded += _ods_repeated_bytes(archive, member, limits.max_uncompressed_bytes - expanded)
            if expanded > limits.max_uncompressed_bytes:
                raise ImportRefused(limits.expands_too_much(expanded))
        widest = limits.max_cell_chars * BYTES_PER_CHARACTER
        sheets = [
            m for m in members if m.filename.startswith("xl/worksheets/") and m.filename.endswith(".xml")
        ]
        tables = [m for m in members if m.filename.endswith("sharedStrings.xml")]
        odf = [(m, _ODS_CELL) for m in members if m.filename == "content.xml"]
        cells = strings = 0
        with_formulas = set()
        for member, tag in [(m, _CELL) for m in sheets] + odf:
            count, too_wide, formulas = _scan(archive, member, tag, widest, markers=FORMULA_MARKERS)
            cells += count
            if too_wide:
                raise ImportRefused(limits.cell_too_long())
            if formulas and member.filename != "content.xml":
                with_formulas.add(member.filename)
        for member in tables:
            count, too_wide, _ = _scan(archive, member, _SHARED_STRING, widest, most=cells + 1 - strings)
            strings += count
            if too_wide:
                raise ImportRefused(limits.cell_too_long())
        if strings > cells + 1:
            raise ImportRefused(
                f"the workbook holds more shared texts than its {cells:,} cells could use: it is no "
                "spreadsheet export. Open it in a spreadsheet and save it again, or save it as CSV"
            )
    return with_formulas


def _ods_repeated_bytes(archive: zipfile.ZipFile, member: zipfile.ZipInfo, most: int) -> int:
    """The bytes an ODS ``content.xml`` adds by repetition: each cell holding a value
    (``office:value-type``) counts :data:`ODS_CELL_BYTES` for every copy beyond the first that
    ``table:number-rows-repeated`` and ``table:number-columns-repeated`` make of it. A kilobyte
    can repeat one row a million times and fifty sheets so (2.5 GB in calamine): empty repeated
    rows and cells (the padding spreadsheets write) cost nothing. Stops counting past ``most``."""
    added = 0
    rows = 1  # the current row's repetitions
    carry = b""
    with archive.open(member) as data:
        while True:
            block = data.read(_BLOCK)
            text = carry + block
            cut = len(text) if not block else text.rfind(b"<", max(0, len(text) - 4096))
            cut = len(text) if cut < 0 else cut
            for tag in _ODS_TAG.finditer(text, 0, cut):
                if tag.group(1) == b"row":
                    rows = _repeats(tag.group(0), b"rows")
                elif b"value-type" in tag.group(0):
                    added += (rows * _repeats(tag.group(0), b"columns") - 1) * ODS_CELL_BYTES
                    if added > most:
                        return added
            carry = text[cut:]
            if not block:
                return added


def _repeats(tag: bytes, what: bytes) -> int:
    found = re.search(rb"number-" + what + rb'-repeated="(\d{1,9})"', tag)
    return int(found.group(1)) if found else 1


def _scan(
    archive: zipfile.ZipFile,
    member: zipfile.ZipInfo,
    tag: re.Pattern[bytes],
    widest: int,
    most: int | None = None,
    markers: tuple[bytes, ...] = (),
) -> tuple[int, bool, bool]:
    """(how many ``tag`` elements ``member`` holds, whether a stretch of more than ``widest``
    bytes holds none, whether it holds any of ``markers``), reading it in blocks so memory stays
    at one block whatever the member expands to; stops once the count passes ``most``. Stretches
    are measured in windows of ``widest / 2`` bytes searched by the regex engine, so a million
    small cells cost no Python loop."""
    window = max(256, widest // 2)
    count = 0
    marked = False
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
            marked = marked or any(marker in chunk for marker in markers)
            if most is not None and count > most:
                return count, False, marked
            for offset in range(0, len(chunk), window):
                if tag.search(chunk, offset, offset + window + 16):
                    empty_since = None
                    continue
                if empty_since is None:
                    empty_since = start + offset
                if start + min(offset + window, len(chunk)) - empty_since > widest:
                    return count, True, marked
            start += len(chunk)
            if not block:
                return count, False, marked
