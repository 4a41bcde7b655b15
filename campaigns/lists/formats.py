"""The file formats recipients are read from, in one place: what the upload form accepts, what its
help text and the command's help name, and the words that refuse anything else.

A file's format is told by its content, never by its name alone (a ``.csv`` that is an Excel
workbook is read as the workbook): :func:`sniff` looks at the first bytes. The name only makes a
refusal more helpful ("an Apple Numbers file: …").
"""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    """One readable format: ``name`` as :attr:`.table.Table.file_format` says it, ``label`` for
    staff, ``suffixes`` the file name endings the upload form offers."""

    name: str
    label: str
    suffixes: tuple[str, ...]


CSV, XLSX, XLS, ODS, VCARD, TELEGRAM = "csv", "xlsx", "xls", "ods", "vcard", "telegram"
FORMATS = (
    Format(CSV, "CSV or text (comma, semicolon or tab separated)", (".csv", ".txt", ".tsv")),
    Format(XLSX, "Excel workbook (.xlsx)", (".xlsx", ".xlsm")),
    Format(XLS, "Excel 97–2003 workbook (.xls)", (".xls",)),
    Format(ODS, "OpenDocument spreadsheet (.ods)", (".ods",)),
    Format(VCARD, "vCard contacts (.vcf, versions 2.1, 3.0 and 4.0)", (".vcf", ".vcard")),
    Format(TELEGRAM, "Telegram Desktop contacts export (result.json)", (".json",)),
)
WORKBOOKS = (XLSX, XLS, ODS)
ACCEPT = ",".join(suffix for f in FORMATS for suffix in f.suffixes)  # the upload's accept list


def formats_text() -> str:
    """The readable formats in one phrase, for help texts and refusals."""
    return (
        "CSV or TXT, Excel (.xlsx, .xls), OpenDocument (.ods), vCard (.vcf) or Telegram Desktop's result.json"
    )


def refusal(what: str, fix: str = "") -> str:
    """The words that refuse a file: what it is, how to fix it, and the formats that are read."""
    fix = f"{fix}. " if fix else ""
    return f"{what}: recipients are not read from it. {fix}Upload {formats_text()}"


# First bytes of formats that are not read, and what to do about each.
_OTHER = (
    (
        b"%PDF-",
        "a PDF document",
        "Export the list as CSV or Excel from where it came (CRM, spreadsheet); "
        "a PDF keeps the page, not the table. If the PDF is all you have, copy its table into a "
        "spreadsheet, check the columns and save it as CSV",
    ),
    (b"\x1f\x8b", "a gzip-compressed file", "Unpack it and upload the CSV or workbook inside"),
    (b"Rar!", "a RAR archive", "Unpack it and upload the CSV or workbook inside"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "Unpack it and upload the CSV or workbook inside"),
    (b"\x89PNG", "a PNG image", "Upload the list itself, not a picture of it"),
    (b"\xff\xd8\xff", "a JPEG image", "Upload the list itself, not a picture of it"),
    (b"{\\rtf", "an RTF document", "Save the table as CSV from the program that made it"),
)
_VCARD = re.compile(rb"\s*BEGIN:VCARD\b", re.IGNORECASE)


def sniff(sample: bytes, name: str = "") -> str:
    """The format of a file whose first bytes are ``sample`` (named ``name``, if known): ``"zip"``
    (a workbook or another archive: :mod:`.xlsx_reader` tells them apart), ``"ole"`` (a legacy
    .xls, or another Office file), :data:`VCARD`, ``"json"`` or :data:`CSV` (anything else that
    may be text). Raises :class:`.table.ImportRefused` for a format that is never read."""
    from .table import ImportRefused

    if sample.startswith(b"PK\x03\x04"):
        return "zip"
    if sample.startswith(b"\xd0\xcf\x11\xe0"):
        return "ole"
    for magic, what, fix in _OTHER:
        if sample.startswith(magic):
            raise ImportRefused(refusal(what, fix))
    text = _without_bom(sample)
    if _VCARD.match(text[:200]):
        return VCARD
    if text.lstrip()[:1] in (b"{", b"[") and (suffix(name) == ".json" or _json_like(text)):
        return "json"
    if suffix(name) == ".numbers":
        raise ImportRefused(refusal("an Apple Numbers file", NUMBERS_FIX))
    return CSV


def _without_bom(sample: bytes) -> bytes:
    """``sample``'s first bytes after its byte order mark, as UTF-8, so that a vCard or JSON file
    saved as "Unicode" is told by its content like any other."""
    return as_utf8(sample[:4096])


# Longest first: UTF-32 LE's mark starts with UTF-16 LE's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def as_utf8(data: bytes) -> bytes:
    """``data`` without its byte order mark (UTF-8, UTF-16 or UTF-32, either byte order), as
    UTF-8 (an undecodable unit becomes U+FFFD); ``data`` itself when it has none."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec, errors="replace").encode("utf-8")
    return data


NUMBERS_FIX = "In Numbers choose File › Export To › CSV… (or Excel…) and upload that file"


def _json_like(text: bytes) -> bool:
    """A ``{`` or ``[`` followed by a quoted key or another bracket: JSON, not a CSV whose first
    cell starts with a brace."""
    return bool(re.match(rb'\s*[\[{]\s*(?:"|\[|\{|\]|\})', text[:200]))


def suffix(name: str | os.PathLike | None) -> str:
    """The lower-cased extension of a path or an upload's name ("" when none)."""
    return os.path.splitext(os.fspath(name or ""))[1].lower() if isinstance(name, (str, os.PathLike)) else ""
