"""Exports of results, in two formats for two readers:

- **CSV, for machines**: every value exactly as stored (``+12025550182``, ``@name``), UTF-8 with a
  byte-order mark, so it matches back into a CRM. Opened in a spreadsheet app, a cell starting
  with ``=`` ``+`` ``-`` ``@`` may be evaluated as a formula ("CSV injection", OWASP): use the
  XLSX export for people.
- **XLSX, for people**: every text cell is typed as text (no formula can run, and the value is not
  prefixed or changed), identifiers stay identifiers (no ``+`` lost, no scientific notation); an
  "About" sheet says which export this is. Excel holds at most 1,048,576 rows per sheet.

One row per :class:`~campaigns.models.MessageResult`, read with ``.iterator()`` so a campaign of a
million rows is streamed in constant memory (the XLSX file is written to a temporary file first).
The columns are :data:`BASE_COLUMNS` (``raw_value``, ``list`` and ``row`` say where an invalid or
duplicate row with an empty ``key`` came from; ``message`` is the text as rendered for that
recipient), then the lists' personalisation fields; an export spanning campaigns starts with a
``campaign`` column.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO, Any

from django.db.models import QuerySet
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils.text import slugify

from .content.outgoing import recipient_text
from .models import Campaign, MessageResult, RecipientList, ResultStatus

BOM = "\ufeff"
FORMATS = ("csv", "xlsx")
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
    # After the send: when Telegram said it was read (empty: read status hidden, not yet read, or a
    # bot sent it — bots see no reads), the first reply's time, how many replies, the A/B variant.
    "read_at",
    "replied_at",
    "reply_count",
    "variant",
    "message",  # the message as rendered for this recipient
]
# Rows fetched per round trip; large enough to amortise latency, small enough to stream.
CHUNK_SIZE = 2000
# Put before a personalisation field's name when it is also a column of BASE_COLUMNS.
FIELD_PREFIX = "field:"
# First column of an export spanning several campaigns.
CAMPAIGN_COLUMN = "campaign"
XLSX_MAX_ROWS = 1_048_576  # Excel's rows per sheet (the header is one)
XLSX_MAX_CELL = 32_767  # Excel's characters per cell
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ABOUT_XLSX = (
    "For people: every cell holds the value exactly as stored, typed as text where it is text, so no "
    "formula runs and identifiers keep their + and digits. For machines (re-import into a CRM), "
    "use the CSV export: the same values, as plain CSV."
)


def csv_value(value: Any) -> str | int | float:
    """``value`` as a CSV cell, exactly as stored: datetimes in ISO 8601, ``None`` empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


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
    """The headers for personalisation fields ``names``: the name itself, or the name after
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
    """The header, then one row of values as stored per result of ``results`` (in id order);
    with ``with_campaign``, each row starts with its campaign's name."""
    extra = personalisation_columns(results)
    base = [CAMPAIGN_COLUMN, *BASE_COLUMNS] if with_campaign else BASE_COLUMNS
    yield base + field_headers(extra, base)
    rows = results.select_related("session", "recipient__recipient_list", "campaign").order_by("id")
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
            r.read_at,
            r.replied_at,
            r.reply_count,
            r.variant,
            recipient_text(r.campaign, fields, r.variant) if r.key and r.status != ResultStatus.HELD else "",
        ]
        row += [fields.get(name) for name in extra]
        yield row


class _Echo:
    """A file-like object whose ``write`` returns the line, for :func:`csv.writer` streaming."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[list]) -> Iterator[str]:
    """The BOM, then each row as one CSV line (``\\r\\n`` line ends, as RFC 4180 and Excel use)."""
    writer = csv.writer(_Echo())
    yield BOM
    for row in rows:
        yield writer.writerow([csv_value(v) for v in row])


def write_xlsx(rows: Iterable[list], out: IO[bytes]) -> int:
    """Write ``rows`` (the header first) as a workbook to ``out``: text cells typed as text, numbers
    as numbers, datetimes as ISO 8601 text; returns the number of rows after the header."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Results")
    written = -1
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, datetime):
                value = value.isoformat()
            if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
                text = ILLEGAL_CHARACTERS_RE.sub("", csv_value(value) if value is not None else "")
                cell = WriteOnlyCell(sheet, value=text[:XLSX_MAX_CELL])
                cell.data_type = "s"  # text, even when it starts with "=": never a formula
                cell.number_format = "@"
            else:
                cell = WriteOnlyCell(sheet, value=value)
            if written < 0:
                cell.font = Font(bold=True)
            cells.append(cell)
        sheet.append(cells)
        written += 1
    about = workbook.create_sheet("About")
    about.append(["Export for people (XLSX)"])
    about.append([ABOUT_XLSX])
    workbook.save(out)
    return max(written, 0)


def export_filename(campaign: Campaign, file_format: str = "csv") -> str:
    return f"campaign-{campaign.pk}-{slugify(campaign.name) or 'results'}.{file_format}"


def results_response(
    results: QuerySet[MessageResult], filename: str, *, with_campaign: bool = False, file_format: str = "csv"
) -> HttpResponse:
    """A download of ``results``: ``csv`` (streamed) or ``xlsx`` (:func:`write_xlsx`); with
    ``with_campaign`` (results of several campaigns) each row starts with its campaign's name. An
    XLSX export with more rows than a sheet holds is refused (400) in favour of CSV."""
    rows = result_rows(results, with_campaign=with_campaign)
    if file_format == "xlsx":
        if results.count() >= XLSX_MAX_ROWS:
            return HttpResponse(
                f"More than {XLSX_MAX_ROWS - 1:,} results: Excel cannot hold them in one sheet. Use the CSV export.",
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        out = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
        write_xlsx(rows, out)
        out.seek(0)
        name = filename.rsplit(".", 1)[0] + ".xlsx"
        return FileResponse(out, as_attachment=True, filename=name, content_type=XLSX_CONTENT_TYPE)
    response = StreamingHttpResponse(
        (line.encode("utf-8") for line in csv_lines(rows)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def results_csv_response(
    results: QuerySet[MessageResult], filename: str, *, with_campaign: bool = False
) -> HttpResponse:
    """A streaming CSV download of ``results`` (values as stored, UTF-8 with BOM)."""
    return results_response(results, filename, with_campaign=with_campaign)


def campaign_csv_response(campaign: Campaign, file_format: str = "csv") -> HttpResponse:
    """A download of every result of ``campaign``, as CSV or XLSX."""
    return results_response(
        campaign.results.all(), export_filename(campaign, file_format), file_format=file_format
    )


def campaigns_csv_response(campaigns: QuerySet[Campaign]) -> HttpResponse:
    """One streaming download of the results of several ``campaigns``, with a ``campaign`` column."""
    ids = sorted(campaigns.values_list("pk", flat=True))
    results = MessageResult.objects.filter(campaign_id__in=ids)
    filename = f"campaigns-{'-'.join(map(str, ids))}.csv" if len(ids) <= 5 else f"campaigns-{len(ids)}.csv"
    return results_csv_response(results, filename, with_campaign=True)


def write_campaign_export(campaign: Campaign, out: IO, file_format: str = "csv") -> int:
    """Write ``campaign``'s results to ``out`` (a text stream opened with ``newline=""`` for CSV,
    a binary one for XLSX); returns the number of result rows written."""
    rows = result_rows(campaign.results.all())
    if file_format == "xlsx":
        return write_xlsx(rows, out)
    written = 0
    for line in csv_lines(rows):
        out.write(line)
        written += 1
    return max(written - 2, 0)  # neither the BOM nor the header is a result


def write_campaign_csv(campaign: Campaign, out: IO[str]) -> int:
    """Write ``campaign``'s results to the text stream ``out`` (open it with ``newline=""``);
    returns the number of result rows written."""
    return write_campaign_export(campaign, out, "csv")
