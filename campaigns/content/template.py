"""Message text: per-recipient rendering in a sandboxed template, and checks before launch.

A campaign's message is a Django template rendered once per recipient with the row's columns
(``{{ first_name|default:'there' }}``). The engine is sandboxed: no loaders, no ``{% load %}``,
``{% include %}``, ``{% extends %}``, ``{% debug %}`` or ``{% url %}``, no ``|safe`` and no
``{% autoescape off %}``; HTML messages autoescape every value, so a name holding ``<`` cannot
break the markup, and Markdown messages neutralise Markdown syntax in every value
(:func:`neutralise_markdown`), so a name cannot become a link or bold text. A missing column renders empty: nothing a recipient's data holds can fail a
send mid-campaign. Everything that could fail fails in :func:`check_message`, before launch.

Limits (docs/design.md "Limits the validators encode"; Bot API sendMessage/sendPhoto): text at most
4096 characters after entity parsing, a media caption at most 1024, counted as Telegram counts
them, in UTF-16 code units.

The sandbox's tags, filters and bounds are :mod:`campaigns.content.sandbox`: every render's work
is bounded (``{{ first_name|ljust:"100000000" }}`` pads to 16,384 characters, and a render stops
past :data:`RENDER_MAX`), so such a message is over the limit, refused before launch or failed on
its one row, and never a 100 MB page or worker.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from django.template import Context, Template
from django.template.base import TextNode
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData, SafeString, mark_safe

from sessions_app.transport.formatting import (
    HTML,
    MARKDOWN,
    entities_as_dicts,
    markup_problems,
    parse,
    utf16_length,
)

from .fast_render import _plan, _plan_output, _render_plan, neutralise_markdown, renders_alike
from .sandbox import (
    CAPTION_MAX,
    DECIMALS_MAX,
    RENDER_MAX,
    TEMPLATE_MAX,
    TEXT_MAX,
    Budget,
    MessageError,
    OverBudget,
    RenderOverBudget,
    compile_template,
    rendering_within,
)
from .variables import (
    defaulted_unknown_variables,
    fields_context,
    is_column,
    template_variables,
    unknown_variables,
    variable_defaults,
    variable_names,
)

__all__ = [
    "CAPTION_MAX",
    "DECIMALS_MAX",
    "RENDER_MAX",
    "TEMPLATE_MAX",
    "TEXT_MAX",
    "MessageError",
    "RenderOverBudget",
    "check_message",
    "check_recipients",
    "neutralise_markdown",
    "preview",
    "render",
    "renderer",
    "renders_alike",
    "template_variables",
    "unknown_variables",
    "defaulted_unknown_variables",
    "variable_defaults",
    "fields_context",
    "is_column",
    "variable_names",
]


def _compile(template_text: str) -> Template:
    return compile_template(template_text)


def _unclosed_tags(template: Template) -> list[str]:
    """``{{`` or ``{%`` left in the template's text: Django's lexer only sees a tag when it is
    closed on the same line, so ``Hi {{ first_name`` would be sent literally."""
    text = "".join(node.s for node in template.nodelist.get_nodes_by_type(TextNode))
    problems = []
    for opening, closing in (("{{", "}}"), ("{%", "%}"), ("{#", "#}")):
        if opening in text:
            start = text.index(opening)
            excerpt = text[start : start + 30].splitlines()[0]
            problems.append(f"unclosed {opening} … {closing} tag: {excerpt!r} would be sent as it is")
    return problems


def render(template_text: str, fields: Mapping[str, Any], parse_mode: str) -> str:
    """The message for one recipient. ``fields``: the recipient's columns (header → text);
    ``parse_mode``: ``plain`` | ``html`` | ``markdown``. Values cannot add formatting: HTML
    autoescapes them and Markdown neutralises its syntax in them (:func:`neutralise_markdown`);
    the template's own markup is untouched. Missing variables render as ""; raises
    :class:`MessageError` only for template syntax errors, which :func:`check_message` reports
    before launch."""
    return _render(template_text, fields, parse_mode)[0]


def _render(template_text: str, fields: Mapping[str, Any], parse_mode: str) -> tuple[str, bool]:
    """(the message, whether it was rendered whole). Past :data:`RENDER_MAX` characters the
    render stops; the message is then what was rendered so far, cut at :data:`RENDER_MAX`: over
    Telegram's limit, so refused before launch and failed (that row only) by the engine. Past the
    work or time budget (:class:`~.sandbox.Budget`) it raises :class:`RenderOverBudget`.

    Text and plain ``{{ name }}`` / ``{{ name|default:"…" }}`` templates (most campaign messages)
    take :func:`_render_plan`, which gives the same output without Django's render machinery."""
    plan = _plan(template_text)
    if plan is not None:
        return _render_plan(plan, template_text, fields, parse_mode)
    return _render_template(template_text, fields, parse_mode)


def _context(template_text: str, fields: Mapping[str, Any], parse_mode: str) -> dict[str, str]:
    # Every variable the template reads is in the context, empty unless the row has it: Django
    # renders a missing {{ variable }} empty but fails on a missing filter argument
    # (|default:nickname), and a recipient's missing column must never fail a send.
    context = dict.fromkeys(template_variables(template_text), "") | fields_context(fields)
    if parse_mode == MARKDOWN:
        context = {name: neutralise_markdown(value) for name, value in context.items()}
    return context


def _render_template(template_text: str, fields: Mapping[str, Any], parse_mode: str) -> tuple[str, bool]:
    """:func:`_render` by Django's template engine (the sandbox), for any template."""
    template = _compile(template_text)
    bound = Context(_context(template_text, fields, parse_mode), autoescape=parse_mode == HTML)
    bound.tgc_budget = budget = Budget(RENDER_MAX)
    try:
        with rendering_within(budget):
            output = template.render(bound)
    except OverBudget:
        if error := budget.overrun():
            raise error from None
        return "".join(budget.pieces)[:RENDER_MAX], False
    if error := budget.overrun():  # spent in an {% if %} condition, which Django swallows
        raise error
    return output, True


def renderer(template_text: str, parse_mode: str) -> Callable[[Mapping[str, Any]], str]:
    """A function fields → :func:`render` ``(template_text, fields, parse_mode)``, for rendering
    one template for many recipients (the engine's sends, exports). ``fields``: a JSON object as
    decoded (string keys). Raises :class:`MessageError` for a syntax error, at once; the function
    raises :class:`RenderOverBudget` for a recipient whose render is over the budget."""
    plan = _plan(template_text)
    if plan is None:
        return lambda fields: _render_template(template_text, fields, parse_mode)[0]
    if all(type(part) is str for part in plan):  # no personal fields: the same for everyone
        same = _render_plan(plan, template_text, {}, parse_mode)[0]
        return lambda fields: same
    markdown, escape = parse_mode == MARKDOWN, parse_mode == HTML
    # The text with a {} per variable, so that a recipient whose columns are all there as text
    # (every row of an imported list) costs one format call.
    text = "".join(part.replace("{", "{{").replace("}", "}}") if type(part) is str else "{}" for part in plan)
    variables = [part for part in plan if type(part) is not str]

    def render(fields: Mapping[str, Any]) -> str:
        values = []
        for name, default in variables:
            value = fields.get(name)
            if type(value) is not str:  # missing, None, a number: as _plan_output reads it
                output = _plan_output(plan, template_text, fields, markdown, escape)
                break
            if markdown:
                value = neutralise_markdown(value)
            if default is not None:
                value = value or mark_safe(default)
                if len(value) > RENDER_MAX:
                    value = (
                        mark_safe(value[:RENDER_MAX]) if isinstance(value, SafeData) else value[:RENDER_MAX]
                    )
            values.append(conditional_escape(value) if escape else value)
        else:
            if sum(map(len, values)) > RENDER_MAX:  # built piece by piece, stopping at the bound
                output = _plan_output(plan, template_text, fields, markdown, escape)
            else:
                output = text.format(*values)
        return output[:RENDER_MAX] if len(output) > RENDER_MAX else SafeString(output)

    return render


def preview(text: str, parse_mode: str, fields: Mapping[str, Any] | None = None) -> tuple[str, list[dict]]:
    """(plain text, entities) exactly as they will be sent: ``text`` is a rendered message, or a
    template rendered first with ``fields`` when given. Entities are
    ``{"type", "offset", "length", "url"?}`` with offsets in UTF-16 units."""
    if fields is not None:
        text = render(text, fields, parse_mode)
    plain, entities = parse(text, parse_mode)
    return plain, entities_as_dicts(entities)


def check_message(
    text: str,
    parse_mode: str,
    *,
    has_media: bool,
    sample_fields: Mapping[str, Any] | None = None,
    known_fields: Collection[str] | None = None,
) -> list[str]:
    """Problems that would make the campaign fail, for staff, before launch; [] when none.

    Renders the template with ``sample_fields`` (a recipient's fields; default: a sample value
    for every variable it reads, :data:`SAMPLE_VALUE`, so ``**{{ first_name }}**`` is checked as
    the valid Markdown it is for anyone with a first name, not as ``****``) and checks: template syntax, a ``{{`` or ``{%`` never closed, broken HTML/Markdown markup, an
    empty message without media (Telegram: MESSAGE_EMPTY), text over 4096 or a caption over 1024
    after entity parsing (MESSAGE_TOO_LONG / MEDIA_CAPTION_TOO_LONG), a render that grows past
    :data:`RENDER_MAX` or takes more than its work or time budget. With ``known_fields`` (the chosen lists' column headers), also a variable
    that is none of them: it would render empty.
    """
    try:
        problems = _unclosed_tags(_compile(text))
    except MessageError as exc:
        return [str(exc)]
    if known_fields is not None:
        problems += unknown_variables(text, known_fields)
    if sample_fields is None:
        sample_fields = dict.fromkeys(template_variables(text), SAMPLE_VALUE)
    return problems + [
        message for _, message in _rendered_problems(text, parse_mode, has_media, sample_fields)
    ]


def _rendered_problems(
    text: str, parse_mode: str, has_media: bool, fields: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """(kind, problem) for the message rendered with ``fields``: ``too_costly`` (over the render's
    work or time budget), ``too_big`` (the render passed :data:`RENDER_MAX`), ``markup``,
    ``empty``, ``too_long``."""
    try:
        rendered, whole = _render(text, fields, parse_mode)
    except RenderOverBudget as exc:
        return [("too_costly", str(exc))]
    if not whole:
        limit = CAPTION_MAX if has_media else TEXT_MAX
        return [
            (
                "too_big",
                f"the message grows past {RENDER_MAX} characters when personalised (a filter such as "
                f"ljust, center or stringformat with a large number?); Telegram allows at most {limit}",
            )
        ]
    problems = [("markup", p) for p in markup_problems(rendered, parse_mode)]
    plain, _ = parse(rendered, parse_mode)
    length = utf16_length(plain)
    if not plain.strip() and not has_media:
        problems.append(("empty", "the message is empty"))
    if has_media and length > CAPTION_MAX:
        problems.append(
            (
                "too_long",
                f"the caption is {length} characters after formatting; Telegram allows at most {CAPTION_MAX}",
            )
        )
    elif not has_media and length > TEXT_MAX:
        problems.append(
            (
                "too_long",
                f"the text is {length} characters after formatting; Telegram allows at most {TEXT_MAX}",
            )
        )
    return problems


# What a variable holds when the check has no recipient's fields: a short plain word, neither
# empty nor markup, so only the template's own text can fail the formatting checks.
SAMPLE_VALUE = "Sample"
# Kinds of problem that refuse the launch even when only some recipients meet them: their
# message would arrive with its formatting broken (Markdown sent as raw text), not fail alone.
_REFUSED_FOR_ANY = {"markup"}


def check_recipients(
    text: str, parse_mode: str, *, has_media: bool, recipients: Iterable[tuple[str, Mapping[str, Any]]]
) -> tuple[list[str], list[str]]:
    """The message as each of ``recipients`` ((where, fields) pairs, ``where`` saying where the
    recipient is: "row 4 of “people”") would get it: (problems, warnings). A kind of failure that
    every recipient checked would meet is a problem (every row would fail alike: do not launch); one
    that only some would meet is a warning (those rows fail alone, docs/design.md "Error kinds",
    content), except broken formatting, a problem for any (:data:`_REFUSED_FOR_ANY`: the message
    would go out as raw markup). One line per kind, with how many recipients and the first of
    them. A template that does not compile is :func:`check_message`'s to report."""
    try:
        _compile(text)
    except MessageError:
        return [], []
    found: dict[str, list] = {}  # kind → [count, first problem, first where]
    total = 0
    for where, fields in recipients:
        total += 1
        for kind, problem in _rendered_problems(text, parse_mode, has_media, fields):
            found.setdefault(kind, [0, problem, where])[0] += 1
    problems, warnings = [], []
    for kind, (count, problem, where) in found.items():
        if count == total:
            problems.append(f"for every recipient checked ({total}), {problem} (first: {where})")
        elif kind in _REFUSED_FOR_ANY:
            problems.append(f"for {count} of {total} recipients checked, {problem} (first: {where})")
        else:
            warnings.append(f"for {count} of {total} recipients checked, {problem} (first: {where})")
    return problems, warnings
