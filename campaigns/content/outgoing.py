"""What the engine hands the transport for one recipient: the campaign's message rendered with the
recipient's fields, checked against Telegram's limit for that recipient, with the media."""

from __future__ import annotations

from collections.abc import Callable

from sessions_app.transport import ErrorKind, OutgoingMessage, TransportError
from sessions_app.transport.formatting import parse, utf16_length

from ..models import Campaign
from . import template, variants
from .media import MediaInfo


def message_builder(campaign: Campaign):
    """A function (fields, variant="") → OutgoingMessage for this campaign: each wording's
    template compiled once (:func:`.template.renderer`), and rendered once for everyone when no
    wording reads a personal field."""
    media = None
    if campaign.media and campaign.media_info:
        media = MediaInfo.from_json(campaign.media_info).to_spec(campaign.media.path)
    mode = campaign.parse_mode
    limit, what = (template.CAPTION_MAX, "caption") if media else (template.TEXT_MAX, "text")
    renderers: dict[str, Callable[[dict], str]] = {}

    def render_of(variant: str) -> Callable[[dict], str]:
        found = renderers.get(variant)
        if found is None:
            source = variants.text_of(campaign.message, campaign.variants, variant)
            found = renderers[variant] = template.renderer(source, mode)
        return found

    def build(fields: dict, variant: str = "") -> OutgoingMessage:
        """The message of ``variant`` (an A/B test's wording: "" or "A" is the campaign's message,
        B–D its other wordings) for one recipient's ``fields``. Raises
        TransportError(RECIPIENT, MESSAGE_TOO_LONG) when personalisation pushes this recipient's
        text past Telegram's limit, TransportError(RECIPIENT, MESSAGE_RENDER_BUDGET) when their
        fields push the render over its work budget: only this row fails, the campaign goes on;
        KeyError for a variant the campaign does not have."""
        try:
            text = render_of(variant)(fields or {})
        except template.RenderOverBudget as exc:
            raise TransportError(ErrorKind.RECIPIENT, "MESSAGE_RENDER_BUDGET", str(exc)) from None
        # Parsing can only shorten the text, so most messages skip it.
        length = utf16_length(parse(text, mode)[0]) if utf16_length(text) > limit else 0
        if length > limit:
            code = "MEDIA_CAPTION_TOO_LONG" if media else "MESSAGE_TOO_LONG"
            raise TransportError(
                ErrorKind.RECIPIENT,
                code,
                f"the personalised {what} is {length} characters for this recipient; Telegram allows {limit}",
            )
        return OutgoingMessage(text=text, parse_mode=mode, media=media)

    if all(template.renders_alike(source) for source in (campaign.message, *(campaign.variants or []))):
        # No personal field in any wording: render and measure each once, then hand every
        # recipient of a variant the same message. One over the limit is built (and refused) per
        # recipient, as before.
        same: dict[str, OutgoingMessage] = {}

        def build_same(fields: dict, variant: str = "") -> OutgoingMessage:
            if variant not in same:
                same[variant] = build(fields, variant)
            return same[variant]

        return build_same
    return build


def recipient_text(campaign: Campaign, fields: dict | None, variant: str = "") -> str:
    """The text (or caption) one recipient gets, as the engine renders it: the wording of their
    A/B ``variant`` ("" or "A": the message) with their ``fields``, before parse-mode entities
    are taken out. For pages and exports; returns "(cannot be rendered: …)" instead of raising."""
    try:
        source = variants.text_of(campaign.message, campaign.variants, variant)
        return str(template.render(source, fields or {}, campaign.parse_mode))
    except KeyError:
        return f"(the campaign has no variant {variant})"
    except template.MessageError as exc:
        return f"(cannot be rendered: {exc})"


def recipient_renderer(campaign: Campaign, variant: str) -> Callable[[dict], str]:
    """fields → :func:`recipient_text` of A/B ``variant`` ("" or "A": the message), the template
    prepared once, for exports of many rows. Never raises: a wording that cannot be rendered, or
    a recipient whose fields push the render over its budget, gets "(cannot be rendered: …)"."""
    try:
        render = template.renderer(
            variants.text_of(campaign.message, campaign.variants, variant), campaign.parse_mode
        )
    except KeyError:
        failed = f"(the campaign has no variant {variant})"
        return lambda fields: failed
    except template.MessageError as exc:
        failed = f"(cannot be rendered: {exc})"
        return lambda fields: failed

    def within_budget(fields: dict) -> str:
        try:
            return render(fields)
        except template.RenderOverBudget as exc:  # this recipient's fields: their row says why
            return f"(cannot be rendered: {exc})"

    return within_budget
