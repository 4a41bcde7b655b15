"""Exports of results, in two formats for two readers:

- **CSV, for machines**: every value exactly as stored (``+12025550182``, ``@name``), UTF-8 with a
  byte-order mark, so it matches back into a CRM. Opened in a spreadsheet app, a cell starting
  with ``=`` ``+`` ``-`` ``@`` may be evaluated as a formula ("CSV injection", OWASP): use the
  XLSX export for people.
- **XLSX, for people**: every text cell is typed as text (no formula can run, and the value is not
  prefixed or changed), identifiers stay identifiers (no ``+`` lost, no scientific notation); an
  "About" sheet says which export this is. Excel holds at most 1,048,576 rows per sheet.

One row per :class:`~campaigns.models.MessageResult`, read as tuples with ``.iterator()`` (a
server-side cursor on PostgreSQL) and written by one ``csv.writer`` in chunks of rows, so a
campaign of a million rows is streamed in constant memory (the XLSX file is written to a temporary
file first). A whole campaign's CSV on PostgreSQL is the database's own ``COPY`` instead, the same
bytes formatted in SQL (:func:`campaign_csv_bytes`, :mod:`.csv_sql`, :mod:`.copy_stream`).
The columns are :data:`BASE_COLUMNS` (``raw_value``, ``list`` and ``row`` say where an invalid or
duplicate row with an empty ``key`` came from; ``message`` is the text as rendered for that
recipient), then the lists' personalisation fields; an export spanning campaigns starts with a
``campaign`` column.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import tempfile
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import UTC, datetime
from itertools import chain, islice
from typing import IO, Any

from django.db import connection
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import slugify

from tgcampaigns import counters

from ..content.outgoing import recipient_renderer
from ..content.variants import hold_range
from ..models import Campaign, MessageResult, RecipientKind, RecipientList, ResultStatus
from .copy_stream import copy_rows
from .csv_sql import _first_keys, _IsoText, campaign_copy_sql, lists_with_rows, personalisation_columns  # noqa: F401
from .readahead import read_ahead
from .xlsx_writer import (
    XLSX_CONTENT_TYPE,
    XLSX_MAX_ROWS,
    PeopleColumns,
    for_people,
    numeric_columns,
    write_xlsx,
)

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


_TIMES = ("created_at", "sending_at", "sent_at", "read_at", "replied_at")
# What :func:`result_rows` reads of each result (tuples, not model instances: a million rows).
_READ = (
    "key",
    "recipient__raw_value",
    "recipient__recipient_list_id",
    "recipient__row_number",
    "kind",
    "status",
    "session__name",
    "telegram_message_id",
    "error_code",
    "error_text",
    "attempts",
    *(f"{name}_text" for name in _TIMES),
    "reply_count",
    "variant",
    "fields_text",
    "campaign_id",
    "id",
)


def _rows(results: QuerySet[MessageResult]) -> Iterator[tuple]:
    """:data:`_READ` of ``results`` in id order, with the times as ISO 8601 text and the fields
    as JSON text (decoded by the caller, without Django's per-value converters)."""
    postgres = connection.vendor == "postgresql"
    # SQLite: the stored text, read without Django's converters (most of the export's time).
    times = {f"{name}_text": _IsoText(name) if postgres else Cast(name, TextField()) for name in _TIMES}
    query = (
        results.order_by("id").annotate(**times, fields_text=Cast("fields", TextField())).values_list(*_READ)
    )
    if postgres and not connection.in_atomic_block:
        # PostgreSQL reads ahead while this thread formats; in a transaction (the caller's writes
        # must be seen, as in tests) the cursor streams in this thread: a cursor in a transaction is
        # declared WITHOUT HOLD, one in autocommit WITH HOLD, which materialises the whole result first.
        yield from read_ahead(lambda: query.iterator(chunk_size=CHUNK_SIZE), CHUNK_SIZE)
        return
    rows = query.iterator(chunk_size=CHUNK_SIZE)
    if postgres:
        yield from rows
        return
    iso = sqlite_iso
    for row in rows:
        yield (*row[:11], iso(row[11]), iso(row[12]), iso(row[13]), iso(row[14]), iso(row[15]), *row[16:])


def sqlite_iso(text: str | None) -> str | None:
    """A datetime as SQLite stores it, as ``datetime.isoformat()`` gives it once Django has read
    it (naive text is UTC): Django's own ``YYYY-MM-DD HH:MM:SS[.ffffff]`` by slicing, any other
    form (an offset, milliseconds) through Django's parser."""
    if text is None:
        return None
    local = text[:-6] if text.endswith("+00:00") else text  # sqlite3's own adapter adds the offset
    if local[10:11] == " " and (
        len(local) == 19 or (len(local) == 26 and local[19] == "." and local[20:] != "000000")
    ):
        return f"{local[:10]}T{local[11:]}+00:00"
    value = parse_datetime(text)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _lists(results: QuerySet[MessageResult]) -> tuple[dict[int, str], list[dict | None]]:
    """(the names of the lists ``results`` came from by id, their import reports in id order)."""
    list_ids = results.exclude(recipient=None).values("recipient__recipient_list_id").distinct()
    lists = RecipientList.objects.filter(pk__in=list_ids).order_by("pk").values_list("pk", "name", "report")
    list_names: dict[int, str] = {}
    reports = []
    for pk, name, report in lists:
        list_names[pk] = name
        reports.append(report)
    return list_names, reports


def _lists_and_fields(results: QuerySet[MessageResult]) -> tuple[dict[int, str], list[str]]:
    """(the names of the lists ``results`` came from by id, their personalisation fields in order)."""
    list_names, reports = _lists(results)
    return list_names, personalisation_columns(results, reports)


class _CampaignsMet(dict):
    """The campaigns an export's rows belong to, loaded once each when their first row comes:
    campaign id → (name, the renderer of a variant's message, the hold-out's released rows as
    (winner, lower, upper bucket) or None)."""

    def __missing__(self, pk: int) -> tuple[str, Callable[[str], Callable[[dict], str]], tuple | None]:
        campaign = Campaign.objects.only("name", "message", "parse_mode", "variants", "split", "winner").get(
            pk=pk
        )
        renderers: dict[str, Callable[[dict], str]] = {}

        def render(variant: str) -> Callable[[dict], str]:
            if variant not in renderers:
                renderers[variant] = recipient_renderer(campaign, variant)
            return renderers[variant]

        buckets = hold_range(campaign.split or {}) if campaign.winner else None
        self[pk] = found = (campaign.name, render, buckets and (campaign.winner, *buckets))
        return found


def hold_out_variant(variant: str, pk: int, released: tuple | None) -> str:
    """``variant`` as the workbook for people shows it: "A (winner, to the hold-out)" for a row of
    an A/B test's hold-out that was sent the winner (``released``: (winner, lower, upper) buckets
    of :func:`~campaigns.content.variants.hold_range`; a row's bucket is ``(id * 37) % 100`` as
    :data:`campaigns.engine.sql.BUCKET_SQL` assigns it, so no field records it), else as stored."""
    if released and variant == released[0] and released[1] <= (pk * 37) % 100 < released[2]:
        return f"{variant} (winner, to the hold-out)"
    return variant


def result_rows(
    results: QuerySet[MessageResult], *, with_campaign: bool = False, for_people: bool = False
) -> Iterator[list]:
    """The header, then one row of values as stored per result of ``results`` (in id order);
    with ``with_campaign``, each row starts with its campaign's name. Values are what
    :func:`csv_value` makes of them, except ``None``, which stays ``None`` (csv writes it empty).
    With ``for_people``, a variant sent to an A/B test's hold-out says so (:func:`hold_out_variant`).

    Read as tuples from a server-side cursor on PostgreSQL (``.iterator()``), so memory stays
    flat; a campaign is loaded (and its template prepared) once, when its first row comes."""
    list_names, extra = _lists_and_fields(results)
    base = [CAMPAIGN_COLUMN, *BASE_COLUMNS] if with_campaign else BASE_COLUMNS
    yield base + field_headers(extra, base)

    campaigns = _CampaignsMet()
    # The database writes a JSON value with nothing around it, so raw_decode (which neither skips
    # whitespace nor looks past the value) reads it as decode would, without decode's two scans.
    decode = json.JSONDecoder().raw_decode
    # Positions in a :data:`_READ` row; it holds the base columns in their order, the list's id
    # where its name goes, then what makes the message.
    at_list, at_status, at_variant, at_fields, at_campaign, at_id = (
        _READ.index(name)
        for name in ("recipient__recipient_list_id", "status", "variant", "fields_text", "campaign_id", "id")
    )
    shown_variant = base.index("variant")
    for r in _rows(results):
        name, render, released = campaigns[r[at_campaign]]
        fields = (decode(r[at_fields])[0] if r[at_fields] else None) or {}
        list_id, key = r[at_list], r[0]
        row = [name] if with_campaign else []
        row += r[:at_list]
        row.append(list_names.get(list_id, "") if list_id is not None else None)
        row += r[at_list + 1 : at_fields]
        message = key and r[at_status] != ResultStatus.HELD
        row.append(render(r[at_variant])(fields) if message else "")
        if for_people and released:
            row[shown_variant] = hold_out_variant(r[at_variant], r[at_id], released)
        for field in extra:
            value = fields.get(field)
            row.append(value if value is None or type(value) is str else csv_value(value))
        yield row


# Base columns that name a thing rather than count it: text in the workbook for people.
_IDENTIFIERS = frozenset({CAMPAIGN_COLUMN, "key", "raw_value", "telegram_message_id", "session", "list"})


# The workbook's column titles (people read it; the CSV keeps the names above for machines).
TITLES = {
    CAMPAIGN_COLUMN: "Campaign",
    "key": "Recipient",
    "raw_value": "As written in the list",
    "list": "List",
    "row": "Row in the list",
    "kind": "Kind",
    "status": "Status",
    "session": "Session",
    "telegram_message_id": "Telegram message id",
    "error_code": "Error code",
    "error_text": "Error",
    "attempts": "Attempts",
    "created_at": "Created",
    "sending_at": "Sending started",
    "sent_at": "Sent",
    "read_at": "Read",
    "replied_at": "Replied",
    "reply_count": "Replies",
    "variant": "Variant",
    "message": "Message",
}


def people_rows(
    results: QuerySet[MessageResult], *, with_campaign: bool = False
) -> tuple[Iterator[list], dict[int, str]]:
    """:func:`result_rows` as the workbook for people shows them (:func:`campaigns.reporting.xlsx_writer.for_people`):
    columns titled (:data:`TITLES`), statuses and kinds in the pages' words ("Waiting", not
    "pending"), rows an A/B test's hold-out was sent the winner marked so; times in the active
    zone (the exporting user's); personalisation fields holding only numbers as numbers (one pass
    over the fields first); identifiers as text; no message on a skipped row, whether invalid (no
    recipient to render for) or a duplicate: it was never sent. Returns the rows and the number
    formats by column index."""
    names = _lists_and_fields(results)[1]
    rows = result_rows(results, with_campaign=with_campaign, for_people=True)
    header = next(rows)
    columns = PeopleColumns(
        zone=timezone.get_current_timezone(),
        times=frozenset(_TIMES),
        numbers=numeric_columns(
            dict(zip(names, header[len(header) - len(names) :], strict=True)),
            results.values_list("fields", flat=True).iterator(chunk_size=CHUNK_SIZE),
        ),
        texts=_IDENTIFIERS,
        unsent=("status", ResultStatus.SKIPPED, "message"),
        titles=TITLES,
        labels={"status": dict(ResultStatus.choices), "kind": dict(RecipientKind.choices)},
    )
    return for_people(chain([header], rows), columns)


def csv_chunks(rows: Iterable[list], rows_per_chunk: int = CHUNK_SIZE) -> Iterator[str]:
    """The BOM, then ``rows`` as CSV (``\\r\\n`` line ends, as RFC 4180 and Excel use), a chunk
    of ``rows_per_chunk`` lines at a time: one ``csv.writer`` writes to a buffer that is handed
    on and emptied, so a million rows cost a few hundred chunks, not a million strings."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield BOM
    it = iter(rows)
    while chunk := list(islice(it, rows_per_chunk)):
        writer.writerows(chunk)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def campaign_csv_bytes(campaign: Campaign) -> Generator[bytes, None, int]:
    """The CSV export of every result of ``campaign`` as UTF-8 bytes (BOM, header, rows); returns
    the number of rows after the header, and counts them in ``tgc_export_rows_total``. On
    PostgreSQL the rows are the database's own ``COPY`` (:mod:`.csv_sql`, :mod:`.copy_stream`)
    whenever SQL makes the same bytes; else :func:`result_rows` through :func:`csv_chunks`."""
    started, rows = time.monotonic(), 0
    try:
        plan = None
        if connection.vendor == "postgresql":
            plan = campaign_copy_sql(campaign, lists_with_rows(campaign))
        if plan is not None:
            header = io.StringIO()
            csv.writer(header).writerow(BASE_COLUMNS + field_headers(plan.fields))
            yield (BOM + header.getvalue()).encode("utf-8")
            rows = yield from copy_rows(plan.sql)
        else:
            rows = yield from _python_csv_bytes(result_rows(campaign.results.all()), counted=False)
    finally:
        counters.count_export("csv", rows, time.monotonic() - started)
    return rows


def _python_csv_bytes(rows: Iterable[list], counted: bool = True) -> Generator[bytes, None, int]:
    """:func:`csv_chunks` of ``rows`` (a header first) as UTF-8; returns the rows after the
    header, which it counts in ``tgc_export_rows_total`` unless ``counted`` is False (the caller
    counts)."""
    started, rows = time.monotonic(), _Counted(rows)
    try:
        for chunk in csv_chunks(rows):
            yield chunk.encode("utf-8")
    finally:
        if counted:
            counters.count_export("csv", rows.rows, time.monotonic() - started)
    return rows.rows


class _Counted:
    """Iterates ``rows`` (a header first), counting the rows after the header in ``rows``."""

    def __init__(self, rows: Iterable[list]) -> None:
        self.it, self.rows = iter(rows), -1

    def __iter__(self) -> Iterator[list]:
        for row in self.it:
            self.rows += 1
            yield row
        self.rows = max(self.rows, 0)


def export_filename(campaign: Campaign, file_format: str = "csv") -> str:
    return f"campaign-{campaign.pk}-{slugify(campaign.name) or 'results'}.{file_format}"


def results_response(
    results: QuerySet[MessageResult],
    filename: str,
    *,
    with_campaign: bool = False,
    file_format: str = "csv",
    chunks: Iterable[bytes] | None = None,
) -> HttpResponse:
    """A download of ``results``: ``csv`` (streamed) or ``xlsx`` (:func:`write_xlsx`); with
    ``with_campaign`` (results of several campaigns) each row starts with its campaign's name. An
    XLSX export with more rows than a sheet holds is refused (400) in favour of CSV. ``chunks``:
    the CSV's bytes when the caller made them (:func:`campaign_csv_bytes`)."""
    if file_format == "xlsx":
        if results.count() >= XLSX_MAX_ROWS:
            return HttpResponse(
                f"More than {XLSX_MAX_ROWS - 1:,} results: Excel cannot hold them in one sheet. Use the CSV export.",
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        out = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
        started = time.monotonic()
        shown, formats = people_rows(results, with_campaign=with_campaign)
        counters.count_export("xlsx", write_xlsx(shown, out, formats), time.monotonic() - started)
        out.seek(0)
        name = filename.rsplit(".", 1)[0] + ".xlsx"
        return FileResponse(out, as_attachment=True, filename=name, content_type=XLSX_CONTENT_TYPE)
    if chunks is None:
        chunks = _python_csv_bytes(result_rows(results, with_campaign=with_campaign))
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def results_csv_response(
    results: QuerySet[MessageResult], filename: str, *, with_campaign: bool = False
) -> HttpResponse:
    """A streaming CSV download of ``results`` (values as stored, UTF-8 with BOM)."""
    return results_response(results, filename, with_campaign=with_campaign)


def campaign_csv_response(campaign: Campaign, file_format: str = "csv") -> HttpResponse:
    """A download of every result of ``campaign``, as CSV or XLSX."""
    filename = export_filename(campaign, file_format)
    if file_format == "xlsx":
        return results_response(campaign.results.all(), filename, file_format=file_format)
    return results_response(campaign.results.all(), filename, chunks=campaign_csv_bytes(campaign))


def campaigns_csv_response(campaigns: QuerySet[Campaign]) -> HttpResponse:
    """One streaming download of the results of several ``campaigns``, with a ``campaign`` column."""
    ids = sorted(campaigns.values_list("pk", flat=True))
    results = MessageResult.objects.filter(campaign_id__in=ids)
    filename = f"campaigns-{'-'.join(map(str, ids))}.csv" if len(ids) <= 5 else f"campaigns-{len(ids)}.csv"
    return results_csv_response(results, filename, with_campaign=True)


def write_campaign_export(campaign: Campaign, out: IO, file_format: str = "csv") -> int:
    """Write ``campaign``'s results to ``out`` (a text stream opened with ``newline=""`` for CSV,
    a binary one for XLSX); returns the number of result rows written."""
    if file_format == "xlsx":
        shown, formats = people_rows(campaign.results.all())
        return write_xlsx(shown, out, formats)
    decoder = codecs.getincrementaldecoder("utf-8")()
    chunks = campaign_csv_bytes(campaign)
    while True:
        try:
            out.write(decoder.decode(next(chunks)))
        except StopIteration as end:
            return end.value


def write_campaign_csv(campaign: Campaign, out: IO[str]) -> int:
    """Write ``campaign``'s results to the text stream ``out`` (open it with ``newline=""``);
    returns the number of result rows written."""
    return write_campaign_export(campaign, out, "csv")
