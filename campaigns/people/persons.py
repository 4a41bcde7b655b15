"""A person: everything the product holds about one human, found by any of their identities.

A person is every recipient row whose key or other identity (:class:`RecipientIdentity`) is one
of their identities; identities are followed one step (a row naming ``@ann`` and ``+49…`` ties
both, and the rows naming either are the person's). :func:`find_person` takes an identity as
staff write it (``@Ann``, ``0151 …``, ``t.me/ann``, a user id: normalised as the import does),
:func:`person_of_row` a recipient row. The :class:`Person` holds their rows (list, fields, consent,
tags), their opt-outs and a :class:`Event` timeline — each message sent (campaign, session,
variant, status), read, reply and opt-out — newest first, of their newest
:data:`TIMELINE_RESULTS` results.

Every query goes by an indexed key (``Recipient.key``, ``RecipientIdentity.key``,
``MessageResult.key`` and ``recipient_id``, ``Reply.result_id``, ``Suppression.key``) and is
bounded, so the page costs the same at a million rows as at ten (bench/person.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q

from ..lists.columns import CONSENT
from ..lists.normalise import normalise
from ..models import MessageResult, Recipient, RecipientIdentity, Reply, ResultStatus, Suppression, Tag

TIMELINE_RESULTS = 200  # the newest results a page shows; the rest are one link away
MAX_ROWS = 500  # rows of one person shown (a person is on a few lists; a key on 500 is a data fault)


@dataclass(frozen=True)
class Event:
    """One line of a person's timeline. ``what``: ``sent`` (or the result's status when not
    sent: ``failed``, ``skipped``, ``pending``…), ``read``, ``reply``, ``opt-out``; ``result``:
    the message it is about (None for an opt-out staff entered); ``text``: a reply's text or the
    result's error."""

    at: datetime
    what: str
    result: MessageResult | None = None
    text: str = ""
    order: int = 0  # ties at one instant: a reply after its read after its send


@dataclass
class Person:
    """What :func:`find_person` found. ``keys``: every identity, sorted; ``rows``: their
    recipient rows (list, other identities and tags loaded); ``row_consent``: row id → the
    consent column(s) the row said yes in, for lists that had one; ``more``: the timeline was
    cut at :data:`TIMELINE_RESULTS` results."""

    keys: list[str]
    rows: list[Recipient] = field(default_factory=list)
    suppressions: list[Suppression] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    timeline: list[Event] = field(default_factory=list)
    more: bool = False
    row_consent: dict[int, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The first name a row gives them (given and family name, or full name), else a key."""
        return next((n for n in map(row_name, self.rows) if n), self.keys[0] if self.keys else "")

    @property
    def valid_row_ids(self) -> list[int]:
        return [r.pk for r in self.rows if r.status == Recipient.Status.VALID]

    @property
    def opted_out(self) -> bool:
        return bool(self.suppressions)


def row_name(row: Recipient) -> str:
    """The name a row gives its person: given and family name, else the full name ("" for none)."""
    f = row.fields or {}
    name = " ".join(str(f.get(k) or "") for k in ("first_name", "last_name")).strip()
    return name or str(f.get("full_name") or "")


def find_person(identity: str) -> Person | None:
    """The person ``identity`` names (any spelling of an @name, phone, user id or t.me link),
    or None when it is no identity or nothing is held about it."""
    result = normalise(identity or "")
    if not result.is_valid:
        return None
    person = _load({result.key})
    if not (person.rows or person.timeline or person.suppressions):
        return None
    return person


def rows_of(identity: str) -> tuple[list[int], bool]:
    """(the ids of the rows of the person ``identity`` names, whether anything else holds them:
    a result or an opt-out) — what the search needs to open their page, without loading it."""
    result = normalise(identity or "")
    if not result.is_valid:
        return [], False
    keys, row_ids = identities_and_rows({result.key})
    if row_ids:
        return row_ids, True
    held = (
        MessageResult.objects.filter(key__in=keys).exists()
        or Suppression.objects.filter(key__in=keys).exists()
    )
    return [], held


def person_of_row(recipient_id: int) -> Person | None:
    """The person recipient row ``recipient_id`` is one of; None when there is no such row or
    it names nobody (an invalid row)."""
    row = Recipient.objects.filter(pk=recipient_id).first()
    if row is None:
        return None
    keys = set(row.identities())
    return _load(keys) if keys else None


def identities_and_rows(seed: set[str]) -> tuple[set[str], list[int]]:
    """(the person's identities, their row ids) from ``seed`` keys, one step out (module)."""
    first = _rows_naming(seed)
    keys = set(seed)
    keys |= set(Recipient.objects.filter(pk__in=first).exclude(key="").values_list("key", flat=True))
    keys |= set(RecipientIdentity.objects.filter(recipient_id__in=first).values_list("key", flat=True))
    return keys, sorted(_rows_naming(keys) if keys != seed else first)[:MAX_ROWS]


def _rows_naming(keys: set[str]) -> set[int]:
    ids = set(Recipient.objects.filter(key__in=keys).values_list("pk", flat=True)[:MAX_ROWS])
    ids |= set(
        RecipientIdentity.objects.filter(key__in=keys).values_list("recipient_id", flat=True)[:MAX_ROWS]
    )
    return ids


def _load(seed: set[str]) -> Person:
    keys, row_ids = identities_and_rows(seed)
    rows = list(
        Recipient.objects.filter(pk__in=row_ids)
        .select_related("recipient_list")
        .prefetch_related("other_identities", "tags")
        .order_by("-recipient_list__created_at", "row_number")
    )
    person = Person(keys=sorted(keys), rows=rows)
    person.suppressions = list(Suppression.objects.filter(key__in=keys).order_by("-created_at"))
    tags = {tag.pk: tag for row in rows for tag in row.tags.all()}
    person.tags = sorted(tags.values(), key=lambda tag: tag.key)
    person.row_consent = {row.pk: _consent_columns(row) for row in rows}
    person.timeline, person.more = _timeline(keys, row_ids, person.suppressions)
    return person


def _consent_columns(row: Recipient) -> str:
    """The list's consent column headers a row was read with ("" when the list had none): a row
    that is a recipient said yes in each (a "no" is never imported as one)."""
    mapping = row.recipient_list.mapping or {}
    roles, headers = mapping.get("roles") or [], mapping.get("headers") or []
    return ", ".join(
        headers[i] if i < len(headers) else f"column {i + 1}" for i, r in enumerate(roles) if r == CONSENT
    )


def _timeline(
    keys: set[str], row_ids: list[int], suppressions: list[Suppression]
) -> tuple[list[Event], bool]:
    """Events of the newest :data:`TIMELINE_RESULTS` results and of the opt-outs, newest first;
    and whether older results were left out."""
    wanted = Q(key__in=keys) | Q(recipient_id__in=row_ids) if row_ids else Q(key__in=keys)
    results = list(
        MessageResult.objects.filter(wanted)
        .select_related("campaign", "session")
        # Newest first by creation: no index serves this order, so the planner reads the person's
        # few rows by the key and row indexes and sorts them (ordered by id it may walk the
        # primary key backwards through a million rows looking for theirs).
        .order_by("-created_at", "-id")[: TIMELINE_RESULTS + 1]
    )
    more = len(results) > TIMELINE_RESULTS
    results = results[:TIMELINE_RESULTS]
    by_id = {r.pk: r for r in results}
    events: list[Event] = []
    for r in results:
        sent = r.status == ResultStatus.SENT
        events.append(
            Event(r.sent_at or r.updated_at, "sent" if sent else r.status, r, "" if sent else r.error_text)
        )
        if r.read_at:
            events.append(Event(r.read_at, "read", r, order=1))
    for reply in Reply.objects.filter(result_id__in=list(by_id)).order_by("-received_at")[
        : TIMELINE_RESULTS * 2
    ]:
        what = "opt-out" if reply.is_opt_out else "reply"
        events.append(Event(reply.received_at, what, by_id[reply.result_id], reply.text, order=2))
    for s in suppressions:
        if s.source != Suppression.Source.STOP_REPLY:  # a STOP reply is on the timeline already
            events.append(
                Event(s.created_at, "opt-out", None, f"{s.get_source_display()}: {s.note}".rstrip(": "))
            )
    events.sort(key=lambda e: (e.at, e.order), reverse=True)
    return events, more


__all__ = [
    "Event",
    "Person",
    "TIMELINE_RESULTS",
    "find_person",
    "identities_and_rows",
    "person_of_row",
    "row_name",
]
