"""The sandbox a campaign's message is rendered in: which tags and filters exist, and the bounds
that keep one render's work small whatever the template and the recipient's data hold.

- Tags: no loops, loaders, ``{% load %}``, ``{% include %}``, ``{% debug %}``, ``{% url %}``.
- Filters: Django's own, less ``safe``/``safeseq``; each with its numeric argument capped (a width
  at :data:`RENDER_MAX`, decimals at :data:`DECIMALS_MAX`: ``{{ first_name|ljust:"100000000" }}``
  pads to 16,384 characters, not 100 million) and its output cut at :data:`RENDER_MAX`.
- A render stops once its output passes :data:`RENDER_MAX` (:class:`Budget`), Telegram's limit
  plus a margin for markup: past it the message cannot be sent anyway.
- A render may handle at most :data:`RENDER_WORK_MAX` characters in its filters (each filter is
  charged what it reads and writes, weighted by its cost per character, *before* it runs where
  its output can be foreseen) and may run at most :data:`RENDER_SECONDS`: 10,800 ``|title`` over
  16,384 characters took 9.7 s per recipient before (issue 19.12). Past either it stops and
  raises :class:`RenderOverBudget` with the reason.
- A template is at most :data:`TEMPLATE_MAX` characters.

Limits (docs/design.md "Limits the validators encode"; Bot API sendMessage/sendPhoto): text at most
4096 characters after entity parsing, a media caption at most 1024.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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
# The work one render may do in filters, in characters handled (read plus written, weighted): an
# ordinary message uses a few thousand; 250,000 is a few dozen milliseconds of the costliest.
RENDER_WORK_MAX = 250_000
# Wall-clock backstop for one render, in seconds (the work count is the rule; this catches a
# filter whose cost per character nobody foresaw).
RENDER_SECONDS = 1.0
# Filters that cost more per character than a string method (measured over 16,384 characters:
# |title 2 ms, |urlize 14 ms, |join and the *seq filters about 100 ms, one step per character).
_FILTER_WEIGHTS = {
    "urlize": 10,
    "urlizetrunc": 10,
    "wordwrap": 3,
    "phone2numeric": 3,
    "date": 3,
    "pprint": 3,
    "iriencode": 2,
    "join": 50,
    "escapeseq": 50,
    "unordered_list": 50,
    "make_list": 20,
    "dictsort": 50,
    "dictsortreversed": 50,
}

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


def _size(value: Any) -> int:
    """Characters (or items) in ``value``, without converting it."""
    return len(value) if isinstance(value, (str, list, tuple, dict)) else 1


def _foreseen_cost(name: str, value: Any, args: tuple) -> int:
    """The work ``name`` will do on ``value`` with ``args``, charged before it runs: what it reads,
    weighted, and for ``join`` what it will write (every item plus the separator between each)."""
    size = _size(value)
    cost = size * _FILTER_WEIGHTS.get(name, 1) + sum(_size(a) for a in args)
    if name == "join" and args:
        cost += size * _size(args[0])
    return cost


def _bounded(name: str, function):
    """``function`` (a Django filter) with its argument capped, its output cut at
    :data:`RENDER_MAX`, and the value returned as it was when the filter fails on it, so no chain of filters grows a value without bound (``force_escape`` or
    ``make_list|stringformat:"s"`` repeated multiply it). ``functools.wraps`` keeps Django's view
    of the filter: its signature (how many arguments) and flags (``is_safe``, ``needs_autoescape``)."""

    @functools.wraps(function)
    def bounded(value, *args, **kwargs):
        args = tuple(_capped_argument(name, a) for a in args)
        budget = _current_budget.get()
        if budget is not None:
            budget.charge(_foreseen_cost(name, value, args))
        try:
            result = function(value, *args, **kwargs)
        except (ValueError, TypeError, ArithmeticError):
            # A recipient's data never fails a send: ``ljust:width`` with a width that is no
            # number (or an empty column) leaves the value as it is.
            return value
        if budget is not None:
            budget.charge(_size(result))
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


class RenderOverBudget(MessageError):
    """A render took more work (:data:`RENDER_WORK_MAX`) or time (:data:`RENDER_SECONDS`) than a
    message may; ``str(exc)`` says so, for staff."""


class OverBudget(Exception):
    """Raised inside a render to stop it; ``reason``: ``size`` | ``work`` | ``time``."""

    def __init__(self, reason: str = "size") -> None:
        super().__init__(reason)
        self.reason = reason


class Budget:
    """What one render may still produce (``left``, characters of output, shared by its nodes
    through the context) and still do (``work_left``, characters its filters handle; until
    ``deadline``, a :func:`time.monotonic` instant). Once spent it stays spent: a filter in an
    ``{% if %}`` condition whose OverBudget Django swallows still ends the render at the next
    charge, and :meth:`overrun` tells after the render."""

    def __init__(self, limit: int, work: int = RENDER_WORK_MAX, seconds: float = RENDER_SECONDS) -> None:
        self.left = limit
        self.pieces: list[str] = []
        self.work_left = work
        self.deadline = time.monotonic() + seconds
        self.reason = ""

    def charge(self, work: int) -> None:
        """Count ``work`` characters handled; raises :class:`OverBudget` past the work or time."""
        self.work_left -= work
        if self.work_left < 0:
            self.reason = self.reason or "work"
        elif time.monotonic() > self.deadline:
            self.reason = self.reason or "time"
        if self.reason:
            raise OverBudget(self.reason)

    def overrun(self) -> RenderOverBudget | None:
        """The error to raise when the work or time ran out during the render, else None."""
        if self.reason == "work":
            return RenderOverBudget(
                f"the message takes too much work to personalise (its filters handle more than "
                f"{RENDER_WORK_MAX:,} characters for one recipient: a long chain of filters over a long "
                "value?); simplify it"
            )
        if self.reason == "time":
            return RenderOverBudget(
                f"the message takes too much work to personalise (more than {RENDER_SECONDS:g} s for one "
                "recipient); simplify its filters"
            )
        return None


# The budget of the render in progress in this thread (filters have no context to read it from).
_current_budget: ContextVar[Budget | None] = ContextVar("tgc_render_budget", default=None)


@contextmanager
def rendering_within(budget: Budget) -> Iterator[Budget]:
    """Charge the filters that run inside the ``with`` block to ``budget``."""
    token = _current_budget.set(budget)
    try:
        yield budget
    finally:
        _current_budget.reset(token)


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
                raise OverBudget("size")
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
