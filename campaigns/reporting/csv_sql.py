"""The whole-campaign CSV export as one PostgreSQL query, for ``COPY (…) TO STDOUT WITH CSV``:
every cell formatted by the database exactly as :func:`campaigns.reporting.exports.result_rows`
and Python's ``csv`` module write it, so the two paths give the same bytes (held equal by
``tests/test_export_copy.py``).

What Python does per value is done here in SQL: empty text is written as NULL (``COPY`` quotes a
non-NULL empty string, ``csv`` writes it bare), times as ``datetime.isoformat()`` in UTC, the
message rendered from the template's plan (:func:`campaigns.content.fast_render._plan`: literal
text and ``{{ name }}`` / ``{{ name|default:"…" }}``) with the same escaping (HTML), Markdown
neutralisation and cut at :data:`~campaigns.content.sandbox.RENDER_MAX`.

:func:`campaign_copy_sql` answers None, and the caller keeps the Python path, for what SQL cannot
render alike: a wording with tags or filters, or personalisation values Python would print
differently than PostgreSQL (objects, arrays, numbers Python writes with an exponent, zero, which
may have been ``-0.0``). Line ends: ``COPY`` ends rows with ``\\n``; the caller turns them into
``\\r\\n`` (:mod:`campaigns.reporting.copy_stream`).

Also the SQL both paths share: the personalisation columns of a selection of results
(:func:`personalisation_columns`) and timestamps as ISO text (:class:`_IsoText`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import CharField, Func, QuerySet

from sessions_app.models import TelegramSession

from ..content import template, variants
from ..content.fast_render import _plan
from ..content.outgoing import recipient_renderer
from ..content.variables import _alias
from ..models import Campaign, MessageResult, Recipient, RecipientList, ResultStatus


def personalisation_columns(
    results: QuerySet[MessageResult], reports: Iterable[dict | None] = ()
) -> list[str]:
    """The personalisation field names of ``results``, in order of first appearance.

    Rows of one list share their columns, but a campaign may span lists with different columns,
    so the union is taken over every row (one pass over the JSON column only). ``reports``: the
    lists' import reports, whose ``columns`` (the lists' own column order) come first, since
    PostgreSQL's jsonb does not keep a row's key order. On PostgreSQL the pass runs in the
    database (:func:`_first_keys_sql`); elsewhere in Python.
    """
    seen: dict[str, None] = {}
    for report in reports:
        for name in (report or {}).get("columns", []):
            seen.setdefault(str(name), None)
    names = _first_keys_sql(results) if connection.vendor == "postgresql" else _first_keys(results)
    for name in names:
        seen.setdefault(str(name), None)
    return list(seen)


def _first_keys(results: QuerySet[MessageResult]) -> Iterator[str]:
    """The keys of ``results``' fields, in order of first appearance (id order, then each row's
    own key order), read row by row."""
    for fields in results.order_by("id").values_list("fields", flat=True).iterator(chunk_size=2000):
        yield from fields or {}


def _first_keys_sql(results: QuerySet[MessageResult]) -> list[str]:
    """:func:`_first_keys` as one PostgreSQL query: each key with the first row holding it,
    in that order; keys first met in the same row in jsonb's own key order (shorter keys first,
    then by their bytes), which is the order a row's keys are read back in. Rows whose fields are
    no JSON object hold no keys (and a selection Django knows to be empty, none)."""
    try:
        inner, params = results.order_by().values("id", "fields").query.sql_with_params()
    except EmptyResultSet:  # e.g. an id filter no row can match (?id=1e30)
        return []
    sql = (
        f"SELECT k.key FROM ({inner}) AS r, LATERAL jsonb_object_keys(r.fields) AS k(key) "
        "WHERE jsonb_typeof(r.fields) = 'object' "
        'GROUP BY k.key ORDER BY min(r.id), octet_length(k.key), k.key COLLATE "C"'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [key for (key,) in cursor.fetchall()]


class _IsoText(Func):
    """A timestamp as the text ``datetime.isoformat()`` gives for it in UTC, made by PostgreSQL
    (``2025-03-01T12:00:05.250000+00:00``; no fraction when it is zero), so a million rows are
    not parsed into datetimes only to be formatted back."""

    output_field = CharField()
    template = (
        "CASE WHEN date_trunc('second', %(expressions)s) = %(expressions)s "
        "THEN to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"') "
        "ELSE to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"') END"
    )


_ZWSP = "\u200b"
_TIMES = ("created_at", "sending_at", "sent_at", "read_at", "replied_at")
# One column's value (the column's name is the parameter) that PostgreSQL would not print as Python.
_UNSAFE_COLUMN = (
    "(CASE coalesce(jsonb_typeof(r.fields -> %s), 'null') WHEN 'string' THEN false WHEN 'null' THEN false "
    "WHEN 'boolean' THEN false WHEN 'number' THEN abs((r.fields ->> %s)::numeric) NOT BETWEEN 0.0001 AND 9999999999999999 "
    "ELSE true END)"
)
# Rows holding a personalisation value PostgreSQL would not print as Python does (objects, arrays,
# numbers Python writes with an exponent, and zero, which may have been -0.0), or fields that are
# no JSON object (a jsonpath filter over each row's values).
_UNSAFE_ROW = (
    "jsonb_typeof(r.fields) NOT IN ('object', 'null') OR r.fields @? "
    '\'$.* ? (@.type() == "object" || @.type() == "array" || '
    '(@.type() == "number" && (@.abs() >= 1e16 || @.abs() < 0.0001)))\''
)


class CopyPlan(NamedTuple):
    """The export's personalisation field names (in the export's order) and the query's SQL."""

    fields: list[str]
    sql: str  # complete: no parameters (COPY takes none), so no "%" is special in it


def literal(text: str) -> str:
    """``text`` as a PostgreSQL string literal (standard_conforming_strings: quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


def lists_with_rows(campaign: Campaign) -> list[dict | None]:
    """The import reports of the campaign's lists that rows of it came from, in id order: what
    :func:`~campaigns.reporting.exports._lists` finds by reading every row, from the campaign's
    lists (fixed at launch) with one indexed look-up each."""
    reports = []
    for pk, report in campaign.lists.order_by("pk").values_list("pk", "report"):
        if MessageResult.objects.filter(campaign=campaign, recipient__recipient_list_id=pk).exists():
            reports.append(report)
    return reports


def fields_and_safety(campaign: Campaign, reports: Iterable[dict | None]) -> tuple[list[str], bool]:
    """(the personalisation field names of the campaign's rows, in the order of
    :func:`personalisation_columns`; whether every value is one SQL prints as Python does).

    When every key of every row is a column of the lists' reports (an imported list's rows hold
    its columns), one pass over the rows answers both, looking up each column's value: the names
    are those columns, in order. Otherwise the keys are read as :func:`personalisation_columns`
    does, and every value is checked (:data:`_UNSAFE_ROW`)."""
    columns = list(
        dict.fromkeys(str(name) for report in reports for name in (report or {}).get("columns", []))
    )
    table = MessageResult._meta.db_table
    unsafe_values = " OR ".join([_UNSAFE_COLUMN] * len(columns)) or "false"
    sql = (
        f"SELECT bool_or(jsonb_typeof(r.fields) NOT IN ('object', 'null') OR {unsafe_values}), "
        f"bool_or(jsonb_typeof(r.fields) = 'object' AND (r.fields - %s::text[]) <> '{{}}'::jsonb) "
        f"FROM {table} r WHERE r.campaign_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*(name for name in columns for _ in range(2)), columns, campaign.pk])
        unsafe, other_keys = cursor.fetchone()
        if other_keys and not unsafe:
            cursor.execute(
                f"SELECT bool_or({_UNSAFE_ROW}) FROM {table} r WHERE r.campaign_id = %s", [campaign.pk]
            )
            (unsafe,) = cursor.fetchone()
    if other_keys:
        columns = personalisation_columns(campaign.results.all(), reports)
    return columns, not unsafe


def _python_str(value: str) -> str:
    """SQL: ``str(value)`` of a decoded JSON value (``value``: a jsonb expression), None as ""."""
    return (
        f"(CASE jsonb_typeof({value}) WHEN 'boolean' THEN CASE WHEN {value} = 'true'::jsonb "
        f"THEN 'True' ELSE 'False' END ELSE coalesce({value} #>> '{{}}', '') END)"
    )


def _variable(name: str, fields: list[str]) -> str:
    """SQL: what :func:`~campaigns.content.variables.fields_context` gives variable ``name``: the
    column of that header, else the first column (in jsonb's key order, the order Python reads
    a row's keys in) whose alias it is, else ""."""
    headers = [name] + sorted(
        (h for h in fields if h != name and _alias(h) == name), key=lambda h: (len(h.encode()), h.encode())
    )
    whens = " ".join(
        f"WHEN r.fields ? {literal(h)} THEN {_python_str(f'r.fields -> {literal(h)}')}" for h in headers
    )
    return f"(CASE {whens} ELSE '' END)"


def _neutralised(value: str) -> str:
    """SQL: :func:`~campaigns.content.fast_render.neutralise_markdown` of the text ``value``."""
    value = f"replace({value}, '`', {literal(chr(0x02CB))})"
    for c in "*_~":  # twice: "***" → "*​*​*", as the regex's lookahead does
        pair, split = literal(c + c), literal(c + _ZWSP + c)
        value = f"replace(replace({value}, {pair}, {split}), {pair}, {split})"
    value = f"replace({value}, '](', {literal(']' + _ZWSP + '(')})"
    z = literal(_ZWSP)
    value = f"(CASE WHEN left({value}, 1) IN ('*', '_', '~', '(') THEN {z} || {value} ELSE {value} END)"
    return f"(CASE WHEN right({value}, 1) IN ('*', '_', '~', ']') THEN {value} || {z} ELSE {value} END)"


def _escaped(value: str) -> str:
    """SQL: Django's ``conditional_escape`` of the text ``value``."""
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;")):
        value = f"replace({value}, {literal(raw)}, {literal(entity)})"
    return value


def _plan_sql(plan: tuple, parse_mode: str, fields: list[str]) -> str:
    """SQL: :func:`~campaigns.content.fast_render._render_plan` of ``plan`` for the row."""
    limit = template.RENDER_MAX
    pieces = []
    for part in plan:
        if type(part) is str:
            pieces.append(literal(part))
            continue
        name, default = part
        value = _variable(name, fields)
        if parse_mode == "markdown":
            value = _neutralised(value)
        escape = _escaped if parse_mode == "html" else (lambda v: v)
        if default is None:
            pieces.append(escape(value))
        else:  # the |default literal is safe (never escaped); the filter's output is cut
            pieces.append(
                f"(CASE WHEN {value} = '' THEN {literal(default[:limit])} ELSE {escape(f'left({value}, {limit})')} END)"
            )
    return f"left({' || '.join(pieces) or literal('')}, {limit})"


def _wording_sql(campaign: Campaign, label: str, fields: list[str]) -> str | None:
    """SQL: the message of A/B variant ``label`` for the row, or None when SQL cannot render it."""
    try:
        source = variants.text_of(campaign.message, campaign.variants, label)
        plan = _plan(source)
        alike = template.renders_alike(source)
    except (KeyError, template.MessageError):  # the renderer's own "(…)" text, the same for all
        return literal(recipient_renderer(campaign, label)({}))
    if alike:
        return literal(str(recipient_renderer(campaign, label)({})))
    if plan is None:
        return None
    return _plan_sql(plan, campaign.parse_mode, fields)


def _message_sql(campaign: Campaign, fields: list[str]) -> str | None:
    wordings = {}
    for label in ("", *variants.LABELS):
        wordings[label] = _wording_sql(campaign, label, fields)
        if wordings[label] is None:
            return None
    whens = " ".join(f"WHEN {literal(label)} THEN {sql}" for label, sql in wordings.items())
    unknown = "'(the campaign has no variant ' || r.variant || ')'"
    rendered = f"(CASE r.variant {whens} ELSE {unknown} END)"
    return f"(CASE WHEN r.key <> '' AND r.status <> {literal(ResultStatus.HELD)} THEN {rendered} END)"


def _iso(column: str) -> str:
    """SQL: ``datetime.isoformat()`` of a timestamp in UTC, as :class:`_IsoText`."""
    return _IsoText.template % {"expressions": column}


def campaign_copy_sql(campaign: Campaign, reports: Iterable[dict | None]) -> CopyPlan | None:
    """The query whose ``COPY … WITH CSV`` is the body of the campaign's CSV export (the lines
    after the header), or None when SQL cannot make the same bytes (see the module docstring).
    ``reports``: the import reports of the lists the rows came from (their column order)."""
    fields, safe = fields_and_safety(campaign, reports)
    # The wording as stored now, as the Python path reads it (not as the caller's copy holds it).
    campaign = Campaign.objects.only("message", "parse_mode", "variants").get(pk=campaign.pk)
    message = _message_sql(campaign, fields) if safe else None
    if message is None:
        return None
    text = "NULLIF({}, '')".format
    columns = [
        text("r.key"),
        text("rc.raw_value"),
        text("rl.name"),
        "rc.row_number",
        text("r.kind"),
        text("r.status"),
        text("s.name"),
        "r.telegram_message_id",
        text("r.error_code"),
        text("r.error_text"),
        "r.attempts",
        *(_iso(f"r.{name}") for name in _TIMES),
        "r.reply_count",
        text("r.variant"),
        text(message),
        *(text(f"r.fields ->> {literal(name)}") for name in fields),
    ]
    sql = (
        f"SELECT {', '.join(columns)} FROM {MessageResult._meta.db_table} r "
        f"LEFT JOIN {Recipient._meta.db_table} rc ON rc.id = r.recipient_id "
        f"LEFT JOIN {RecipientList._meta.db_table} rl ON rl.id = rc.recipient_list_id "
        f"LEFT JOIN {TelegramSession._meta.db_table} s ON s.id = r.session_id "
        f"WHERE r.campaign_id = {int(campaign.pk)} ORDER BY r.id"
    )
    return CopyPlan(fields, sql)
