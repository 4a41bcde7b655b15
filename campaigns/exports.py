"""Streaming CSV export of results, safe to open in Excel.

One row per :class:`~campaigns.models.MessageResult`, read with ``.iterator()`` so a campaign of a
million rows is streamed in constant memory. The columns are :data:`BASE_COLUMNS` (``raw_value``,
``list`` and ``row`` say where an invalid or duplicate row with an empty ``key`` came from), then
the lists' personalisation fields; an export spanning campaigns starts with a ``campaign`` column.
Two things make the file Excel-friendly:

- a UTF-8 byte-order mark first, without which Excel guesses a legacy code page and mangles
  Cyrillic names and emoji;
- formula injection ("CSV injection", OWASP): a cell starting with ``=`` ``+`` ``-`` ``@``, a tab
  or a carriage return is evaluated by spreadsheet apps, so such text cells get a leading ``'``.
  Recipient files are uploaded by staff from outside sources (``=HYPERLINK(…)`` in a name column
  is a real attack), so every text cell is escaped, keys and error texts included.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO, Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils.text import slugify

from .models import Campaign, MessageResult, RecipientList

BOM = "\ufeff"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BASE_COLUMNS = [
    "key",
    "raw_value",  # the recipient as written in the file
    "list",  # the recipient list's name
    "row",  # the row number in that file
    "kind",
    "status",
    "session",
    "telegram_message_id",
    "error_code",
    "error_text",
    "attempts",
    "created_at",
    "sending_at",
    "sent_at",
]
# Rows fetched per round trip; large enough to amortise latency, small enough to stream.
CHUNK_SIZE = 2000
# Put before a personalisation field's name when it is also a column of BASE_COLUMNS.
FIELD_PREFIX = "field:"
# First column of an export spanning several campaigns.
CAMPAIGN_COLUMN = "campaign"


def excel_safe(value: Any) -> str | int | float:
    """``value`` as a CSV cell: datetimes in ISO 8601, ``None`` empty, formula-looking text
    prefixed with ``'`` so a spreadsheet shows it as text instead of evaluating it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def personalisation_columns(results: QuerySet[MessageResult]) -> list[str]:
    """The personalisation field names of ``results``, in order of first appearance.

    Rows of one list share their columns, but a campaign may span lists with different columns,
    so the union is taken over every row (one pass over the JSON column only).
    """
    seen: dict[str, None] = {}
    # The lists' own column order first: PostgreSQL's jsonb does not keep a row's key order.
    list_ids = results.exclude(recipient=None).values("recipient__recipient_list_id").distinct()
    for report in (
        RecipientList.objects.filter(pk__in=list_ids).order_by("pk").values_list("report", flat=True)
    ):
        for name in (report or {}).get("columns", []):
            seen.setdefault(str(name), None)
    for fields in results.values_list("fields", flat=True).iterator(chunk_size=CHUNK_SIZE):
        for name in fields or {}:
            seen.setdefault(str(name), None)
    return list(seen)


def field_headers(names: list[str], base: list[str] = BASE_COLUMNS) -> list[str]:
    """The CSV headers for personalisation fields ``names``: the name itself, or the name after
    :data:`FIELD_PREFIX` when a base column (or an earlier header) already has it. Recipient
    files often have a ``status`` or ``key`` column of their own; it is kept, not dropped."""
    taken = set(base)
    headers = []
    for name in names:
        header = name
        while header in taken:
            header = FIELD_PREFIX + header
        taken.add(header)
        headers.append(header)
    return headers


def result_rows(results: QuerySet[MessageResult], *, with_campaign: bool = False) -> Iterator[list]:
    """The header, then one Excel-safe row per result of ``results`` (in id order); with
    ``with_campaign``, each row starts with its campaign's name."""
    extra = personalisation_columns(results)
    base = [CAMPAIGN_COLUMN, *BASE_COLUMNS] if with_campaign else BASE_COLUMNS
    yield [excel_safe(c) for c in base + field_headers(extra, base)]
    related = ["session", "recipient__recipient_list"] + (["campaign"] if with_campaign else [])
    rows = results.select_related(*related).order_by("id")
    for r in rows.iterator(chunk_size=CHUNK_SIZE):
        fields = r.fields or {}
        recipient = r.recipient
        row = [r.campaign.name] if with_campaign else []
        row += [
            r.key,
            recipient.raw_value if recipient else "",
            recipient.recipient_list.name if recipient else "",
            recipient.row_number if recipient else None,
            r.kind,
            r.status,
            r.session.name if r.session else "",
            r.telegram_message_id,
            r.error_code,
            r.error_text,
            r.attempts,
            r.created_at,
            r.sending_at,
            r.sent_at,
        ]
        row += [fields.get(name) for name in extra]
        yield [excel_safe(v) for v in row]


class _Echo:
    """A file-like object whose ``write`` returns the line, for :func:`csv.writer` streaming."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[list]) -> Iterator[str]:
    """The BOM, then each row as one CSV line (``\\r\\n`` line ends, as RFC 4180 and Excel use)."""
    writer = csv.writer(_Echo())
    yield BOM
    for row in rows:
        yield writer.writerow(row)


def export_filename(campaign: Campaign) -> str:
    return f"campaign-{campaign.pk}-{slugify(campaign.name) or 'results'}.csv"


def results_csv_response(
    results: QuerySet[MessageResult], filename: str, *, with_campaign: bool = False
) -> StreamingHttpResponse:
    """A streaming download of ``results`` as CSV (UTF-8 with BOM, Excel-safe); with
    ``with_campaign`` (results of several campaigns) each row starts with its campaign's name."""
    rows = result_rows(results, with_campaign=with_campaign)
    response = StreamingHttpResponse(
        (line.encode("utf-8") for line in csv_lines(rows)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def campaign_csv_response(campaign: Campaign) -> StreamingHttpResponse:
    """A streaming download of every result of ``campaign``."""
    return results_csv_response(campaign.results.all(), export_filename(campaign))


def campaigns_csv_response(campaigns: QuerySet[Campaign]) -> StreamingHttpResponse:
    """One streaming download of the results of several ``campaigns``, with a ``campaign`` column."""
    ids = sorted(campaigns.values_list("pk", flat=True))
    results = MessageResult.objects.filter(campaign_id__in=ids)
    filename = f"campaigns-{'-'.join(map(str, ids))}.csv" if len(ids) <= 5 else f"campaigns-{len(ids)}.csv"
    return results_csv_response(results, filename, with_campaign=True)


def write_campaign_csv(campaign: Campaign, out: IO[str]) -> int:
    """Write ``campaign``'s results to the text stream ``out`` (open it with ``newline=""``);
    returns the number of result rows written."""
    written = 0
    for line in csv_lines(result_rows(campaign.results.all())):
        out.write(line)
        written += 1
    return max(written - 2, 0)  # neither the BOM nor the header is a result
