"""Workbook cells holding a formula with no saved value (a workbook written by a script, or saved
without recalculating): the reader sees them empty, so each such cell the import reads makes its
row invalid with the fix, never "no phone number", never a row sent without it.

``data/formats/unsaved_formulas.xlsx``, sheet ``Contacts`` (``Name, Phone, Newsletter,
Unsubscribed``), written as openpyxl writes formulas (no saved value), a few cells as Excel saves
them: row 2 plain; row 3 a phone formula without a value; row 4 an opt-out formula without a
value; row 5 a phone formula with its saved value; row 6 a formula whose saved value is empty
text; row 7 a name formula without a value; rows 8–9 a shared formula (its first cell and a cell
sharing it) without values; row 10 a consent formula without a value; row 11 a phone formula
whose saved value is the error ``#N/A``; row 12 an opt-out formula whose saved value is ``#REF!``.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from campaigns.lists.columns import names_recipients
from campaigns.lists.file_preview import preview_file
from campaigns.lists.importing import import_recipient_list
from campaigns.lists.mapping import Mapping
from campaigns.lists.reading import open_table
from campaigns.models import Recipient, RecipientList

WORKBOOK = Path(__file__).resolve().parent / "data" / "formats" / "unsaved_formulas.xlsx"
FIX = "open the file in Excel or LibreOffice, recalculate it (F9) and save it"


def imported(source) -> RecipientList:
    recipient_list = RecipientList.objects.create(name="Formulas", consent_basis="opt_in")
    import_recipient_list(recipient_list, source)
    return recipient_list


def outcome(recipient_list: RecipientList) -> dict[int, tuple[str, str, str]]:
    rows = recipient_list.recipients.order_by("row_number")
    return {r.row_number: (r.key, r.status, r.error) for r in rows}


@pytest.mark.django_db
def test_a_cell_holding_a_formula_with_no_saved_value_makes_its_row_invalid_with_the_fix():
    rows = outcome(imported(WORKBOOK))

    assert {n for n, (_key, status, _error) in rows.items() if status == Recipient.Status.VALID} == {2, 5}
    assert len(rows) == 11
    assert rows[5][0] == "+4915123456704"  # a formula with its saved value is read by that value
    assert rows[6][1:] == (Recipient.Status.INVALID, "no phone number")  # its saved value is empty
    for number, column in [
        (3, "Phone"),
        (4, "Unsubscribed"),
        (7, "Name"),
        (8, "Phone"),
        (9, "Phone"),
        (10, "Newsletter"),
    ]:
        key, status, error = rows[number]
        assert (key, status) == ("", Recipient.Status.INVALID), number
        assert f"column “{column}” holds a formula with no saved value" in error and FIX in error, number
    for number, column, error in [(11, "Phone", "#N/A"), (12, "Unsubscribed", "#REF!")]:
        assert rows[number][:2] == ("", Recipient.Status.INVALID), number
        assert f"column “{column}” holds a formula whose result is the error {error}" in rows[number][2]


@pytest.mark.django_db
def test_the_mapping_step_shows_a_row_with_an_unsaved_formula_as_invalid_with_the_fix():
    preview = preview_file(WORKBOOK, Mapping())

    ben = next(row for row in preview.rows if row.number == 3)
    assert ben.status == "invalid" and "formula with no saved value" in ben.error and FIX in ben.error


def _workbook(formulas: bool) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["Name", "Phone"])
    for i in range(5):
        sheet.append([f"Person {i}", f"+49151234567{i:02d}" if not formulas else f'="+49151234567{i:02d}"'])
    sheet.append(["Nobody", None])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_a_workbook_without_formulas_is_never_searched_for_them():
    table = open_table(io.BytesIO(_workbook(formulas=False)), None, None, names_recipients)

    assert table.unsaved is None


def test_a_workbook_with_formulas_is_searched_once_and_only_when_asked():
    data = _workbook(formulas=True)
    table = open_table(io.BytesIO(data), io.BytesIO(data), None, names_recipients)

    assert table.unsaved is not None and table.unsaved.searched is False
    assert table.unsaved(3) == {1: ""} and table.unsaved(7) == {}
    assert table.unsaved.searched is True


def test_a_formula_cell_in_a_namespace_prefixed_sheet_is_found_too():
    data = _workbook(formulas=True)
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        members = {item.filename: source.read(item) for item in source.infolist()}
    sheet = members["xl/worksheets/sheet1.xml"].decode()
    sheet = sheet.replace("<worksheet xmlns=", "<x:worksheet xmlns:x=").replace(
        "</worksheet>", "</x:worksheet>"
    )
    for tag in ("sheetData", "row", "c", "f", "v", "is", "t"):
        sheet = sheet.replace(f"<{tag}>", f"<x:{tag}>").replace(f"<{tag} ", f"<x:{tag} ")
        sheet = sheet.replace(f"</{tag}>", f"</x:{tag}>")
    members["xl/worksheets/sheet1.xml"] = sheet.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for name, content in members.items():
            out.writestr(name, content)
    data = buffer.getvalue()

    table = open_table(io.BytesIO(data), io.BytesIO(data), None, names_recipients)

    assert table.unsaved is not None and table.unsaved(2) == {1: ""}
