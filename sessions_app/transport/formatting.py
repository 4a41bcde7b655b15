"""Message markup → Telegram entities, with Telethon's own parsers.

The transport sends ``parse(text, mode)``'s result as ``formatting_entities``, and the admin
preview shows ``entities_as_dicts`` of the same call, so the preview is exactly what is sent.
This module is the only place outside the transport that touches Telethon's parsers
(the house style: one wrapper per external system).

Offsets and lengths are in UTF-16 code units, as Telegram counts them (core.telegram.org/api/entities).
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from telethon.extensions import html as telethon_html
from telethon.extensions import markdown as telethon_markdown
from telethon.tl import types

PLAIN = "plain"
HTML = "html"
MARKDOWN = "markdown"

# Bot API entity type names (core.telegram.org/bots/api#messageentity), for staff-facing output.
_ENTITY_NAMES: dict[type, str] = {
    types.MessageEntityBold: "bold",
    types.MessageEntityItalic: "italic",
    types.MessageEntityUnderline: "underline",
    types.MessageEntityStrike: "strikethrough",
    types.MessageEntitySpoiler: "spoiler",
    types.MessageEntityCode: "code",
    types.MessageEntityPre: "pre",
    types.MessageEntityTextUrl: "text_link",
    types.MessageEntityUrl: "url",
    types.MessageEntityEmail: "email",
    types.MessageEntityMentionName: "text_mention",
    types.MessageEntityBlockquote: "blockquote",
    types.MessageEntityCustomEmoji: "custom_emoji",
}

# The tags Telethon's HTML parser turns into entities; any other tag is dropped, keeping its text.
SUPPORTED_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "s", "del", "code", "pre", "a", "blockquote", "tg-emoji"}
)


def parse(text: str, parse_mode: str) -> tuple[str, list[Any]]:
    """(plain text, Telethon ``MessageEntity`` objects) for ``text`` in ``parse_mode``
    (``plain`` | ``html`` | ``markdown``). Plain text is sent as is, with no entities; the HTML
    and Markdown parsers strip leading/trailing whitespace, as Telethon does when sending."""
    if parse_mode == HTML:
        return telethon_html.parse(text)
    if parse_mode == MARKDOWN:
        return telethon_markdown.parse(text)
    if parse_mode == PLAIN or not parse_mode:
        return text, []
    raise ValueError(f"unknown parse mode {parse_mode!r}")


def entities_as_dicts(entities: list[Any]) -> list[dict[str, Any]]:
    """Entities as ``{"type", "offset", "length"}`` (UTF-16 units) plus ``url`` for text links
    and ``language`` for code blocks."""
    result = []
    for entity in entities:
        item: dict[str, Any] = {
            "type": _ENTITY_NAMES.get(type(entity), type(entity).__name__),
            "offset": entity.offset,
            "length": entity.length,
        }
        if getattr(entity, "url", None):
            item["url"] = entity.url
        if getattr(entity, "language", None):
            item["language"] = entity.language
        result.append(item)
    return result


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def markup_problems(text: str, parse_mode: str) -> list[str]:
    """Markup that Telethon would silently mangle: unclosed or mismatched HTML tags (the entity
    is dropped), tags Telegram does not know (removed), links without ``href``; in Markdown,
    delimiters left unpaired (sent as literal ``**``). Empty for plain text."""
    if parse_mode == HTML:
        checker = _TagChecker()
        checker.feed(text)
        checker.close()
        return checker.finish()
    if parse_mode == MARKDOWN:
        plain, _ = telethon_markdown.parse(text)
        return [
            f"unpaired Markdown {mark} (it will be sent as text)"
            for mark in ("**", "__", "~~", "```", "`")
            if mark in plain and not (mark == "`" and "```" in plain)
        ]
    return []


class _TagChecker(HTMLParser):
    """Tracks open tags to report what Telethon's lenient parser would drop."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SUPPORTED_TAGS:
            self.problems.append(f"<{tag}> is not a Telegram formatting tag; it will be removed")
            return
        if tag == "a" and not dict(attrs).get("href"):
            self.problems.append("<a> without href: the link will be sent as plain text")
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SUPPORTED_TAGS:
            self.problems.append(f"<{tag}/> is not a Telegram formatting tag; it will be removed")

    def handle_endtag(self, tag: str) -> None:
        if tag not in SUPPORTED_TAGS:
            return
        if tag not in self.open:
            self.problems.append(f"</{tag}> closes a tag that is not open")
            return
        while self.open[-1] != tag:
            unclosed = self.open.pop()
            self.problems.append(f"<{unclosed}> is not closed before </{tag}>")
        self.open.pop()

    def finish(self) -> list[str]:
        self.problems.extend(f"<{tag}> is never closed" for tag in reversed(self.open))
        self.open.clear()
        return self.problems
