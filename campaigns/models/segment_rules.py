"""The segment language: a segment's definition as JSON, checked (:func:`validate`), turned into
one SQL condition over recipient rows (:func:`condition`) and explained condition by condition
(:func:`conditions`).

A definition is a dict; every part is optional and the parts are AND-ed::

    {
      "lists": {"ids": [3, 4], "match": "any"},          # "all": the person is on every list
      "tags": [{"tag": "VIP", "has": true}],              # has / has not, any case
      "fields": [{"field": "city", "op": "is", "value": "Berlin"},
                 {"field": "total_spent", "op": "gte", "value": 100}],
      "engagement": [{"event": "not_read", "campaign": 7, "within_hours": 1},
                     {"event": "replied", "days": 30}],   # any campaign in the last 30 days
      "opted_in_since": "2026-01-01",                     # the row's list was imported since
      "exclude": {"segments": [2], "lists": [5]}
    }

A *person* is a recipient key: tags, engagement and exclusions look at every row and every result
with the row's key (a person on two lists is one person). Only valid rows are ever chosen, so a
row the import refused (no consent, an opt-out column, an erased person) never is.

Field conditions read ``Recipient.fields``: ``is`` / ``is_not`` compare text without regard to case;
``gt``, ``gte``, ``lt``, ``lte``, ``eq`` compare numbers as numbers (the condition's number within
:data:`FIELD_NUMBER`), and a field's value that is no number (``"n/a"``, empty) never matches them.
``opted_in_since`` is a date from :data:`OPTED_IN_EARLIEST` to today. Engagement: ``sent``, ``read``, ``replied``, ``not_read``,
``not_replied``, ``failed_retryable`` (failed after transient errors spent its retries), in one
``campaign`` or in any campaign sent within ``days``; ``within_hours``
limits ``read``/``replied`` to that long after the send (and makes ``not_read``/``not_replied``
"not within"). Telegram tells reads only to user accounts: ``read`` and ``not_read`` count only
rows sent by user sessions (:data:`BLIND_KIND` rows are left out, :func:`left_out` counts them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.apps import apps
from django.db import connection
from django.db.models import Case, Exists, F, FloatField, OuterRef, Q, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Lower
from django.utils import timezone

from tgcampaigns.bounds import ROW_ID, Bounds

EVENTS = {
    "sent": "was sent",
    "read": "read",
    "replied": "replied to",
    "not_read": "did not read",
    "not_replied": "did not reply to",
    "failed_retryable": "could not be sent (retries spent on transient errors)",
}
TEXT_OPS = {"is": "is", "is_not": "is not"}
NUMBER_OPS = {"gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "eq": "="}
# A number as a field holds it: optional sign, digits, optional decimals (no thousands separator).
NUMBER_RE = r"^\s*-?[0-9]+(\.[0-9]+)?\s*$"
BLIND_KIND = "bot"  # sessions Telegram never tells a read (sessions_app.models.SessionKind.BOT)
MAX_DEPTH = 5  # exclusions of segments nested this deep at most (and never a cycle)
# How far back "any campaign in the last N days" looks and how long "within N hours" of a send
# waits: past these the dates they make run off the calendar (and mean nothing to a campaign).
DAYS = Bounds(1, 3650, "days")
WITHIN_HOURS = Bounds(1, 24 * 365, "hours")
ENGAGEMENT_NUMBERS = {"campaign": ROW_ID, "days": DAYS, "within_hours": WITHIN_HOURS}
# A field's number is compared as a double precision float: one holds every integer exactly only
# up to 2^53 (about 9·10^15), so past 10^15 two different numbers may compare equal; NaN and
# infinity compare as no number does (the segment would be silently empty or everyone).
FIELD_NUMBER = Bounds(-(10**15), 10**15, whole=False)
# Telegram opened on 14 August 2013 (telegram.org/blog): nobody opted in to its messages before.
# A date after today chooses no list yet, and one before the calendar's first fails in SQL.
OPTED_IN_EARLIEST = date(2013, 8, 14)


class SegmentInvalid(ValueError):
    """A definition that breaks the language; the message names the part, for staff."""


@dataclass(frozen=True)
class Rule:
    """One condition of a definition: ``text`` for staff, ``q`` a Q over Recipient rows, and the
    aliases the Q reads (field extractions) as {name: expression}."""

    text: str
    q: Q
    aliases: dict


def _ids(value, where: str) -> list[int]:
    if not isinstance(value, list) or not all(i in ROW_ID for i in value):
        raise SegmentInvalid(f"{where}: a list of ids")
    return value


def _check_engagement(item: dict) -> None:
    if item.get("event") not in EVENTS:
        raise SegmentInvalid(f"engagement: event is one of {', '.join(EVENTS)}")
    campaign, days = item.get("campaign"), item.get("days")
    if (campaign is None) == (days is None):
        raise SegmentInvalid("engagement: name a campaign, or a number of days for any campaign")
    for name, bounds in ENGAGEMENT_NUMBERS.items():
        value = item.get(name)
        if value is not None and value not in bounds:
            raise SegmentInvalid(f"engagement: {name} is a whole number {bounds.words}")


def _check_field(item: dict) -> None:
    if not isinstance(item.get("field"), str) or not item["field"].strip():
        raise SegmentInvalid("fields: each condition names a field")
    op, value = item.get("op"), item.get("value")
    if op in TEXT_OPS:
        if not isinstance(value, str):
            raise SegmentInvalid(f"fields: “{item['field']}” {op} takes a text")
    elif op in NUMBER_OPS:
        if value not in FIELD_NUMBER:
            raise SegmentInvalid(f"fields: “{item['field']}” {op} takes a number {FIELD_NUMBER.words}")
    else:
        raise SegmentInvalid(f"fields: op is one of {', '.join([*TEXT_OPS, *NUMBER_OPS])}")


def opted_in_problem(day: date) -> str:
    """Why ``day`` cannot be an "opted in since" date ("" when it can): from
    :data:`OPTED_IN_EARLIEST` to today (the current time zone's)."""
    today = timezone.localdate()
    if OPTED_IN_EARLIEST <= day <= today:
        return ""
    return f"A date from {OPTED_IN_EARLIEST:%Y-%m-%d} to today ({today:%Y-%m-%d})."


def _check_since(since) -> None:
    try:
        day = date.fromisoformat(since)
    except (TypeError, ValueError):
        raise SegmentInvalid("opted_in_since: a date, YYYY-MM-DD") from None
    if problem := opted_in_problem(day):
        raise SegmentInvalid(f"opted_in_since: {problem[0].lower()}{problem[1:]}")


def _items(definition: dict, part: str) -> list:
    """The conditions of ``part`` (a list; none when left out)."""
    items = definition.get(part, [])
    if not isinstance(items, list):
        raise SegmentInvalid(f"{part}: a list of conditions, [{{…}}, …]")
    return items


def validate(definition) -> dict:
    """``definition`` checked against the language; returns it. Raises :class:`SegmentInvalid`
    naming the part, for a part of the wrong shape and for a number or date no segment can mean
    (a field's number outside :data:`FIELD_NUMBER`, NaN, infinity; an opted-in date before
    :data:`OPTED_IN_EARLIEST` or after today): never a crash nor a silently empty segment."""
    if not isinstance(definition, dict):
        raise SegmentInvalid("a definition is an object")
    unknown = set(definition) - {"lists", "tags", "fields", "engagement", "opted_in_since", "exclude"}
    if unknown:
        raise SegmentInvalid(f"unknown part: {', '.join(sorted(unknown))}")
    lists = definition.get("lists")
    if lists is not None:
        if not isinstance(lists, dict) or lists.get("match", "any") not in ("any", "all"):
            raise SegmentInvalid("lists: {'ids': [...], 'match': 'any' or 'all'}")
        _ids(lists.get("ids"), "lists")
    for item in _items(definition, "tags"):
        if not isinstance(item, dict) or not isinstance(item.get("tag"), str) or not item["tag"].strip():
            raise SegmentInvalid("tags: each condition names a tag")
    for item in _items(definition, "fields"):
        _check_field(item if isinstance(item, dict) else {})
    for item in _items(definition, "engagement"):
        _check_engagement(item if isinstance(item, dict) else {})
    if definition.get("opted_in_since") is not None:
        _check_since(definition["opted_in_since"])
    exclude = definition.get("exclude", {})
    if not isinstance(exclude, dict) or set(exclude) - {"segments", "lists"}:
        raise SegmentInvalid("exclude: {'segments': [...], 'lists': [...]}")
    for part in ("segments", "lists"):
        _ids(exclude.get(part, []), f"exclude {part}")
    return definition


def _valid_rows():
    from .lists import Recipient

    return Recipient.objects.filter(status=Recipient.Status.VALID)


def _among(rows, path: str = "key") -> Q:
    """The outer row's person (its key) is among the keys of ``rows`` (``path`` names the key):
    ``key IN (SELECT …)``, which PostgreSQL plans as a semi-join and SQLite reads once."""
    return Q(key__in=rows.values(path))


def _not_among(rows, path: str = "key") -> Q:
    """…is not: NOT EXISTS on PostgreSQL (an anti-join; a NOT IN over a million keys outgrows its
    hash and turns quadratic), NOT IN on SQLite (read once: for a correlated NOT EXISTS its planner
    takes the campaign's index and reads the campaign's rows once per recipient)."""
    if connection.vendor == "postgresql":
        return ~Q(Exists(rows.filter(**{path: OuterRef("key")})))
    return ~Q(key__in=rows.values(path))


def _list_rules(part: dict, names: dict[int, str]) -> list[Rule]:
    ids, match = part["ids"], part.get("match", "any")
    shown = ", ".join(f"“{names.get(i, i)}”" for i in ids)
    if match == "any" or len(ids) < 2:
        return [
            Rule(
                f"on the list {shown}" if len(ids) == 1 else f"on any of {shown}",
                Q(recipient_list_id__in=ids),
                {},
            )
        ]
    q = Q(recipient_list_id__in=ids)
    for list_id in ids:
        q &= _among(_valid_rows().filter(recipient_list_id=list_id))
    return [Rule(f"on every one of {shown}", q, {})]


def _tag_rule(item: dict) -> Rule:
    from .tags import RecipientTag, tag_key

    tagged = RecipientTag.objects.filter(tag__key=tag_key(item["tag"]), recipient__status="valid")
    has = item.get("has", True)
    return Rule(
        f"{'has' if has else 'has not'} the tag “{item['tag'].strip()}”",
        _among(tagged, "recipient__key") if has else _not_among(tagged, "recipient__key"),
        {},
    )


def _field_rule(item: dict, n: int) -> Rule:
    name, op, value = item["field"].strip(), item["op"], item["value"]
    text = KeyTextTransform(name, "fields")
    alias = f"_seg_field_{n}"
    if op in TEXT_OPS:
        q = Q(**{alias: value.strip().lower()})
        return Rule(
            f"“{name}” {TEXT_OPS[op]} “{value.strip()}”",
            q if op == "is" else ~q | Q(**{f"{alias}__isnull": True}),
            {alias: Lower(text)},
        )
    # A CASE guards the cast: only a value that reads as a number is cast (PostgreSQL refuses to
    # cast 'n/a'; SQLite would read it as 0), the rest is NULL and matches nothing.
    number = Case(When(Q(**{f"{alias}_text__regex": NUMBER_RE}), then=Cast(text, FloatField())), default=None)
    lookup = {"gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte", "eq": "exact"}[op]
    return Rule(
        f"“{name}” {NUMBER_OPS[op]} {value:g}",
        Q(**{f"{alias}__{lookup}": float(value)}),
        {f"{alias}_text": text, alias: number},
    )


def _within(field: str, hours: int | None) -> Q:
    """``field`` set, and no later than ``hours`` after the send when given."""
    q = Q(**{f"{field}__isnull": False})
    return q & Q(**{f"{field}__lte": F("sent_at") + timedelta(hours=hours)}) if hours else q


def _engagement_rule(item: dict, names: dict[int, str]) -> Rule:
    from .results import MessageResult, ResultStatus

    event, campaign, days, hours = (
        item["event"],
        item.get("campaign"),
        item.get("days"),
        item.get("within_hours"),
    )
    person = MessageResult.objects.exclude(key="")
    if campaign is not None:
        person, where = person.filter(campaign_id=campaign), f"“{names.get(campaign, campaign)}”"
        sent = person.filter(status=ResultStatus.SENT)
    else:
        since = timezone.now() - timedelta(days=days)
        sent = person.filter(status=ResultStatus.SENT, sent_at__gte=since)
        person = person.filter(created_at__gte=since)
        where = f"any campaign of the last {days} day{'s' if days != 1 else ''}"
    text = f"{EVENTS[event]} {where}" + (f" within {hours} h of the send" if hours else "")
    if event == "sent":
        return Rule(text, _among(sent), {})
    if event == "failed_retryable":
        return Rule(text, _among(_failed_retryable(person)), {})
    field = "read_at" if event in ("read", "not_read") else "replied_at"
    answered = sent.filter(_within(field, hours))
    if event in ("read", "replied"):
        return Rule(text, _among(answered), {})
    # Not read: only rows sent by a session Telegram tells reads to (a bot never learns one).
    if event == "not_read":
        sent = sent.filter(session__isnull=False).exclude(session__kind=BLIND_KIND)
    return Rule(text, _among(sent) & _not_among(answered), {})


def _failed_retryable(person):
    """The rows of ``person`` (same key, campaign or days) that failed after transient errors
    were retried (an attempt ``retry``: a timeout, a Telegram server error) until the campaign's
    attempts were spent: worth another try, unlike a refusal about the recipient (privacy,
    blocked, deleted)."""
    from .results import DeliveryAttempt, ResultStatus

    retried = DeliveryAttempt.objects.filter(result_id=OuterRef("pk"), outcome=DeliveryAttempt.Outcome.RETRY)
    return person.filter(status=ResultStatus.FAILED).filter(Exists(retried))


def _exclude_rules(part: dict, names: dict[int, str], depth: int) -> list[Rule]:
    Segment = apps.get_model("campaigns", "Segment")  # by name: .segments imports this module
    found = []
    if part.get("lists"):
        shown = ", ".join(f"“{names.get(i, i)}”" for i in part["lists"])
        found.append(
            Rule(f"not on {shown}", _not_among(_valid_rows().filter(recipient_list_id__in=part["lists"])), {})
        )
    for segment in Segment.objects.filter(pk__in=part.get("segments", [])):
        if depth >= MAX_DEPTH:
            raise SegmentInvalid("exclude segments: nested too deep (or a segment excludes itself)")
        inner = chosen(segment.definition, depth + 1)
        found.append(Rule(f"not in the segment “{segment.name}”", _not_among(inner), {}))
    return found


def rules(definition: dict, depth: int = 0) -> list[Rule]:
    """The conditions of ``definition`` (validated), in the order the page shows them. Raises
    :class:`SegmentInvalid` for a definition that breaks the language or excludes segments in a
    cycle."""
    from .campaign import Campaign
    from .lists import RecipientList

    definition = validate(definition)
    list_ids = set(definition.get("lists", {}).get("ids", [])) | set(
        definition.get("exclude", {}).get("lists", [])
    )
    list_names = dict(RecipientList.objects.filter(pk__in=list_ids).values_list("pk", "name"))
    campaign_ids = {e["campaign"] for e in definition.get("engagement", []) if e.get("campaign")}
    campaign_names = dict(Campaign.objects.filter(pk__in=campaign_ids).values_list("pk", "name"))
    found: list[Rule] = []
    if definition.get("lists"):
        found += _list_rules(definition["lists"], list_names)
    found += [_tag_rule(item) for item in definition.get("tags", [])]
    found += [_field_rule(item, n) for n, item in enumerate(definition.get("fields", []))]
    found += [_engagement_rule(item, campaign_names) for item in definition.get("engagement", [])]
    if definition.get("opted_in_since"):
        since = date.fromisoformat(definition["opted_in_since"])
        start = timezone.make_aware(datetime(since.year, since.month, since.day))
        found.append(
            Rule(
                f"opted in since {since:%Y-%m-%d} (on a list imported since)",
                Q(recipient_list__created_at__gte=start),
                {},
            )
        )
    found += _exclude_rules(definition.get("exclude", {}), list_names, depth)
    return found


def chosen(definition: dict, depth: int = 0):
    """The valid recipient rows ``definition`` chooses, as one lazy Recipient queryset (SQL only,
    no row read here). Raises :class:`SegmentInvalid`."""
    from .lists import Recipient

    rows = Recipient.objects.filter(status=Recipient.Status.VALID).exclude(key="")
    for rule in rules(definition, depth):
        rows = rows.alias(**rule.aliases).filter(rule.q)
    return rows


def left_out(definition: dict) -> list[tuple[str, int]]:
    """For each ``not_read`` condition on one campaign: (campaign name, rows of it sent by bot
    sessions), which "did not read" cannot count (Telegram never tells a bot a read)."""
    from .campaign import Campaign
    from .results import MessageResult, ResultStatus

    found = []
    for item in definition.get("engagement", []):
        if item.get("event") != "not_read":
            continue
        sent = MessageResult.objects.filter(status=ResultStatus.SENT, session__kind=BLIND_KIND).exclude(
            key=""
        )
        if item.get("campaign"):
            name = Campaign.objects.filter(pk=item["campaign"]).values_list("name", flat=True).first() or "?"
            found.append((f"“{name}”", sent.filter(campaign_id=item["campaign"]).count()))
        else:
            since = timezone.now() - timedelta(days=item["days"])
            found.append((f"the last {item['days']} days", sent.filter(sent_at__gte=since).count()))
    return [(where, n) for where, n in found if n]
