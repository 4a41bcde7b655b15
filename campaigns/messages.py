"""Message text: per-recipient rendering in a sandboxed template, and checks before launch.

A campaign's message is a Django template rendered once per recipient with the row's columns
(``{{ first_name|default:'there' }}``). The engine is sandboxed: no loaders, no ``{% load %}``,
``{% include %}``, ``{% extends %}``, ``{% debug %}`` or ``{% url %}``, no ``|safe`` and no
``{% autoescape off %}``; HTML messages autoescape every value, so a name holding ``<`` cannot
break the markup, and Markdown messages neutralise Markdown syntax in every value
(:func:`neutralise_markdown`), so a name cannot become a link or bold text. A missing column renders empty: nothing a recipient's data holds can fail a
send mid-campaign. Everything that could fail fails in :func:`check_message`, before launch.

Limits (DESIGN.md "Limits the validators encode"; Bot API sendMessage/sendPhoto): text at most
4096 characters after entity parsing, a media caption at most 1024, counted as Telegram counts
them, in UTF-16 code units.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from django.template import (
    Context,
    Engine,
    Library,
    Template,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)

from sessions_app.transport.formatting import (
    HTML,
    MARKDOWN,
    entities_as_dicts,
    markup_problems,
    parse,
    utf16_length,
)

TEXT_MAX = 4096
CAPTION_MAX = 1024

_ALLOWED_TAGS = (
    "comment",
    "cycle",
    "filter",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "now",
    "resetcycle",
    "spaceless",
    "templatetag",
    "verbatim",
    "with",
)
# |safe and |safeseq would let a recipient's data carry markup into an HTML message.
_BLOCKED_FILTERS = {"safe", "safeseq"}

_ZERO_WIDTH_SPACE = "\u200b"
_MODIFIER_GRAVE = "\u02cb"  # ˋ: looks like a backtick, is not Markdown
_DOUBLED_DELIMITER = re.compile(r"([*_~])(?=\1)")


class MessageError(ValueError):
    """The template cannot be rendered (a syntax error); ``str(exc)`` is for staff."""


def _sandbox_library() -> Library:
    library = Library()
    for name in _ALLOWED_TAGS:
        library.tags[name] = defaulttags.register.tags[name]
    for name, function in defaultfilters.register.filters.items():
        if name not in _BLOCKED_FILTERS:
            library.filters[name] = function
    return library


@functools.cache
def _engine() -> Engine:
    engine = Engine(dirs=[], app_dirs=False, loaders=[], libraries={}, builtins=[])
    # Replace Django's default builtins (which include loader tags and {% load %}) wholesale.
    engine.template_builtins = [_sandbox_library()]
    return engine


@functools.lru_cache(maxsize=128)
def _compile(template_text: str) -> Template:
    try:
        return _engine().from_string(template_text)
    except TemplateSyntaxError as exc:
        # Django's hint suggests {% load %}, which the sandbox does not offer.
        reason = str(exc).replace(
            "Did you forget to register or load this tag?", "Campaign messages cannot use it."
        )
        raise MessageError(f"template error: {reason}") from None


def _context(fields: Mapping[str, Any]) -> dict[str, str]:
    """The row's columns by their header, plus a template-friendly alias (``First name`` →
    ``first_name``) when the header is not a valid variable name. None renders empty."""
    context: dict[str, str] = {}
    for name, value in fields.items():
        context[str(name)] = "" if value is None else str(value)
    for name in list(context):
        alias = re.sub(r"\W+", "_", name.strip().lower()).strip("_")
        if alias and alias not in context:
            context[alias] = context[name]
    return context


def neutralise_markdown(value: str) -> str:
    """``value`` made inert as Markdown for Telethon's parser, looking the same to the reader.

    Telethon's Markdown (``telethon.extensions.markdown``) knows ``**bold**``, ``__italic__``,
    ``~~strike~~``, ``\u0060code\u0060``, ``\u0060\u0060\u0060pre\u0060\u0060\u0060`` and
    ``[text](url)``, and has no backslash escape, so a recipient's value cannot be escaped the
    way HTML is. Instead the syntax is broken with characters that render (almost) the same: a
    zero-width space (U+200B) between doubled ``*``, ``_``, ``~`` and between ``](``, and where
    the value starts with one of ``*_~(`` or ends with one of ``*_~]`` (so it cannot pair with
    the template's text around it); every backtick becomes U+02CB MODIFIER LETTER GRAVE ACCENT,
    since a single backtick is already a delimiter. The zero-width spaces count towards
    Telegram's length limit and stay in a copied text.
    """
    value = value.replace("`", _MODIFIER_GRAVE)
    value = _DOUBLED_DELIMITER.sub(r"\1" + _ZERO_WIDTH_SPACE, value)
    value = value.replace("](", "]" + _ZERO_WIDTH_SPACE + "(")
    if value[:1] in ("*", "_", "~", "("):
        value = _ZERO_WIDTH_SPACE + value
    if value[-1:] in ("*", "_", "~", "]"):
        value += _ZERO_WIDTH_SPACE
    return value


def render(template_text: str, fields: Mapping[str, Any], parse_mode: str) -> str:
    """The message for one recipient. ``fields``: the recipient's columns (header → text);
    ``parse_mode``: ``plain`` | ``html`` | ``markdown``. Values cannot add formatting: HTML
    autoescapes them and Markdown neutralises its syntax in them (:func:`neutralise_markdown`);
    the template's own markup is untouched. Missing variables render as ""; raises
    :class:`MessageError` only for template syntax errors, which :func:`check_message` reports
    before launch."""
    template = _compile(template_text)
    context = _context(fields)
    if parse_mode == MARKDOWN:
        context = {name: neutralise_markdown(value) for name, value in context.items()}
    return template.render(Context(context, autoescape=parse_mode == HTML))


def preview(text: str, parse_mode: str, fields: Mapping[str, Any] | None = None) -> tuple[str, list[dict]]:
    """(plain text, entities) exactly as they will be sent: ``text`` is a rendered message, or a
    template rendered first with ``fields`` when given. Entities are
    ``{"type", "offset", "length", "url"?}`` with offsets in UTF-16 units."""
    if fields is not None:
        text = render(text, fields, parse_mode)
    plain, entities = parse(text, parse_mode)
    return plain, entities_as_dicts(entities)


def check_message(
    text: str, parse_mode: str, *, has_media: bool, sample_fields: Mapping[str, Any] | None = None
) -> list[str]:
    """Problems that would make the campaign fail, for staff, before launch; [] when none.

    Renders the template with ``sample_fields`` (default: none, so the shortest message) and
    checks: template syntax, broken HTML/Markdown markup, an empty message without media
    (Telegram: MESSAGE_EMPTY), text over 4096 or a caption over 1024 after entity parsing
    (MESSAGE_TOO_LONG / MEDIA_CAPTION_TOO_LONG).
    """
    try:
        rendered = render(text, sample_fields or {}, parse_mode)
    except MessageError as exc:
        return [str(exc)]
    problems = markup_problems(rendered, parse_mode)
    plain, _ = parse(rendered, parse_mode)
    length = utf16_length(plain)
    if not plain.strip() and not has_media:
        problems.append("the message is empty")
    if has_media and length > CAPTION_MAX:
        problems.append(
            f"the caption is {length} characters after formatting; Telegram allows at most {CAPTION_MAX}"
        )
    elif not has_media and length > TEXT_MAX:
        problems.append(
            f"the text is {length} characters after formatting; Telegram allows at most {TEXT_MAX}"
        )
    return problems
