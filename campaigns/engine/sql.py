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
from datetime import datetime
from itertools import islice

from django.db import connection
from django.db.models import Model

# SQLite allows 32766 bound parameters per statement (SQLITE_MAX_VARIABLE_NUMBER since 3.32);
# PostgreSQL 65535. Stay well below both.
MAX_PARAMS = 16_000


def _adapt(value):
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
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
            params = [_adapt(v) for row in chunk for v in row]
            cursor.execute(f"INSERT INTO {table} ({cols}) VALUES {', '.join([per_row] * len(chunk))}", params)
            total += len(chunk)
    return total
