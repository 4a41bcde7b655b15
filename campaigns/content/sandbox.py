"""The sandbox a campaign's message is rendered in: which tags and filters exist, and the bounds
that keep one render's work small whatever the template and the recipient's data hold.

- Tags: no loops, loaders, ``{% load %}``, ``{% include %}``, ``{% debug %}``, ``{% url %}``.
- Filters: Django's own, less ``safe``/``safeseq``; each with its numeric argument capped (a width
  at :data:`RENDER_MAX`, decimals at :data:`DECIMALS_MAX`: ``{{ first_name|ljust:"100000000" }}``
  pads to 16,384 characters, not 100 million) and its output cut at :data:`RENDER_MAX`.
- A render stops once its output passes :data:`RENDER_MAX` (:class:`Budget`), Telegram's limit
  plus a margin for markup: past it the message cannot be sent anyway.
- A template is at most :data:`TEMPLATE_MAX` characters.

Limits (docs/design.md "Limits the validators encode"; Bot API sendMessage/sendPhoto): text at most
4096 characters after entity parsing, a media caption at most 1024.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from django.template import Engine, Library, Template, TemplateSyntaxError, defaultfilters, defaulttags
from django.template.base import Node
from django.utils.safestring import SafeData, mark_safe

TEXT_MAX = 4096
CAPTION_MAX = 1024
# What a render may produce: Telegram's limit plus a margin for HTML/Markdown markup, which
# parsing removes (link targets, tags). Past it the message cannot be sent, so rendering stops.
RENDER_MAX = 4 * TEXT_MAX
# Digits after the point that floatformat may be asked for.
DECIMALS_MAX = 100
# A template longer than this is refused: a message is at most 4096 characters.
TEMPLATE_MAX = 4 * RENDER_MAX

# Filters whose numeric argument sizes their output: width (ljust, rjust, center), a printf
# spec (stringformat: widths and precisions), decimals (floatformat).
_WIDTH_FILTERS = {"ljust", "rjust", "center"}
_NUMBER = re.compile(r"\d+")

# No loops: a recipient's fields are strings, and nested loops over them let one template burn
# seconds of CPU per message inside the send loop (only on real data, so no pre-launch check sees it).
_ALLOWED_TAGS = (
    "comment",
    "filter",
    "firstof",
    "if",
    "now",
    "spaceless",
    "templatetag",
    "verbatim",
    "with",
)
# |safe and |safeseq would let a recipient's data carry markup into an HTML message.
_BLOCKED_FILTERS = {"safe", "safeseq"}


class MessageError(ValueError):
    """The template cannot be rendered (a syntax error); ``str(exc)`` is for staff."""


def _capped_argument(name: str, arg: Any) -> Any:
    """``arg`` of filter ``name`` with the numbers that size the output capped."""
    if name in _WIDTH_FILTERS:
        try:
            width = int(arg)
        except (TypeError, ValueError):
            return arg
        return max(-RENDER_MAX, min(width, RENDER_MAX))
    if name == "stringformat":
        return _NUMBER.sub(lambda m: str(min(int(m.group()), RENDER_MAX)), str(arg))
    if name == "floatformat":
        text = str(arg)
        digits = text.rstrip("gu")
        try:
            places = int(digits)
        except ValueError:
            return arg
        return str(max(-DECIMALS_MAX, min(places, DECIMALS_MAX))) + text[len(digits) :]
    return arg


def _bounded(name: str, function):
    """``function`` (a Django filter) with its argument capped, its output cut at
    :data:`RENDER_MAX`, and the value returned as it was when the filter fails on it, so no chain of filters grows a value without bound (``force_escape`` or
    ``make_list|stringformat:"s"`` repeated multiply it). ``functools.wraps`` keeps Django's view
    of the filter: its signature (how many arguments) and flags (``is_safe``, ``needs_autoescape``)."""

    @functools.wraps(function)
    def bounded(value, *args, **kwargs):
        try:
            result = function(value, *(_capped_argument(name, a) for a in args), **kwargs)
        except (ValueError, TypeError, ArithmeticError):
            # A recipient's data never fails a send: ``ljust:width`` with a width that is no
            # number (or an empty column) leaves the value as it is.
            return value
        if isinstance(result, str) and len(result) > RENDER_MAX:
            return mark_safe(result[:RENDER_MAX]) if isinstance(result, SafeData) else result[:RENDER_MAX]
        return result

    return bounded


def _sandbox_library() -> Library:
    library = Library()
    for name in _ALLOWED_TAGS:
        library.tags[name] = defaulttags.register.tags[name]
    for name, function in defaultfilters.register.filters.items():
        if name not in _BLOCKED_FILTERS:
            library.filters[name] = _bounded(name, function)
    return library


class Budget:
    """What a render may still produce, shared by the nodes of one render through the context."""

    def __init__(self, limit: int) -> None:
        self.left = limit
        self.pieces: list[str] = []


class OverBudget(Exception):
    pass


# Nodes whose output is their children's, passed through (counting them would count twice).
_CONTAINER_NODES = (defaulttags.IfNode, defaulttags.WithNode, defaulttags.CommentNode)


def _budgeted(node: Node) -> None:
    """Make ``node`` count its output against the render's :class:`Budget`. ``render_annotated``
    is what a node list calls for each node (a text node returns its text there directly)."""
    render = node.render_annotated

    def counted(context):
        output = render(context)
        budget = getattr(context, "tgc_budget", None)
        if budget is not None:
            budget.left -= len(output)
            budget.pieces.append(output)
            if budget.left < 0:
                raise OverBudget
        return output

    node.render_annotated = counted


@functools.cache
def _engine() -> Engine:
    engine = Engine(dirs=[], app_dirs=False, loaders=[], libraries={}, builtins=[])
    # Replace Django's default builtins (which include loader tags and {% load %}) wholesale.
    engine.template_builtins = [_sandbox_library()]
    return engine


@functools.lru_cache(maxsize=128)
def compile_template(template_text: str) -> Template:
    if len(template_text) > TEMPLATE_MAX:
        raise MessageError(
            f"the message template is {len(template_text)} characters; at most {TEMPLATE_MAX} are accepted"
        )
    try:
        template = _engine().from_string(template_text)
    except TemplateSyntaxError as exc:
        # Django's hint suggests {% load %}, which the sandbox does not offer.
        reason = str(exc).replace(
            "Did you forget to register or load this tag?", "Campaign messages cannot use it."
        )
        raise MessageError(f"template error: {reason}") from None
    for node in template.nodelist.get_nodes_by_type(Node):
        if not isinstance(node, _CONTAINER_NODES):
            _budgeted(node)
    return template
