"""Adding or updating recipients of a list by identity, a batch at a time (the API's upsert).

Each entry names a person by any of ``username``, ``phone``, ``user_id`` and carries ``fields``
for personalisation. Entries are read exactly as a file's rows are (:class:`.rows.RowReader`:
the same normalisation, identity order, de-duplication and notes), with the list's default
region. Then, for each valid entry:

- a person the list already holds under **any** of the entry's identities is updated: the
  entry's fields are merged into theirs and its other identities are added to them;
- anyone else is added as a new row after the list's last one.

Invalid entries, entries of an erased person, and later spellings of a person already in the
batch are reported (as a file's problems are) and not stored. The list's counts are recounted.
One transaction, the list's row locked, so two batches for one list are applied one after the
other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count, Max

from ..models import ImportStatus, Recipient, RecipientIdentity, RecipientList
from ..models.privacy import ERASED_TEXT, is_erased
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


def _owners(recipient_list: RecipientList, keys: set[str]) -> dict[str, int]:
    """identity → the id of the list's valid row that holds it (as key or other identity)."""
    owners: dict[str, int] = {}
    wanted = list(keys)
    for start in range(0, len(wanted), UPDATE_BATCH):
        chunk = wanted[start : start + UPDATE_BATCH]
        rows = recipient_list.recipients.filter(key__in=chunk, status=VALID).values_list("key", "pk")
        owners.update(rows)
        others = RecipientIdentity.objects.filter(
            recipient__recipient_list=recipient_list, recipient__status=VALID, key__in=chunk
        ).values_list("key", "recipient_id")
        for key, pk in others:
            owners.setdefault(key, pk)
    return owners


def _update(updates: dict[int, tuple[dict, list]]) -> None:
    """Merge the fields into each existing row and add the identities it did not have."""
    if not updates:
        return
    rows = list(Recipient.objects.filter(pk__in=updates).only("pk", "key", "fields"))
    known = set(RecipientIdentity.objects.filter(recipient_id__in=updates).values_list("recipient_id", "key"))
    new_identities = []
    for recipient in rows:
        fields, identities = updates[recipient.pk]
        recipient.fields = {**(recipient.fields or {}), **fields}
        recipient.name_key, recipient.surname_key = name_keys(recipient.fields)
        for key, kind in identities:
            if key != recipient.key and (recipient.pk, key) not in known:
                known.add((recipient.pk, key))
                new_identities.append(RecipientIdentity(recipient_id=recipient.pk, key=key, kind=kind))
    Recipient.objects.bulk_update(rows, ["fields", "name_key", "surname_key"], batch_size=UPDATE_BATCH)
    RecipientIdentity.objects.bulk_create(new_identities, batch_size=UPDATE_BATCH)


def recount(recipient_list: RecipientList) -> None:
    """Set the list's counts from its rows (one grouped count)."""
    counts = dict(recipient_list.recipients.values_list("status").annotate(n=Count("pk")).order_by())
    recipient_list.valid_count = counts.get(VALID, 0)
    recipient_list.invalid_count = counts.get(INVALID, 0)
    recipient_list.duplicate_count = counts.get(DUPLICATE, 0)
    recipient_list.total_rows = sum(counts.values())
    recipient_list.save(update_fields=["valid_count", "invalid_count", "duplicate_count", "total_rows"])
