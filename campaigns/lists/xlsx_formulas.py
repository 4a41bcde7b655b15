"""The cells of an XLSX sheet that hold a formula with no saved value.

A workbook keeps each formula's last result beside it (``<c><f>…</f><v>result</v></c>``), and
that is what the reader (calamine) returns. A workbook written by a script (openpyxl writes
``<v/>``) or by a tool that never calculates has only the formula: calamine reads such a cell as
empty, and a phone made by ``="+49"&B2`` would be reported "no phone number", an opt-out column
``=IF(…)`` read as "not opted out". calamine does not expose formulas, so the sheet's XML is
searched for them, as bytes, by :class:`UnsavedFormulas` — once, and only when the import meets an
empty cell it reads (:mod:`.rows`) in a sheet where :func:`.xlsx_reader.check_workbook` saw a
formula at all: a workbook without formulas costs nothing more.

A cell counts when it holds ``<f>`` (a shared formula's ``<f t="shared" si="0"/>`` too) and no
``<v>``, or an empty ``<v/>`` without ``t="str"`` (a saved empty text result, ``=IF(…,"")``, is
a value: the cell is empty for good); and when its saved value is an error (``t="e"``: ``#N/A``
from a lookup that found nothing), which calamine reads as empty as well.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from typing import Any
from xml.etree import ElementTree

# Whether a sheet's XML holds a formula at all (a cheap test, made while the sheet is scanned for
# the limits): <f>, <x:f …>; <formula1>, <filter> … also match, which only costs the search below.
FORMULA_MARKERS = (b"<f", b":f>", b":f ")
_BLOCK = 1 << 20
_FORMULA_CELL = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?c\b([^>]*)>\s*"
    rb"<(?:[A-Za-z_][\w.-]*:)?f\b[^>]*?(?:/>|>[^<]*</(?:[A-Za-z_][\w.-]*:)?f>)\s*"
    rb"(<(?:[A-Za-z_][\w.-]*:)?v\s*/>|<(?:[A-Za-z_][\w.-]*:)?v>\s*</(?:[A-Za-z_][\w.-]*:)?v>)?\s*"
    rb"</(?:[A-Za-z_][\w.-]*:)?c>"
)
# A cell whose saved value is an error (#N/A from a VLOOKUP that found nothing, #REF!): calamine
# reads it as empty too.
_ERROR_CELL = re.compile(
    rb'<(?:[A-Za-z_][\w.-]*:)?c\b([^>]*\bt="e"[^>]*)>(?:(?!</(?:[A-Za-z_][\w.-]*:)?c>).)*?'
    rb"<(?:[A-Za-z_][\w.-]*:)?v>([^<]{0,40})</(?:[A-Za-z_][\w.-]*:)?v>",
    re.DOTALL,
)
_REFERENCE = re.compile(rb'\br="([A-Z]{1,3})(\d{1,7})"')
_TEXT_TYPE = re.compile(rb'\bt="str"')
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELATIONSHIP = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_PACKAGE_RELATIONSHIP = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"

UNSAVED_REASON = (
    "{columns} holds a formula with no saved value (the file was written without calculating "
    "it): open the file in Excel or LibreOffice, recalculate it (F9) and save it, then upload it "
    "again"
)
ERROR_REASON = (
    "{columns} holds a formula whose result is the error {error}: correct the formula in the "
    "spreadsheet (or type the value), save it and upload it again"
)


def unsaved_reason(cells: list[tuple[str, str]]) -> str:
    """The reason for a row whose read cells hold formulas without a usable value: ``cells`` as
    (column header, "" for no saved value or the error it saved, such as ``#N/A``)."""
    errors = [(header, error) for header, error in cells if error]
    if errors:
        columns = " and ".join(f"column “{header}”" for header, _error in errors)
        return ERROR_REASON.format(columns=columns, error=errors[0][1])
    return UNSAVED_REASON.format(columns=" and ".join(f"column “{header}”" for header, _ in cells))


def sheet_members(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → the archive member holding its XML (``xl/worksheets/sheet1.xml``), from
    ``xl/workbook.xml`` and its relationships; {} when they cannot be read."""
    try:
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        links = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return {}
    targets = {link.get("Id"): link.get("Target", "") for link in links.iter(_PACKAGE_RELATIONSHIP)}
    members = {}
    for sheet in book.iter(f"{_MAIN}sheet"):
        target = targets.get(sheet.get(_RELATIONSHIP), "")
        if target:
            path = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
            members[sheet.get("name", "")] = posixpath.normpath(path)
    return members


class UnsavedFormulas:
    """``unsaved(row)``: the cells of spreadsheet row ``row`` (1-based) that hold a formula with
    no saved value, or whose saved value is an error, as {0-based column index: "" or the error
    (``#N/A``)}. The sheet (``member`` of the zip ``target``, a path or a seekable binary file) is
    searched on the first call, in blocks; :attr:`searched` says whether it was."""

    def __init__(self, target: Any, member: str):
        self._target = target
        self._member = member
        self._cells: dict[int, dict[int, str]] = {}
        self.searched = False

    def __call__(self, row: int) -> dict[int, str]:
        if not self.searched:
            self._search()
            self.searched = True
        return self._cells.get(row, {})

    def _search(self) -> None:
        if hasattr(self._target, "seek"):
            self._target.seek(0)
        with zipfile.ZipFile(self._target) as archive, archive.open(self._member) as data:
            carry = b""
            while True:
                block = data.read(_BLOCK)
                text = carry + block
                cut = len(text) if not block else _complete(text)
                if any(marker in text[:cut] for marker in FORMULA_MARKERS):
                    self._collect(text[:cut])
                carry = text[cut:]
                if not block:
                    return

    def _collect(self, chunk: bytes) -> None:
        for cell in _FORMULA_CELL.finditer(chunk):
            attributes, empty_value = cell.group(1), cell.group(2)
            if not (empty_value and _TEXT_TYPE.search(attributes)):  # a saved empty text is a value
                self._note(attributes, "")
        if b't="e"' in chunk:
            for cell in _ERROR_CELL.finditer(chunk):
                self._note(cell.group(1), cell.group(2).decode("utf-8", "replace").strip() or "#ERROR")

    def _note(self, attributes: bytes, error: str) -> None:
        reference = _REFERENCE.search(attributes)
        if reference:
            column = 0
            for letter in reference.group(1):
                column = column * 26 + letter - 64
            self._cells.setdefault(int(reference.group(2)), {})[column - 1] = error


def _complete(text: bytes) -> int:
    """Where the cells of ``text`` that are whole end: after its last ``</c>`` (``</x:c>``), else
    at its last "<" (a cell is never split between two rounds of the search)."""
    plain, prefixed = text.rfind(b"</c>"), text.rfind(b":c>")
    if prefixed >= 0 and text[text.rfind(b"<", 0, prefixed) + 1 :][:1] != b"/":
        prefixed = -1  # an opening <x:c>
    if plain >= 0 or prefixed >= 0:
        return max(plain + 4 if plain >= 0 else 0, prefixed + 3 if prefixed >= 0 else 0)
    return max(text.rfind(b"<"), 0)
