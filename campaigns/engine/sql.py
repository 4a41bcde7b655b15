"""Bulk writes for the engine's hot paths (materialising rows, recording attempts): COPY on
PostgreSQL, multi-row INSERTs elsewhere.

Django's ``bulk_create`` prepares every value of every field through the field API, which cost
more than the sends being recorded (see bench/ceiling.py). Here values are adapted once by type and
sent as one ``INSERT … VALUES (…), (…)`` per chunk. Only for models whose omitted columns are
nullable; callers pass every NOT NULL column.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from itertools import islice

from django.db import connection
from django.db.models import Model

# SQLite allows 32766 bound parameters per statement (SQLITE_MAX_VARIABLE_NUMBER since 3.32);
# PostgreSQL 65535. Stay well below both.
MAX_PARAMS = 16_000


def adapt(value):
    """A Python value as the database driver takes it in raw SQL: datetimes as the backend stores
    them (SQLite: naive UTC text, like Django), dicts and lists as JSON text."""
    if isinstance(value, datetime):
        if connection.vendor == "sqlite":
            # What Django's adapt_datetimefield_value returns, without its per-call checks.
            return str(value.astimezone(UTC).replace(tzinfo=None)) if value.tzinfo else str(value)
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def _copy_text(value) -> str:
    """One value in PostgreSQL's COPY text format (NULL is ``\\N``; backslash, tab, newline and
    carriage return escaped)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_rows(table: str, cols: str, rows: Iterable[Sequence], chunk_rows: int = 50_000) -> int:
    """PostgreSQL: ``COPY … FROM STDIN`` in chunks, several times faster than INSERTs."""
    total = 0
    it = iter(rows)
    with connection.cursor() as cursor:
        while chunk := list(islice(it, chunk_rows)):
            text = "".join("\t".join(_copy_text(v) for v in row) + "\n" for row in chunk)
            cursor.cursor.copy_expert(f"COPY {table} ({cols}) FROM STDIN", io.StringIO(text))
            total += len(chunk)
    return total


def insert_rows(model: type[Model], columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert ``rows`` (tuples in ``columns`` order; ``columns`` are attnames such as
    ``campaign_id``) into ``model``'s table: COPY on PostgreSQL, multi-row INSERTs elsewhere.
    Returns the number of rows inserted."""
    table = connection.ops.quote_name(model._meta.db_table)
    by_attname = {f.attname: f.column for f in model._meta.concrete_fields}
    cols = ", ".join(connection.ops.quote_name(by_attname[c]) for c in columns)
    if connection.vendor == "postgresql":
        return _copy_rows(table, cols, rows)
    per_row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    chunk_rows = max(1, MAX_PARAMS // len(columns))
    total = 0
    it = iter(rows)
    with connection.cursor() as cursor:
        while chunk := list(islice(it, chunk_rows)):
            params = [adapt(v) for row in chunk for v in row]
            cursor.execute(f"INSERT INTO {table} ({cols}) VALUES {', '.join([per_row] * len(chunk))}", params)
            total += len(chunk)
    return total


def _random_bigint() -> str:
    """SQL for a random signed 64-bit integer (an MTProto random_id), per row."""
    if connection.vendor == "postgresql":
        # random() has 52 bits of precision: two 32-bit draws make the 64.
        return (
            "((floor(random() * 4294967296)::bigint - 2147483648) * 4294967296"
            " + floor(random() * 4294967296)::bigint)"
        )
    return "random()"  # SQLite: a random signed 64-bit integer


def _ranked_recipients(list_ids: list[int], chosen: tuple[str, list] | None = None) -> tuple[str, list]:
    """The recipients of ``list_ids`` as materialising reads them, as SQL and its parameters: each
    row with ``first`` (1: the first valid row of its key, in list and row order, and of its
    person where an earlier list links one of its identities) and
    ``suppressed`` (1: a valid row whose key, or another identity of the row, is on the
    suppression list). ``chosen``: (SQL selecting recipient ids, parameters), the rows of the
    campaign's segments (:func:`segment_rows`), read beside the lists' rows in the same statement."""
    from ..models import Recipient, RecipientIdentity, Suppression

    recipients = connection.ops.quote_name(Recipient._meta.db_table)
    suppressions = connection.ops.quote_name(Suppression._meta.db_table)
    identities = connection.ops.quote_name(RecipientIdentity._meta.db_table)
    lists = ", ".join(["%s"] * len(list_ids))
    valid = Recipient.Status.VALID
    if chosen is None:
        where, where_params, head, head_params = f"c.recipient_list_id IN ({lists})", list(list_ids), "", []
        member, member_params = f"e.recipient_list_id IN ({lists})", list(list_ids)
    else:
        # The lists' rows and the segments' rows, once (a CTE: the linked check below reads it too).
        of_lists = (
            f"SELECT id FROM {recipients} WHERE recipient_list_id IN ({lists}) UNION " if list_ids else ""
        )
        head, head_params = f"WITH chosen AS ({of_lists}{chosen[0]}) ", [*list_ids, *chosen[1]]
        where, where_params = "c.id IN (SELECT id FROM chosen)", []
        member, member_params = "e.id IN (SELECT id FROM chosen)", []
    # One person in two lists under different keys that a list links (@anna with her phone as a
    # second identity in one list, the phone as the key in another): a row is not first when an
    # earlier list holds a valid row whose key is one of its identities, or whose identities hold
    # its key. (Within one list the import found these already.)
    linked, linked_params = "", []
    if len(list_ids) > 1 or chosen is not None:
        earlier = f"{member} AND e.status = %s AND e.recipient_list_id < c.recipient_list_id"
        linked = f"""
                        AND NOT EXISTS (SELECT 1 FROM {identities} i JOIN {recipients} e ON e.id = i.recipient_id
                                         WHERE i.key = c.key AND {earlier})
                        AND NOT EXISTS (SELECT 1 FROM {identities} i JOIN {recipients} e ON e.key = i.key
                                         WHERE i.recipient_id = c.id AND {earlier})"""
        linked_params = [*member_params, valid, *member_params, valid]
    sql = f"""
            {head}SELECT c.*,
                   CASE WHEN c.status = %s AND ROW_NUMBER() OVER (
                        PARTITION BY CASE WHEN c.status = %s THEN c.key END
                        ORDER BY c.recipient_list_id, c.row_number) = 1{linked} THEN 1 ELSE 0 END AS first,
                   CASE WHEN c.status = %s AND (
                        EXISTS (SELECT 1 FROM {suppressions} s WHERE s.key = c.key)
                        OR EXISTS (SELECT 1 FROM {identities} i JOIN {suppressions} s ON s.key = i.key
                                    WHERE i.recipient_id = c.id))
                        THEN 1 ELSE 0 END AS suppressed
              FROM {recipients} c
             WHERE {where}
    """
    return sql, [*head_params, valid, valid, *linked_params, valid, *where_params]


def segment_rows(querysets) -> tuple[str, list] | None:
    """(SQL selecting the ids of the rows of every queryset of ``querysets`` — the segments'
    :meth:`~campaigns.models.Segment.recipients` —, parameters), one UNION; None for none."""
    parts, params = [], []
    for n, rows in enumerate(querysets):
        sql, found = rows.order_by().values("id").query.sql_with_params()
        parts.append(f"SELECT s{n}.id FROM ({sql}) s{n}")
        params += list(found)
    return (" UNION ".join(parts), params) if parts else None


def count_materialised(list_ids: list[int], chosen: tuple[str, list] | None = None) -> dict[str, int]:
    """What :func:`materialise_rows` would write for ``list_ids``, counted without writing (the
    launch summary): {"to_send", "invalid", "no_consent", "duplicate", "suppressed", "total"},
    each row in one of the first five (``invalid``: malformed lines, ``no_consent``: lines the
    list's consent or opt-out column refused). One read of the lists' recipients (and of the
    segments' rows, ``chosen``: :func:`segment_rows`)."""
    from ..models import Recipient
    from ..models.lists import no_consent_sql

    counts = dict.fromkeys(("to_send", "invalid", "no_consent", "duplicate", "suppressed", "total"), 0)
    if not list_ids and chosen is None:
        return counts
    ranked, params = _ranked_recipients(list_ids, chosen)
    invalid = Recipient.Status.INVALID
    refused, refused_params = no_consent_sql("r.error")
    sql = f"""
        SELECT SUM(CASE WHEN r.first = 1 AND r.suppressed = 0 THEN 1 ELSE 0 END),
               SUM(CASE WHEN r.status = %s AND NOT {refused} THEN 1 ELSE 0 END),
               SUM(CASE WHEN r.status = %s AND {refused} THEN 1 ELSE 0 END),
               SUM(CASE WHEN r.status <> %s AND r.first = 0 THEN 1 ELSE 0 END),
               SUM(CASE WHEN r.first = 1 AND r.suppressed = 1 THEN 1 ELSE 0 END),
               COUNT(*)
          FROM ({ranked}) r
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [invalid, *refused_params, invalid, *refused_params, invalid, *params])
        row = cursor.fetchone()
    return dict(zip(counts, (int(v or 0) for v in row), strict=True))


def _skip_code() -> tuple[str, list]:
    """(SQL giving the error code a materialised row gets, over the ranked recipient ``r``, its
    parameters): ``NO_CONSENT`` for an invalid line its list's consent or opt-out column refused
    (:func:`campaigns.models.lists.no_consent_sql`: the LIKEs run on invalid rows only, the CASE
    tests the status first), ``INVALID_RECIPIENT`` for any other invalid line,
    ``DUPLICATE_RECIPIENT`` for a later row of the same person, ``SUPPRESSED`` for one who opted
    out, "" for a row to send."""
    from ..models import CODE_DUPLICATE, CODE_INVALID, CODE_NO_CONSENT, CODE_SUPPRESSED, Recipient
    from ..models.lists import no_consent_sql

    invalid = Recipient.Status.INVALID
    refused, refused_params = no_consent_sql("r.error")
    sql = f"""CASE WHEN r.status = %s AND {refused} THEN %s
                    WHEN r.status = %s THEN %s
                    WHEN r.first = 0 THEN %s WHEN r.suppressed = 1 THEN %s ELSE '' END"""
    return sql, [
        invalid,
        *refused_params,
        CODE_NO_CONSENT,
        invalid,
        CODE_INVALID,
        CODE_DUPLICATE,
        CODE_SUPPRESSED,
    ]


def materialise_rows(
    campaign_id: int,
    list_ids: list[int],
    now: datetime,
    texts: dict[str, str],
    zone: tuple[str, list] = ("''", []),
    chosen: tuple[str, list] | None = None,
) -> int:
    """One ``INSERT … SELECT`` that writes a campaign's rows from its lists' recipients, set-based
    (memory flat, no row through Python): the first valid row of each key, in list and row order,
    is ``pending`` (or ``skipped`` as suppressed), every other row ``skipped`` with its reason and
    code (:func:`_skip_code`: ``NO_CONSENT`` apart from ``INVALID_RECIPIENT``). ``texts``: error
    texts by code (``duplicate``, ``suppressed``). ``zone``: (SQL expression over
    the recipient ``r``, its parameters) giving a pending row its ``time_zone`` (quiet hours:
    :func:`.zones.zones_at_insert`). ``chosen``: the segments' rows (:func:`segment_rows`), evaluated
    here, once, inside the same statement. Returns the rows written."""
    from ..models import MessageResult, Recipient, ResultStatus

    if not list_ids and chosen is None:
        return 0
    results = connection.ops.quote_name(MessageResult._meta.db_table)
    invalid, duplicate = Recipient.Status.INVALID, Recipient.Status.DUPLICATE
    ranked, ranked_params = _ranked_recipients(list_ids, chosen)
    code, code_params = _skip_code()
    sql = f"""
        INSERT INTO {results} (campaign_id, recipient_id, key, dedupe_key, kind, fields, status, session_id,
                               random_id, error_code, error_text, attempts, in_doubt, claimed_by,
                               created_at, updated_at, time_zone)
        SELECT %s, r.id, r.key,
               CASE WHEN r.first = 1 THEN r.key END,
               r.kind, r.fields,
               CASE WHEN r.first = 1 AND r.suppressed = 0 THEN %s ELSE %s END,
               NULL, {_random_bigint()},
               {code},
               CASE WHEN r.status = %s THEN r.error
                    WHEN r.first = 0 AND r.status = %s AND r.error <> '' THEN r.error
                    WHEN r.first = 0 THEN %s
                    WHEN r.suppressed = 1 THEN %s ELSE '' END,
               0, %s, '', %s, %s,
               CASE WHEN r.first = 1 AND r.suppressed = 0 THEN {zone[0]} ELSE '' END
          FROM ({ranked}) r
         ORDER BY r.recipient_list_id, r.row_number
    """
    params = [campaign_id, ResultStatus.PENDING, ResultStatus.SKIPPED, *code_params]
    params += [invalid, duplicate, texts["duplicate"], texts["suppressed"], False]
    params += [adapt(now), adapt(now), *zone[1], *ranked_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        written = cursor.rowcount
    _analyze_after(results, written)
    return written


def _analyze_after(table: str, written: int) -> None:
    """PostgreSQL, after a large write: fresh statistics for ``table``. The engine's statements on
    the new rows start at once; without them the planner takes a new million rows for none and
    picks nested loops over them."""
    if connection.vendor == "postgresql" and written > 10_000:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")


# A row's bucket for the A/B split: 37 is prime to 100, so every 100 consecutive ids fill the 100
# buckets once each (the shares hold exactly over each run of 100 rows) and the result depends on
# the row alone (a launch prepared twice assigns the same).
BUCKET_SQL = "((id * 37) %% 100)"  # %% : a literal % beside the query's parameters


def assign_variants(campaign_id: int, bounds: list[tuple[str, int]], now: datetime) -> int:
    """One UPDATE giving each ``pending`` row of the campaign its A/B variant by its bucket
    (:data:`BUCKET_SQL`) against ``bounds`` ((label or "hold", cumulative percent) in order, as
    :func:`campaigns.content.variants.cumulative` gives them): rows of the hold-out become
    ``held`` with no variant. Returns the rows updated."""
    from ..content.variants import HOLD
    from ..models import MessageResult, ResultStatus

    if not bounds:
        return 0
    table = connection.ops.quote_name(MessageResult._meta.db_table)
    variant_cases, params = [], []
    for name, upper in bounds:
        variant_cases.append(f"WHEN {BUCKET_SQL} < %s THEN %s")
        params += [upper, "" if name == HOLD else name]
    hold_upper = [
        (lower, upper) for (lower, (name, upper)) in zip([0] + [u for _, u in bounds], bounds) if name == HOLD
    ]
    status_sql, status_params = "status", []
    if hold_upper:
        lower, upper = hold_upper[0]
        status_sql = f"CASE WHEN {BUCKET_SQL} >= %s AND {BUCKET_SQL} < %s THEN %s ELSE status END"
        status_params = [lower, upper, ResultStatus.HELD]
    sql = (
        f"UPDATE {table} SET variant = CASE {' '.join(variant_cases)} ELSE '' END, "
        f"status = {status_sql}, updated_at = %s WHERE campaign_id = %s AND status = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params + status_params + [adapt(now), campaign_id, ResultStatus.PENDING])
        return cursor.rowcount
