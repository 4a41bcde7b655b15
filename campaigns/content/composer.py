"""The composer's live preview: the message as one types it (saved or not), for a chosen recipient
of the chosen lists or segments, with its length against Telegram's limit, the problems that would
refuse the launch and the warnings that would not, and which recipients lack the fields it reads.

Pure presentation over :mod:`campaigns.content.template` (the same checks the launch runs), so
the page can never promise what the launch would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q, Sum, TextField
from django.db.models.functions import Cast

from sessions_app.transport.formatting import utf16_length

from ..lists.search import recipient_filter, search_regions
from ..models import ParseMode, Recipient, RecipientList, Segment
from ..models.segment_rules import SegmentInvalid
from . import template
from .fields import missing_fields
from .preview import (
    RECIPIENT_SAMPLE,
    columns_of,
    entities_html,
    first_of_segments,
    first_valid_of,
    recipient_sample_of,
)

# Recipients the picker lists for one search.
PICKER_LIMIT = 20


@dataclass
class Draft:
    """What is on the page now: the message, its parse mode, whether media is (or will be)
    attached, and the lists and segments ticked."""

    message: str = ""
    parse_mode: str = ParseMode.PLAIN
    has_media: bool = False
    list_ids: list[int] = field(default_factory=list)
    segment_ids: list[int] = field(default_factory=list)

    def recipients(self):
        """The rows of the lists and those the segments choose now (a segment whose definition
        no longer holds chooses nobody here: the launch summary says why)."""
        rows = Q(recipient_list_id__in=self.list_ids)
        for segment in self.segments():
            try:
                rows |= Q(pk__in=segment.recipients().values("pk"))
            except SegmentInvalid:
                continue
        return Recipient.objects.filter(rows)

    def segments(self):
        return Segment.objects.filter(pk__in=self.segment_ids).order_by("pk")


def valid_rows(draft: Draft) -> int:
    """How many valid recipients the draft's lists hold, for the composer's sample: counted up to
    :data:`RECIPIENT_SAMPLE`; beyond, the lists' valid counts as recorded by their import (and
    kept by erasure), so a page never counts a million rows to spread 2,000 over them."""
    valid = draft.recipients().filter(status=Recipient.Status.VALID).order_by()
    if not valid.values_list("pk")[RECIPIENT_SAMPLE : RECIPIENT_SAMPLE + 1]:
        return valid.count()
    recorded = RecipientList.objects.filter(pk__in=draft.list_ids).aggregate(n=Sum("valid_count"))["n"]
    return max(RECIPIENT_SAMPLE + 1, recorded or 0)


def first_recipient(draft: Draft) -> Recipient | None:
    """The recipient a preview shows by default: the first valid row of the first list, else the
    first person of the first segment (a follow-up's draft has only its segment)."""
    lists = RecipientList.objects.filter(pk__in=draft.list_ids)
    return first_valid_of(lists) or first_of_segments(draft.segments())


def recipient_label(recipient: Recipient | None, *, personal: bool) -> str:
    """How the preview names its recipient: "row 4 of “people”: @alice_user" (the identity only
    for staff who may see results)."""
    if recipient is None:
        return "no recipient: empty fields"
    where = f"row {recipient.row_number} of “{recipient.recipient_list}”"
    return f"{where}: {recipient.key}" if personal else where


def compose_preview(draft: Draft, recipient: Recipient | None, *, personal: bool) -> dict:
    """The preview as JSON-able data: ``html`` (the bubble), ``length`` and ``limit`` (UTF-16
    units, as Telegram counts; ``what`` is "text" or "caption"), ``problems`` (refuse the launch),
    ``warnings`` (do not), ``missing`` (fields some recipients lack, see
    :class:`~campaigns.content.fields.MissingField`), ``variables`` (names the lists' columns go
    by, None without a list), ``recipient`` (its label). Without ``personal`` the message is
    rendered with empty fields. Never raises for bad input: a problem says what is wrong."""
    columns = columns_of(RecipientList.objects.filter(pk__in=draft.list_ids)) if draft.list_ids else None
    fields = dict(recipient.fields or {}) if recipient is not None and personal else {}
    limit, what = (template.CAPTION_MAX, "caption") if draft.has_media else (template.TEXT_MAX, "text")
    data = {
        "html": "",
        "length": 0,
        "limit": limit,
        "what": what,
        "problems": template.check_message(
            draft.message,
            draft.parse_mode,
            has_media=draft.has_media,
            sample_fields=fields if recipient is not None and personal else None,  # None: sample values
            known_fields=columns,
        ),
        "warnings": [],
        "missing": [],
        "variables": None if columns is None else template.variable_names(columns),
        "recipient": recipient_label(recipient, personal=True)
        if personal
        else "empty fields (recipients are personal data, seen with the permission to view results)",
        "recipient_id": recipient.pk if recipient is not None and personal else None,
    }
    if columns is not None:
        data["warnings"] = template.defaulted_unknown_variables(draft.message, columns)
        total = valid_rows(draft)
        sample = [f for _, f in recipient_sample_of(draft.list_ids, total=total)]
        sampled = len(sample) >= RECIPIENT_SAMPLE and total > len(sample)
        gaps = missing_fields(draft.message, sample, known_fields=columns, sampled=sampled)
        data["missing"] = [gap.as_json() for gap in gaps]
    try:
        rendered = template.render(draft.message, fields, draft.parse_mode)
        text, entities = template.preview(rendered, draft.parse_mode)
    except Exception as exc:  # broken markup is a problem to show, never a server error
        if not data["problems"]:
            data["problems"].append(str(exc))
        return data
    data["html"] = str(entities_html(text, entities))
    data["length"] = utf16_length(text)
    return data


def pick_recipients(draft: Draft, query: str) -> list[Recipient]:
    """Valid recipients of the draft's lists and segments for the picker: by row number ("12" or "row 12"), by the
    start of their key or of the value as written (``@ali``, ``+4915``), by a phone or name as
    the recipients' search finds it (:func:`~campaigns.lists.search.recipient_filter`: ``+33 6 12``,
    national ``0612`` in the lists' regions, another identity), or by a personalisation value
    ("Alice"); at most :data:`PICKER_LIMIT`, in list and row order."""
    list_ids = draft.list_ids
    rows = (
        draft.recipients()
        .filter(status=Recipient.Status.VALID)
        .select_related("recipient_list")
        .order_by("recipient_list__created_at", "recipient_list_id", "row_number")
    )
    query = query.strip()
    if not query:
        return list(rows[:PICKER_LIMIT])
    number = query.lower().removeprefix("row").strip()
    wanted = Q(key__istartswith=query) | Q(raw_value__istartswith=query)
    if query[:1].isalpha():
        wanted |= Q(key__istartswith="@" + query)
    if number.isdigit():
        wanted |= Q(row_number=int(number))
    if also := recipient_filter(query, regions=search_regions(list_ids)):
        wanted |= also
    if national := national_digits(query):
        # A national number of a list that names no region (no country to read it in): the
        # digits inside a key. A scan of the chosen lists' rows, never of the whole table.
        wanted |= Q(key__contains=national) | Q(other_identities__key__contains=national)
    found = list(rows.filter(wanted).distinct()[:PICKER_LIMIT])
    if len(found) < PICKER_LIMIT and len(query) >= 2:
        by_field = rows.annotate(text=Cast("fields", TextField())).filter(text__icontains=query)
        found += [r for r in by_field.exclude(pk__in=[r.pk for r in found])[: PICKER_LIMIT - len(found)]]
    return found


# Digits typed before the picker looks for them inside phone keys (fewer match too much).
NATIONAL_DIGITS_MIN = 6


def national_digits(query: str) -> str:
    """The digits of ``query`` when it reads as a national phone number without its trunk prefix
    ("(415) 555-0123" → "4155550123"), at least :data:`NATIONAL_DIGITS_MIN` of them; "" for
    anything else (an international number, letters, a trunk ``0`` that the regions read)."""
    compact = "".join(ch for ch in query if ch not in " ()-./")
    if len(compact) < NATIONAL_DIGITS_MIN or not compact.isascii() or not compact.isdigit():
        return ""
    return "" if compact.startswith("0") else compact
