"""What a row says about itself beside its identities: its country, its consent, its several
numbers in one cell. Each answer is the row's own evidence or a reason that names the fix; nothing
here falls back to a guess (issue 17: "every row carries its own evidence — use it; where it is
missing or contradicts itself, report the row").
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .countries import region_of
from .normalise import ANY, PHONE, PHONE_INTERNATIONAL, ROW_COUNTRY, USER_ID, USERNAME
from .vocabulary import NO, YES

# Google Contacts joins several values of one field with " ::: "; people put one per line.
_MULTI = re.compile(r"\s:::\s|\r?\n")
_SEPARATOR = re.compile(r"\s*[;,]\s*|\s+/\s+")
_PHONE_LIKE = re.compile(r"[+0-9(][0-9\s().\-/]{4,}")
# The most identities one row may give: a person has a few numbers; a cell of dozens is a column
# of people pasted into one cell, and reading them as one person would message only the first
# and fold the others into duplicates of them.
MAX_VALUES = 10


def split_values(text: str) -> list[str]:
    """The values of one identity cell: ``+49 1512 3456702 ::: +49 1512 3456703`` → two; values
    on several lines → one each; ``;`` only where every part looks like a phone number (a
    username never holds one). A cell holding one value → [that value]."""
    if " ::: " in text or "\n" in text:
        parts = [p.strip() for p in _MULTI.split(text)]
        return [p for p in parts if p] or [text]
    if ";" in text or "," in text or " / " in text:
        parts = [p for p in _SEPARATOR.split(text.strip()) if p]
        if len(parts) > 1 and all(_PHONE_LIKE.fullmatch(p) for p in parts):
            return parts
    return [text]


def too_many_values(count: int) -> str:
    """The reason for a row giving more than :data:`MAX_VALUES` identities."""
    return (
        f"{count} phone numbers or usernames in one row; one row is one person (at most "
        f"{MAX_VALUES}): put each person on a row of their own"
    )


_TEXT_DATE = re.compile(
    r"(?:19|20)\d\d-(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12]\d|3[01])(?:[T ][\d:.]+)?"
    r"|(?:0?[1-9]|[12]\d|3[01])[./](?:0?[1-9]|1[0-2])[./](?:19|20)\d\d"
)


def date_reason(text: str) -> str:
    """The reason for an identity cell that could not be read and is written as a date
    (``2026-01-02``, ``02.01.2026``), else "": a spreadsheet took the number for a date."""
    return not_text(datetime.date.min).format(value=text[:40]) if _TEXT_DATE.fullmatch(text.strip()) else ""


def not_text(cell: Any) -> str:
    """Why a spreadsheet cell cannot hold an identity (a format string with ``{value}``), or "":
    a date or time (the spreadsheet took the number for one), true/false, a decimal number."""
    if isinstance(cell, (datetime.date, datetime.time)):
        return (
            "“{value}” is a date or time, not a phone number: the spreadsheet took the number for "
            "one; format the column as text and type the number again"
        )
    if isinstance(cell, bool):
        return "“{value}” is a true/false cell, not a phone number or username"
    if isinstance(cell, float) and not cell.is_integer():
        return (
            "“{value}” is a decimal number, not a phone number: format the column as text and "
            "type the number again"
        )
    return ""


@dataclass(frozen=True)
class RowRegion:
    """The region a row's national numbers are read in: ``region`` (ISO 3166 alpha-2 or None),
    ``source`` (" (the row's country)", " (the list's default region)" or ""), and ``problem``:
    the reason when the row names a country that cannot be read (then ``region`` is None: the
    list's default is never used instead)."""

    region: str | None
    source: str = ""
    problem: str = ""


def row_region(values: Sequence[str], columns: list[tuple[int, str]], default: str | None) -> RowRegion:
    """The row's region from its first filled country column (``columns``: (index, header)),
    else the list's ``default``."""
    count = len(values)
    named: list[tuple[str, str, str]] = []  # (region, value, header) of each filled column
    for index, header in columns:
        value = values[index].strip() if index < count else ""
        if not value:
            continue
        region = region_of(value)
        if region is None:
            shown = value if len(value) <= 60 else value[:59] + "…"
            return RowRegion(
                None,
                problem=f"country “{shown}” in column {header} is not one the app can read: "
                "write its ISO code (such as GB) or its name",
            )
        if named and region != named[0][0]:
            first = named[0]
            return RowRegion(
                None,
                problem=f"column {first[2]} says “{first[1][:40]}” but column {header} says "
                f"“{value[:40]}”: the row names two countries; keep the right one",
            )
        named.append((region, value, header))
    if named:
        return RowRegion(named[0][0], ROW_COUNTRY)
    if default:
        return RowRegion(default, " (the list's default region)")
    return RowRegion(None)


def no_country_reason(columns: list[tuple[int, str]]) -> str:
    """The reason for a national number in a row with no country, where the file has a country
    column (``columns``)."""
    names = " or ".join(header for _i, header in columns[:2])
    return f"no country code and no country in column {names}: fill the row's country or write +…"


def consent_refusal(values: Sequence[str], columns: list[tuple[int, str]]) -> str:
    """ "" when every consent column (``columns``: (index, header)) of the row says yes; else why
    the row is not a recipient: ``no consent (column Newsletter says 'nein')``, ``no consent
    (column Newsletter is empty)``, or an answer that is neither yes nor no. Every one starts
    with "no consent": reports count such rows by it (:data:`campaigns.models.lists.NO_CONSENT_PREFIXES`)."""
    count = len(values)
    for index, header in columns:
        value = values[index].strip() if index < count else ""
        answer = _answer(value)
        if answer in YES:
            continue
        if not answer:
            return f"no consent (column {header} is empty)"
        if answer in NO:
            return f"no consent (column {header} says '{value[:40]}')"
        return f"no consent: column {header} says '{value[:40]}', neither yes nor no (write yes or no)"
    return ""


def _answer(value: str) -> str:
    """A yes/no cell as compared: full-width letters as ASCII (NFKC), invisible format
    characters (a zero-width space pasted from a web page, a stray BOM) removed, case folded."""
    text = unicodedata.normalize("NFKC", value)
    return "".join(c for c in text if unicodedata.category(c) != "Cf").strip().casefold()


def opt_out_refusal(values: Sequence[str], columns: list[tuple[int, str]]) -> str:
    """ "" when every opt-out column (``columns``: (index, header)) of the row is empty or says
    no; else why the row is not a recipient: ``opted out (column Unsubscribed says 'yes')``. A
    date or any other answer counts as opted out (when in doubt, do not send). Counted as no
    consent by its start (:data:`campaigns.models.lists.NO_CONSENT_PREFIXES`)."""
    count = len(values)
    for index, header in columns:
        value = values[index].strip() if index < count else ""
        if value and _answer(value) not in NO:
            return f"opted out (column {header} says '{value[:40]}'); if it does not mean so, choose another role for the column"
    return ""


_NOUNS = {
    ANY: "username, phone number or user id",
    USERNAME: "username",
    PHONE: "phone number",
    PHONE_INTERNATIONAL: "phone number",
    USER_ID: "user id",
}


def nothing_reason(readings: Sequence[str]) -> str:
    """The reason for a row whose identity cells are all empty, naming what the columns hold:
    "no phone number", "no username or phone number"."""
    if ANY in readings:
        return "no " + _NOUNS[ANY]
    nouns = list(dict.fromkeys(_NOUNS[r] for r in readings))
    return "no " + " or ".join(nouns)
