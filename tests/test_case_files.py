"""The input files under tests/data/cases are copies of the shared reference cases: this says which
reference case each copy answers and which test module holds its right outcome, and (when the
reference set is beside the repository, ``TGC_REFERENCE_CASES``) that every copy is in step.

A fresh clone has only the copies, so every test reads those; the reference set stays the source.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data" / "cases"
TESTS = Path(__file__).resolve().parent

# tests/data/cases/<file> → the test module that asserts its EXPECTED.md outcome. The reference
# case a copy answers has the same relative path in the reference set (recipients/basic.csv →
# <reference>/recipients/basic.csv).
ANSWERED_BY = {
    "EXPECTED.md": None,  # the outcomes themselves
    "recipients/basic.csv": "test_import.py",
    "recipients/binary_named.csv": "test_import.py",
    "recipients/cyrillic_cp1251.csv": "test_import.py",
    "recipients/digits_no_region.csv": "test_import.py",
    "recipients/empty.csv": "test_import.py",
    "recipients/excel_mangled_ids.csv": "test_import.py",
    "recipients/excel_mangled_phones.csv": "test_import.py",
    "recipients/excel_unicode_text.txt": "test_import.py",
    "recipients/header_only.csv": "test_import.py",
    "recipients/huge_cell.xlsx": "test_import.py",
    "recipients/leads.xlsx": "test_import.py",
    "recipients/messy_excel.csv": "test_import.py",
    "recipients/two_id_columns.csv": "test_import.py",
    "recipients/unclosed_quote.csv": "test_import.py",
    "recipients/western_cp1252.csv": "test_import.py",
    "recipients/crm_countries.csv": "test_contact_exports.py",
    "recipients/german_headers.csv": "test_contact_exports.py",
    "recipients/google_export.csv": "test_contact_exports.py",
    "recipients/outlook_export.csv": "test_contact_exports.py",
    "recipients/phone_contacts.vcf": "test_contact_exports.py",
    "recipients/same_header_cp1252.csv": "test_contact_exports.py",
    "recipients/same_header_utf8.csv": "test_contact_exports.py",
    "recipients/shop_customers.csv": "test_contact_exports.py",
    "recipients/telegram_export.json": "test_contact_exports.py",
    "recipients/workbook_cover_sheet.xlsx": "test_contact_exports.py",
    "media/animated.webp": "test_media.py",
    "media/clip.mp4": "test_media.py",
    "media/dims_sum_10500.png": "test_media.py",
    "media/empty.jpg": "test_media.py",
    "media/jingle.mp3": "test_media.py",
    "media/lossless.webp": "test_media.py",
    "media/orientation_6.jpg": "test_media.py",
    "media/photo.jpg": "test_media.py",
    "media/png_named.jpg": "test_media.py",
    "media/price_list.pdf": "test_media.py",
    "media/program_named.mp4": "test_media.py",
    "media/too_wide_ratio_40.png": "test_media.py",
    "media/truncated.jpg": "test_media.py",
    "media/voice.ogg": "test_media.py",
    "media/zip_named.pdf": "test_media.py",
    "messages/filter_bomb.txt": "test_messages.py",
    "messages/html_unclosed.html": "test_messages.py",
    "messages/markdown_links.md": "test_messages.py",
    "messages/personalised.txt": "test_messages.py",
    "messages/too_long_4097.txt": "test_messages.py",
}


def _copies() -> set[str]:
    return {p.relative_to(DATA).as_posix() for p in DATA.rglob("*") if p.is_file()}


def test_every_copy_names_the_case_it_answers():
    assert _copies() == set(ANSWERED_BY)


@pytest.mark.parametrize("name", sorted(n for n, t in ANSWERED_BY.items() if t))
def test_each_case_file_is_read_by_the_test_module_that_holds_its_outcome(name):
    module = TESTS / ANSWERED_BY[name]
    assert Path(name).name in module.read_text(encoding="utf-8"), f"{module.name} never reads {name}"


def test_the_copies_are_in_step_with_the_reference_cases():
    reference = os.environ.get("TGC_REFERENCE_CASES")
    if not reference or not Path(reference).is_dir():
        pytest.skip("TGC_REFERENCE_CASES is not set (a fresh clone has only the copies)")
    root = Path(reference)
    originals = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert originals == _copies(), "a reference case has no copy here, or a copy has no reference case"
    stale = [n for n in sorted(originals) if (root / n).read_bytes() != (DATA / n).read_bytes()]
    assert not stale, f"copies out of step with the reference cases: {stale}"
