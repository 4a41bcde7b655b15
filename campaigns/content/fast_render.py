"""Rendering a campaign's message without Django's template machinery when it is only text and
plain variables (``{{ name }}``, ``{{ name|default:"…" }}``): the same output as the sandboxed
engine (:mod:`campaigns.content.template`; held equal by property tests), at a fraction of the
cost per recipient. Also the Markdown neutralisation both paths apply to a recipient's values,
and whether a message renders alike for everyone."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from django.template import defaulttags
from django.template.base import Node, TextNode, Variable, VariableNode
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData, SafeString, mark_safe

from sessions_app.transport.formatting import HTML, MARKDOWN

from .sandbox import RENDER_MAX, compile_template
from .variables import _expressions, fields_context, template_variables

_compile = compile_template
_ZERO_WIDTH_SPACE = "\u200b"
_MODIFIER_GRAVE = "\u02cb"  # ˋ: looks like a backtick, is not Markdown
_DOUBLED_DELIMITER = re.compile(r"([*_~])(?=\1)")


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


# A plan part: literal text, or (variable name, the literal of its |default, or None).
_Part = str | tuple[str, str | None]


@functools.lru_cache(maxsize=128)
def _plan(template_text: str) -> tuple[_Part, ...] | None:
    """The template as literal text and plain variables when that is all it is, else None.

    A variable qualifies when it is one name (no ``.`` lookups, no ``_()``), with no filter or
    only ``|default:"literal"``. Django renders such a node as the context value, autoescaped in
    HTML; a ``|default`` literal is marked safe by the template engine and so is not escaped, and
    the sandbox cuts a filter's output at :data:`RENDER_MAX`. Raises :class:`MessageError` for a
    syntax error."""
    template = _compile(template_text)
    names = set(template_variables(template_text))
    parts: list[_Part] = []
    for node in template.nodelist:
        if isinstance(node, TextNode):
            parts.append(node.s)
            continue
        if not isinstance(node, VariableNode):
            return None
        expression = node.filter_expression
        variable = expression.var
        if not (
            isinstance(variable, Variable)
            and variable.lookups is not None
            and len(variable.lookups) == 1
            and variable.lookups[0] in names
            and not variable.translate
            and variable.message_context is None
        ):
            return None
        default = None
        if expression.filters:
            if len(expression.filters) > 1:
                return None
            function, arguments = expression.filters[0]
            if getattr(function, "__name__", "") != "default" or len(arguments) != 1:
                return None
            is_variable, literal = arguments[0]
            if is_variable or not isinstance(literal, str):
                return None
            default = literal
        parts.append((variable.lookups[0], default))
    return tuple(parts)


def _render_plan(
    plan: tuple[_Part, ...], template_text: str, fields: Mapping[str, Any], parse_mode: str
) -> tuple[str, bool]:
    """:func:`_render` of a template that :func:`_plan` took apart: the same output as Django's
    render in the sandbox (held equal by tests over generated templates and values)."""
    output = _plan_output(plan, template_text, fields, parse_mode == MARKDOWN, parse_mode == HTML)
    if len(output) > RENDER_MAX:
        return output[:RENDER_MAX], False
    return SafeString(output), True


def _plan_output(
    plan: tuple[_Part, ...], template_text: str, fields: Mapping[str, Any], markdown: bool, escape: bool
) -> str:
    """The whole output of ``plan`` for ``fields``. A variable that is a column's header is read
    from ``fields`` directly (what :func:`fields_context` gives it); the whole context is built
    only when one is not (an alias, a missing column)."""
    context = None
    for key in fields:
        if type(key) is not str:  # two keys may name one column: leave that to fields_context
            context = _full_context(template_text, fields)
            break
    pieces = []
    length = 0
    for part in plan:
        if length > RENDER_MAX:  # the caller cuts there: build no more than that (and one piece)
            break
        if type(part) is str:
            pieces.append(part)
            length += len(part)
            continue
        name, default = part  # type: ignore[misc]
        if context is None and name in fields:
            value = fields[name]
            value = "" if value is None else str(value)
        else:
            if context is None:
                context = _full_context(template_text, fields)
            value = context[name]
        if markdown:
            value = neutralise_markdown(value)
        if default is not None:
            value = value or mark_safe(default)  # the |default filter, given a safe literal
            if len(value) > RENDER_MAX:  # the sandbox's cut of a filter's output
                value = mark_safe(value[:RENDER_MAX]) if isinstance(value, SafeData) else value[:RENDER_MAX]
        pieces.append(conditional_escape(value) if escape else value)
        length += len(pieces[-1])
    return "".join(pieces)


def _full_context(template_text: str, fields: Mapping[str, Any]) -> dict[str, str]:
    return dict.fromkeys(template_variables(template_text), "") | fields_context(fields)


@functools.lru_cache(maxsize=128)
def renders_alike(template_text: str) -> bool:
    """Whether ``template_text`` renders the same for every recipient (in one process, settings
    unchanged): it reads no variable, and has no ``{% now %}`` and no ``|random``. Raises
    :class:`MessageError` for a syntax error."""
    if template_variables(template_text):
        return False
    for node in _compile(template_text).nodelist.get_nodes_by_type(Node):
        if isinstance(node, defaulttags.NowNode):
            return False
        for expression in _expressions(vars(node)):
            if any(getattr(function, "__name__", "") == "random" for function, _ in expression.filters):
                return False
    return True
