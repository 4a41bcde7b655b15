"""Writing imported rows: ``Recipient`` rows and their other identities, a batch at a time.

Django's ``bulk_create`` prepares every value of every field through the field API and, to link
other identities to their recipient, needs the new ids back; on a million rows that was 42% of
an import (bench/import.py). Here ids are reserved first (PostgreSQL: ``nextval`` of the table's
sequence; SQLite: above the highest id and the AUTOINCREMENT counter, inside the write
transaction, which SQLite's IMMEDIATE mode holds alone), then rows go out as ``COPY … FROM
STDIN`` in CSV format on PostgreSQL (written by the C ``csv`` module) and as one ``executemany``
INSERT on SQLite.

Callers run :meth:`RowWriter.flush` inside a transaction.
"""

from __future__ import annotations

import csv
import io
import json
import queue
import threading

from django.db import connection
from django.utils import timezone

from ..models import Recipient, RecipientIdentity, RecipientTag, Tag, tag_key
from .search import name_keys

RECIPIENT_COLUMNS = (
    "id",
    "recipient_list_id",
    "row_number",
    "raw_value",
    "key",
    "kind",
    "status",
    "error",
    "fields",
    "name_key",
    "surname_key",
)
IDENTITY_COLUMNS = ("recipient_id", "key", "kind")
TAG_COLUMNS = ("recipient_id", "tag_id", "created_at")


class RowWriter:
    """Collects rows of one list and writes them on :meth:`flush`.

    :meth:`add` takes one row as (row_number, raw_value, key, kind, status, error, fields dict),
    its other identities as [(key, kind), …] and its tags' names. A batch's tags are found or
    created at once (:meth:`TagQuerySet.named`) and linked in one more bulk write."""

    def __init__(self, list_id: int):
        self.list_id = list_id
        self.rows: list[tuple] = []
        self.identities: list[tuple[int, list[tuple[str, str]]]] = []  # (index in rows, identities)
        self.tags: list[tuple[int, list[str]]] = []  # (index in rows, tag names)

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, row: tuple, others: list[tuple[str, str]], tags: list[str] | tuple = ()) -> None:
        if others:
            self.identities.append((len(self.rows), others))
        if tags:
            self.tags.append((len(self.rows), list(tags)))
        self.rows.append(row)

    def take(self) -> tuple:
        """The rows collected so far (for another writer's :meth:`put`); this one is emptied."""
        batch = (self.rows, self.identities, self.tags)
        self.rows, self.identities, self.tags = [], [], []
        return batch

    def put(self, batch: tuple) -> None:
        self.rows, self.identities, self.tags = batch

    def flush(self) -> None:
        if not self.rows:
            return
        ids = _reserve_ids(len(self.rows))
        dumps = json.JSONEncoder(ensure_ascii=False).encode
        recipients = [
            (pk, self.list_id, n, raw, key, kind, status, error, dumps(fields), *name_keys(fields))
            for pk, (n, raw, key, kind, status, error, fields) in zip(ids, self.rows)
        ]
        others = [(ids[i], key, kind) for i, identities in self.identities for key, kind in identities]
        _insert(Recipient, RECIPIENT_COLUMNS, recipients)
        if others:
            _insert(RecipientIdentity, IDENTITY_COLUMNS, others)
        if self.tags:
            _insert(RecipientTag, TAG_COLUMNS, _tag_links(ids, self.tags))
        self.rows.clear()
        self.identities.clear()
        self.tags.clear()


def _tag_links(ids: list[int], tags: list[tuple[int, list[str]]]) -> list[tuple]:
    """(recipient_id, tag_id, created_at) for each row's tags, once per row and tag; the batch's
    tags are found or created in one go."""
    keys = {n: tag_key(n) for _i, names in tags for n in names}  # each distinct name once
    found = {tag.key: tag.pk for tag in Tag.objects.named(list(keys))}
    ids_of = {n: found[k] for n, k in keys.items() if k in found}
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    links = {(ids[i], ids_of[n]) for i, names in tags for n in names if n in ids_of}
    return [(recipient_id, tag_id, now) for recipient_id, tag_id in sorted(links)]


def _table(model) -> str:
    return model._meta.db_table


def _reserve_ids(count: int) -> list[int]:
    """``count`` ids no other writer will use (module docstring)."""
    table = _table(Recipient)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # An identity column owns a sequence too. Concurrent imports may interleave: the ids
            # need not be consecutive.
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return [pk for (pk,) in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
        highest = cursor.fetchone()[0]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        counter = cursor.fetchone()
        first = max(highest, counter[0] if counter else 0) + 1
        return list(range(first, first + count))


def _insert(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    table = connection.ops.quote_name(_table(model))
    by_attname = {f.attname: f.column for f in model._meta.concrete_fields}
    names = [connection.ops.quote_name(by_attname[c]) for c in columns]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows(rows)
            buffer.seek(0)
            # No column is NULL: an empty unquoted value is the empty string, not NULL.
            cursor.cursor.copy_expert(
                f"COPY {table} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL ({', '.join(names)}))",
                buffer,
            )
            return
        placeholders = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders})", rows)


class BackgroundWriter:
    """Writes batches on a second database connection, in a thread, while the caller reads the
    next rows (issue 17 "Speed and memory": reading and writing overlap on two cores; the server's
    COPY and index work and the socket wait no longer stop the reading).

    Each batch is committed on its own (a worker's import, ``atomic=False``), so the list's row
    must be committed before the first batch. :meth:`send` takes the rows a :class:`RowWriter`
    collected (and empties it); at most ``depth`` batches wait. :meth:`close` waits for the
    writes and raises the first error of the thread (then later batches are not written)."""

    def __init__(self, list_id: int, depth: int = 1):
        self.list_id = list_id
        self.batches: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"import-writer-{list_id}", daemon=True)
        self.thread.start()

    def send(self, writer: RowWriter) -> None:
        if self.error is not None:
            raise self.error
        self.batches.put(writer.take())

    def close(self) -> None:
        self.abandon()
        if self.error is not None:
            raise self.error

    def abandon(self) -> None:
        """Wait for the thread to end (the reading failed: its error is the one to raise)."""
        self.batches.put(None)
        self.thread.join()

    def _run(self) -> None:
        from django.db import transaction

        try:
            while (batch := self.batches.get()) is not None:
                if self.error is not None:
                    continue  # drain, so the reader never blocks on a full queue
                try:
                    writer = RowWriter(self.list_id)
                    writer.put(batch)
                    with transaction.atomic():
                        writer.flush()
                except BaseException as exc:  # handed to the reading thread by send() / close()
                    self.error = exc
        finally:
            connection.close()  # this thread's own connection
