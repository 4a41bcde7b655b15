"""Adding or updating recipients of a list by identity, a batch at a time (the API's upsert).

Each entry names a person by any of ``username``, ``phone``, ``user_id`` and carries ``fields``
for personalisation. Entries are read exactly as a file's rows are (:class:`.rows.RowReader`:
the same normalisation, identity order, de-duplication and notes), with the list's default
region. Then, for each valid entry:

- a person the list already holds under **any** of the entry's identities is updated: the
  entry's fields are merged into theirs and its other identities are added to them; an entry
  whose identities are on two of the list's rows names two people and is invalid;
- anyone else is added as a new row after the list's last one.

Invalid entries, entries of an erased person, and later spellings of a person already in the
batch are reported (as a file's problems are) and not stored. The list's counts are recounted.
One transaction, the list's row locked, so two batches for one list are applied one after the
other.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Max

from ..models import ImportStatus, Recipient, RecipientIdentity, RecipientList
from ..models.privacy import ERASED_TEXT, ErasedIdentity, is_erased
from .columns import FIELD
from .importing import MAX_PROBLEMS
from .limits import Limits
from .mapping import Mapping
from .normalise import KINDS, PHONE, USER_ID, USERNAME
from .rows import DUPLICATE, INVALID, VALID, RowReader
from .search import name_keys
from .writing import RowWriter

MAX_BATCH = 10_000
IDENTITY_FIELDS = (USERNAME, PHONE, USER_ID)
UPDATE_BATCH = 1000


class UpsertRefused(ValueError):
    """The list cannot take recipients now (its file import is under way); for the client."""


@dataclass(frozen=True)
class UpsertReport:
    """What one batch did: entries ``created``, ``updated``, ``invalid``, ``duplicate`` (a
    person named twice in the batch) out of ``total``; ``problems`` as an import's
    (``{"row", "value", "status", "error"}``, ``row`` the entry's 1-based position), the first
    :data:`.importing.MAX_PROBLEMS` of them."""

    total: int
    created: int
    updated: int
    invalid: int
    duplicate: int
    problems: tuple[dict[str, Any], ...] = ()
    problems_truncated: bool = False
    created_ids: tuple[int, ...] = field(default=(), repr=False)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = list(self.problems)
        del data["created_ids"]
        return data


def upsert_recipients(recipient_list: RecipientList, entries: list[dict[str, Any]]) -> UpsertReport:
    """Apply ``entries`` (each ``{"username"?, "phone"?, "user_id"?, "fields"?: {name: value}}``,
    at most :data:`MAX_BATCH`) to ``recipient_list``. Raises :class:`UpsertRefused` while the
    list's file import is queued, running or waiting for its mapping."""
    if len(entries) > MAX_BATCH:
        raise UpsertRefused(f"at most {MAX_BATCH} recipients per request, not {len(entries)}")
    names = sorted({str(k) for e in entries for k in (e.get("fields") or {})})
    with transaction.atomic():
        locked = RecipientList.objects.select_for_update().get(pk=recipient_list.pk)
        if locked.import_status not in (ImportStatus.DONE, ImportStatus.FAILED):
            raise UpsertRefused(f"the list's file import is {locked.get_import_status_display().lower()}")
        reader = _reader(locked, names)
        read = [_read(reader, i, entry, names) for i, entry in enumerate(entries, start=1)]
        _drop_erased(read)
        report = _apply(locked, read)
        recount(locked)
    return report


def _reader(recipient_list: RecipientList, names: list[str]) -> RowReader:
    order = tuple(recipient_list.mapping.get("identity_order") or ()) if recipient_list.mapping else ()
    mapping = Mapping(
        roles=(*IDENTITY_FIELDS, *[FIELD] * len(names)),
        identity_order=order if sorted(order) == sorted(KINDS) else Mapping().identity_order,
        default_region=recipient_list.default_region,
        header=True,
    )
    return RowReader(mapping, [*IDENTITY_FIELDS, *names], Limits.from_settings())


def _read(reader: RowReader, number: int, entry: dict[str, Any], names: list[str]) -> list:
    given = entry.get("fields") or {}
    cells = [_text(entry.get(name)) for name in IDENTITY_FIELDS] + [_text(given.get(n)) for n in names]
    row, others, status = reader.read(number, cells)
    fields = {k: v for k, v in row[6].items() if k in given}
    return [list(row[:6]) + [fields], others, status]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _drop_erased(read: list) -> None:
    """Entries of an erased person become invalid (never stored again), as the import does."""
    if not ErasedIdentity.objects.exists():
        return
    keys = {k for row, others, status in read if status == VALID for k in [row[2], *(o for o, _ in others)]}
    erased = is_erased(keys)
    if not erased:
        return
    for entry in read:
        row, others, status = entry
        if status == VALID and ({row[2], *(o for o, _ in others)} & erased):
            row[2:6] = ["", "", INVALID, f"{ERASED_TEXT}: not imported"]
            entry[1:] = [[], INVALID]


def _apply(recipient_list: RecipientList, read: list) -> UpsertReport:
    valid = [(row, others) for row, others, status in read if status == VALID]
    owners = _owners(recipient_list, {k for row, others in valid for k in [row[2], *(o for o, _ in others)]})
    _refuse_two_people(read, owners)
    valid = [(row, others) for row, others, status in read if status == VALID]
    last = recipient_list.recipients.aggregate(n=Max("row_number"))["n"] or 0
    writer = RowWriter(recipient_list.pk)
    updates: dict[int, tuple[dict, list]] = {}
    for row, others in valid:
        identities = [row[2], *(o for o, _ in others)]
        owner = next((owners[k] for k in identities if k in owners), None)
        if owner is None:
            last += 1
            writer.add((last, *row[1:]), others)
            continue
        fields, added = updates.setdefault(owner, ({}, []))
        fields.update(row[6])
        added += [(row[2], row[3]), *others]
    created = len(writer)
    writer.flush()
    _update(updates)
    problems = [
        {"row": row[0], "value": row[1], "status": status, "error": row[5]}
        for row, _o, status in read
        if row[5]
    ]
    return UpsertReport(
        total=len(read),
        created=created,
        updated=len(valid) - created,
        invalid=sum(status == INVALID for _r, _o, status in read),
        duplicate=sum(status == DUPLICATE for _r, _o, status in read),
        problems=tuple(problems[:MAX_PROBLEMS]),
        problems_truncated=len(problems) > MAX_PROBLEMS,
    )


def _refuse_two_people(read: list, owners: dict[str, int]) -> None:
    """Entries whose identities the list holds on two or more rows (``@anna`` on one, the phone
    on another) become invalid: merging either way would give one person's fields and number to
    the other."""
    for entry in read:
        row, others, status = entry
        if status != VALID:
            continue
        identities = [row[2], *(o for o, _ in others)]
        if len({owners[k] for k in identities if k in owners}) > 1:
            held = ", ".join(k for k in identities if k in owners)
            row[2:6] = ["", "", INVALID, TWO_PEOPLE.format(identities=held)]
            entry[1:] = [[], INVALID]


TWO_PEOPLE = (
    "names several people of the list ({identities} are on different rows): not applied; "
    "send each person's identities on their own"
)


def _owners(recipient_list: RecipientList, keys: set[str]) -> dict[str, int]:
    """identity → the id of the list's valid row that holds it (as key or other identity). Raw
    SQL: compiling Django lookups of 10,000 values took longer than running them."""
    owners: dict[str, int] = {}
    if not keys or not recipient_list.recipients.exists():
        return owners
    recipients = connection.ops.quote_name(Recipient._meta.db_table)
    identities = connection.ops.quote_name(RecipientIdentity._meta.db_table)
    wanted = list(keys)
    with connection.cursor() as cursor:
        for start in range(0, len(wanted), UPDATE_BATCH):
            chunk = wanted[start : start + UPDATE_BATCH]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"SELECT key, id FROM {recipients} WHERE recipient_list_id = %s AND status = %s AND key IN ({marks})",
                [recipient_list.pk, VALID, *chunk],
            )
            owners.update(cursor.fetchall())
            cursor.execute(
                f"SELECT i.key, i.recipient_id FROM {identities} i JOIN {recipients} r ON r.id = i.recipient_id "
                f"WHERE r.recipient_list_id = %s AND r.status = %s AND i.key IN ({marks})",
                [recipient_list.pk, VALID, *chunk],
            )
            for key, pk in cursor.fetchall():
                owners.setdefault(key, pk)
    return owners


def _update(updates: dict[int, tuple[dict, list]]) -> None:
    """Merge the fields into each existing row and add the identities it did not have."""
    if not updates:
        return
    rows, known = _rows_and_identities(list(updates))
    changed, new_identities = [], []
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    for pk, key, old in rows:
        fields, identities = updates[pk]
        merged = {**((json.loads(old) if isinstance(old, str) else old) or {}), **fields}
        changed.append((dumps(merged), *name_keys(merged), pk))
        for other, kind in identities:
            if other != key and (pk, other) not in known:
                known.add((pk, other))
                new_identities.append(RecipientIdentity(recipient_id=pk, key=other, kind=kind))
    _write_fields(changed)
    RecipientIdentity.objects.bulk_create(new_identities, batch_size=UPDATE_BATCH)


def _rows_and_identities(ids: list[int]) -> tuple[list[tuple], set[tuple[int, str]]]:
    """(id, key, fields) of the rows ``ids`` and their (id, other identity) pairs, raw SQL."""
    recipients = connection.ops.quote_name(Recipient._meta.db_table)
    identities = connection.ops.quote_name(RecipientIdentity._meta.db_table)
    rows, known = [], set()
    with connection.cursor() as cursor:
        for start in range(0, len(ids), UPDATE_BATCH):
            chunk = ids[start : start + UPDATE_BATCH]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"SELECT id, key, fields FROM {recipients} WHERE id IN ({marks})", chunk)
            rows += cursor.fetchall()
            cursor.execute(
                f"SELECT recipient_id, key FROM {identities} WHERE recipient_id IN ({marks})", chunk
            )
            known.update(cursor.fetchall())
    return rows, known


def _write_fields(changed: list[tuple[str, str, str, int]]) -> None:
    """UPDATE (fields, name_key, surname_key) by id: one statement per batch on PostgreSQL
    (UPDATE … FROM VALUES), executemany on SQLite. Django's ``bulk_update`` builds a CASE per
    column and row: 10,000 rows took 19 s."""
    table = connection.ops.quote_name(Recipient._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            from psycopg2.extras import execute_values

            execute_values(
                cursor.cursor,
                f"UPDATE {table} AS t SET fields = v.f::jsonb, name_key = v.n, surname_key = v.s "
                "FROM (VALUES %s) AS v(f, n, s, id) WHERE t.id = v.id",
                changed,
                page_size=UPDATE_BATCH,
            )
            return
        cursor.executemany(
            f"UPDATE {table} SET fields = %s, name_key = %s, surname_key = %s WHERE id = %s", changed
        )


def recount(recipient_list: RecipientList) -> None:
    """Set the list's counts from its rows (one grouped count)."""
    counts = dict(recipient_list.recipients.values_list("status").annotate(n=Count("pk")).order_by())
    recipient_list.valid_count = counts.get(VALID, 0)
    recipient_list.invalid_count = counts.get(INVALID, 0)
    recipient_list.duplicate_count = counts.get(DUPLICATE, 0)
    recipient_list.total_rows = sum(counts.values())
    recipient_list.save(update_fields=["valid_count", "invalid_count", "duplicate_count", "total_rows"])
