"""What spreadsheets do to identifiers on their way to a CSV file, undone where the digits survive.

Excel and its kin store a long number as a floating-point value and write it back as text in
several damaged spellings (Microsoft, "Excel specifications and limits": 15 significant digits):

- ``4915112345678.0``: a float suffix. The digits are intact; the ``.0`` goes.
- ``4.91511E+12``: scientific notation. Only the shown significant digits survive; the rest are
  gone and cannot be recovered: the value is refused, saying how to fix the sheet.
- ``'+4915112345679``: the apostrophe Excel uses to mark a cell as text, exported by some tools.
- ``="+4915112345670"``: the formula-quoted text some CRMs write so Excel keeps a value as text.
- ``1,234,567``: thousands separators, where the caller says a value may be a grouped user id
  (any separator in a column of user ids; only ``,`` in a column of any identity, where spaces and
  dots are a phone number's punctuation).

No database, no network: pure text in, text out.
"""

from __future__ import annotations

import re

_FORMULA_TEXT = re.compile(r'=\s*"(.*)"', re.DOTALL)
_SCIENTIFIC = re.compile(r"[+-]?(\d+)(?:[.,](\d+))?[eE][+-]?\d+")
# Digits written like a phone or an id, ending in a float suffix (".0", ".00"): no other dot.
_FLOAT_SUFFIX = re.compile(r"(\+?[0-9][0-9\s()\-/]*)\.0+")
# Grouped digits: 1,234,567 / 1 234 567 / 1'234'567 / 1.234.567 (one separator throughout).
_GROUPED = re.compile(r"\d{1,3}(?P<sep>[,.'\u00a0\u202f ])\d{3}(?:(?P=sep)\d{3})*")


class ExcelDamage(ValueError):
    """The value lost information in a spreadsheet; ``str(exc)`` says what and how to fix it."""


def repair(value: str, *, separators: str = "") -> str:
    """``value`` (stripped) with spreadsheet damage undone (see the module's docstring).

    ``separators``: thousands separators to remove from a grouped number (``1,234,567``), e.g.
    ``","`` where a value may be a user id; "" leaves grouped numbers alone.
    Raises :class:`ExcelDamage` for a number in scientific notation, whose digits are lost.
    """
    if value.startswith("="):
        match = _FORMULA_TEXT.fullmatch(value)
        if match:
            value = match.group(1).strip()
    if value.startswith("'"):
        value = value[1:].strip()
    if value and value[0] in "+-0123456789":
        scientific = _SCIENTIFIC.fullmatch(value)
        if scientific:
            kept = len((scientific.group(1) + (scientific.group(2) or "")).lstrip("0"))
            raise ExcelDamage(
                f"{value} is a number in scientific notation: the spreadsheet kept only {kept} "
                f"significant digit{'s' if kept != 1 else ''} and the others are lost. Format the column as text in the "
                "spreadsheet, enter the numbers again and export again"
            )
        suffix = _FLOAT_SUFFIX.fullmatch(value)
        if suffix:
            value = suffix.group(1).rstrip()
        grouped = _GROUPED.fullmatch(value) if separators else None
        if grouped and grouped.group("sep") in separators:
            value = value.replace(grouped.group("sep"), "")
    return value
