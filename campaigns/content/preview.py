"""What a campaign will send, shown before launch: the message rendered for the first valid
recipient, the entities Telegram will get, and the problems
:func:`campaigns.content.template.check_message` finds. Pure presentation over
:mod:`campaigns.content.template`; nothing here decides what is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from ..models import Campaign, Recipient, Suppression
from ..models.segment_rules import SegmentInvalid
from . import template

# Rows read for their column names when a list's report does not record them.
COLUMN_SAMPLE_ROWS = 20
# Recipients whose message the launch check renders: every one of a list up to this size, else
# this many spread over the lists (the first half in list order, the rest evenly by id).
RECIPIENT_SAMPLE = 2000
# Row ids looked up at once when sampling a large list (recipient_sample_of).
SPREAD_CHUNK = 1000

# Telegram entity types (either the Bot API's snake_case or TL's ``MessageEntityBold``) → tag.
_TAGS = {
    "bold": "b",
    "italic": "i",
    "underline": "u",
    "strike": "s",
    "strikethrough": "s",
    "code": "code",
    "pre": "pre",
    "spoiler": "span",
    "blockquote": "blockquote",
}


@dataclass
class CampaignPreview:
    """``text``: the plain text Telegram shows; ``entities``: dicts {type, offset, length, url?,
    text} with offsets in UTF-16 code units (as Telegram counts); ``problems``: reasons the
    message would be refused; ``variables``: the names the chosen lists' columns go by in the
    message (None when no list is chosen)."""

    recipient: Recipient | None = None
    recipient_hidden: bool = False
    variables: list[str] | None = None
    rendered: str = ""
    text: str = ""
    entities: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    html: SafeString = mark_safe("")


def first_valid_recipient(campaign: Campaign) -> Recipient | None:
    """The recipient the preview personalises for: the first valid row of the campaign's lists."""
    if not campaign.pk:
        return None
    return first_valid_of(campaign.lists.all()) or first_of_segments(campaign.segments.order_by("pk"))


def first_of_segments(segments) -> Recipient | None:
    """The first row (lowest id) one of ``segments`` (a Segment queryset, in order) chooses now,
    one not opted out if there is one: the preview's recipient for a campaign of segments alone.
    A segment whose definition no longer holds is passed over."""
    for segment in segments:
        try:
            rows = segment.recipients().select_related("recipient_list").order_by("id")
        except SegmentInvalid:
            continue
        found = rows.exclude(key__in=Suppression.objects.values("key")).first() or rows.first()
        if found is not None:
            return found
    return None


def first_valid_of(lists) -> Recipient | None:
    """The first valid row of the first of ``lists`` (a RecipientList queryset, in order of
    creation) that has one. A list's rows are written in file order with ids reserved in that
    order (:mod:`campaigns.lists.writing`), so its first row is its lowest id: found through the
    primary key, where ordering by row number sorts every row of a million-row list. A recipient
    on the suppression list is passed over (the launch skips them: a preview "as they will
    receive it" must not show them), unless every valid row is."""
    ids = list(lists.order_by("created_at", "pk").values_list("pk", flat=True))
    for skip_opted_out in (True, False):
        for pk in ids:
            rows = Recipient.objects.filter(recipient_list_id=pk, status=Recipient.Status.VALID)
            if skip_opted_out:
                rows = rows.exclude(key__in=Suppression.objects.values("key"))
            found = rows.order_by("id").select_related("recipient_list").first()
            if found is not None:
                return found
    return None


def recipient_sample(campaign: Campaign, limit: int = RECIPIENT_SAMPLE) -> Iterator[tuple[str, dict]]:
    """(where, fields) of the valid recipients of ``campaign``'s lists whose message a check
    renders: all of them up to ``limit``, else ``limit`` spread over the lists. ``where`` is
    "row N of “list”" (no identity: it may be shown to staff who may not see results)."""
    list_ids = list(campaign.lists.values_list("pk", flat=True))
    if not list_ids and campaign.pk and campaign.segments.exists():
        return _segments_sample(campaign, limit)
    return recipient_sample_of(list_ids, limit)


def _segments_sample(campaign: Campaign, limit: int) -> Iterator[tuple[str, dict]]:
    """:func:`recipient_sample` of a campaign of segments alone: their first rows, up to ``limit``."""
    taken = 0
    for segment in campaign.segments.order_by("pk"):
        rows = segment.recipients().order_by("id").values_list("row_number", "recipient_list__name", "fields")
        for number, name, fields in rows[: limit - taken]:
            taken += 1
            yield f"row {number} of “{name}”", fields or {}
        if taken >= limit:
            return


def recipient_sample_of(
    list_ids: list[int], limit: int = RECIPIENT_SAMPLE, *, total: int | None = None
) -> Iterator[tuple[str, dict]]:
    """:func:`recipient_sample` for the valid rows of the lists ``list_ids`` (chosen on a page
    before they are saved), in list and file order: all of them up to ``limit``; else the first
    ``limit // 2`` rows, then the rows whose id is a multiple of a step that spreads the rest over
    the lists. Rows are read in id order through the primary key (a list's ids follow its file
    order, :func:`first_valid_of`) and the spread by id, so a million-row list is never sorted or
    scanned whole. ``total``: the number of valid rows, when the caller has counted them."""
    valid = Recipient.objects.filter(recipient_list_id__in=list_ids, status=Recipient.Status.VALID)
    columns = ("row_number", "recipient_list__name", "fields")
    if total is None:
        total = valid.count()
    if total <= limit:
        rows = list(valid.order_by("recipient_list_id", "id").values_list(*columns))
    else:
        half = limit // 2
        step = max(1, total // (limit - half))
        rows, spread = [], []
        for pk in sorted(set(list_ids)):
            of_list = valid.filter(recipient_list_id=pk)
            if len(rows) < half:
                rows += of_list.order_by("id").values_list(*columns)[: half - len(rows)]
            if len(spread) < limit - half:
                spread += _every_step(of_list, step, limit - half - len(spread), columns)
        rows += spread
    for row_number, list_name, fields in rows:
        yield f"row {row_number} of “{list_name}”", dict(fields or {})


def _every_step(rows, step: int, limit: int, columns: tuple[str, ...]) -> list[tuple]:
    """Up to ``limit`` of ``rows`` (one list's) whose id is a multiple of ``step``, in id order:
    looked up by id between the list's first and last row, a chunk of candidates at a time."""
    ends = rows.order_by("id").values_list("id", flat=True)
    first, last = ends.first(), ends.order_by("-id").first()
    if first is None:
        return []
    found: list[tuple] = []
    candidate = -(-first // step) * step
    while candidate <= last and len(found) < limit:
        ids = range(candidate, min(last, candidate + step * SPREAD_CHUNK) + 1, step)
        found += rows.filter(id__in=list(ids)).order_by("id").values_list(*columns)[: limit - len(found)]
        candidate = ids[-1] + step if ids else last + 1
    return found


def list_columns(campaign: Campaign) -> list[str] | None:
    """The column headers of ``campaign``'s lists, besides the recipient column, in file order;
    None when no list is chosen. The import records them in ``report["columns"]``; for a list
    without (made before that), the keys of its first rows' fields."""
    if not campaign.pk:
        return None
    return columns_of(campaign.lists.all())


def columns_of(lists) -> list[str] | None:
    """:func:`list_columns` for ``lists`` (a RecipientList queryset); None when it is empty."""
    lists = list(lists.order_by("created_at", "pk"))
    if not lists:
        return None
    columns: dict[str, None] = {}
    for recipient_list in lists:
        names = (recipient_list.report or {}).get("columns")
        if names is None:
            rows = recipient_list.recipients.order_by("id")[
                :COLUMN_SAMPLE_ROWS
            ]  # file order (first_valid_of)
            names = [name for fields in rows.values_list("fields", flat=True) for name in fields or {}]
        columns.update(dict.fromkeys(map(str, names)))
    return list(columns)


def campaign_preview(
    campaign: Campaign, *, personal: bool = True, message: str | None = None
) -> CampaignPreview:
    """Render ``campaign``'s message (or ``message``: another wording of its A/B test) for its
    first valid recipient and check it; without ``personal`` (the viewer may not see results,
    which hold personal data), for no recipient: empty fields, ``recipient_hidden`` set.

    Never raises for bad input: a template or markup error becomes a problem, because the page
    that shows it is where staff fix it.
    """
    recipient = first_valid_recipient(campaign) if personal else None
    result = CampaignPreview(recipient=recipient, recipient_hidden=not personal)
    fields = dict(result.recipient.fields or {}) if result.recipient else {}
    has_media = bool(campaign.media)
    columns = list_columns(campaign)
    result.variables = None if columns is None else template.variable_names(columns)
    message = campaign.message if message is None else message
    result.problems = template.check_message(
        message,
        campaign.parse_mode,
        has_media=has_media,
        sample_fields=fields if result.recipient else None,  # None: sample values (issue 18.4)
        known_fields=columns,
    )
    try:
        result.rendered = template.render(message, fields, campaign.parse_mode)
        result.text, entities = template.preview(result.rendered, campaign.parse_mode)
    except Exception as exc:  # broken markup must show as a problem here, never as a server error
        if not result.problems:
            result.problems.append(str(exc))
        return result
    result.entities = [dict(e, text=utf16_slice(result.text, e["offset"], e["length"])) for e in entities]
    result.html = entities_html(result.text, entities)
    return result


def utf16_slice(text: str, offset: int, length: int) -> str:
    """``text[offset:offset+length]`` counted in UTF-16 code units, as Telegram's entity offsets
    are (an emoji outside the BMP counts 2)."""
    units = text.encode("utf-16-le")
    return units[2 * offset : 2 * (offset + length)].decode("utf-16-le", errors="replace")


def _entity_kind(entity: dict) -> str:
    return str(entity.get("type", "")).lower().removeprefix("messageentity").removeprefix("message_entity_")


def _wrap(entity: dict, inner: str) -> str:
    kind = _entity_kind(entity)
    url = entity.get("url") or ""
    if url and url.split(":", 1)[0].lower() in ("http", "https", "tg", "mailto"):
        return format_html(
            '<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>', url, mark_safe(inner)
        )
    if "url" in kind or "link" in kind or "mention" in kind:
        return f'<span class="tgc-link">{inner}</span>'
    tag = _TAGS.get(kind.replace("_", ""), "span")
    css = ' class="tgc-spoiler"' if kind == "spoiler" else ""
    return f"<{tag}{css}>{inner}</{tag}>"


def entities_html(text: str, entities: list[dict]) -> SafeString:
    """``text`` as HTML with ``entities`` applied: cut at every entity boundary, escape each piece,
    and wrap it in the entities covering it (outermost first), so nesting always closes cleanly."""
    units = len(text.encode("utf-16-le")) // 2
    bounds = {0, units}
    for e in entities:
        bounds |= {e["offset"], e["offset"] + e["length"]}
    bounds = sorted(b for b in bounds if 0 <= b <= units)
    ordered = sorted(entities, key=lambda e: (e["offset"], -e["length"]))
    pieces = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        piece = escape(utf16_slice(text, start, end - start))
        for e in reversed([e for e in ordered if e["offset"] <= start and e["offset"] + e["length"] >= end]):
            piece = _wrap(e, piece)
        pieces.append(piece)
    # Newlines stay as they are: the preview bubble is styled ``white-space: pre-wrap``.
    return mark_safe("".join(pieces))  # every piece was escaped above
