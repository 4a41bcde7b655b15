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

The sandbox's tags, filters and bounds are :mod:`campaigns.content.sandbox`: every render's work
is bounded (``{{ first_name|ljust:"100000000" }}`` pads to 16,384 characters, and a render stops
past :data:`RENDER_MAX`), so such a message is over the limit, refused before launch or failed on
its one row, and never a 100 MB page or worker.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any

from django.template import Context, Template, defaulttags
from django.template.base import FilterExpression, Node, TextNode, Variable, VariableNode
from django.template.smartif import TokenBase
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

from .sandbox import (
    CAPTION_MAX,
    DECIMALS_MAX,
    RENDER_MAX,
    TEMPLATE_MAX,
    TEXT_MAX,
    Budget,
    MessageError,
    OverBudget,
    compile_template,
)

__all__ = [
    "CAPTION_MAX",
    "DECIMALS_MAX",
    "RENDER_MAX",
    "TEMPLATE_MAX",
    "TEXT_MAX",
    "MessageError",
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

_ZERO_WIDTH_SPACE = "\u200b"
_MODIFIER_GRAVE = "\u02cb"  # ˋ: looks like a backtick, is not Markdown
_DOUBLED_DELIMITER = re.compile(r"([*_~])(?=\1)")


def _compile(template_text: str) -> Template:
    return compile_template(template_text)


# What Django accepts as a variable name (it refuses a leading underscore).
_VARIABLE = re.compile(r"[^\W_]\w*")


@functools.lru_cache(maxsize=1024)  # a list's few headers, once per recipient each
def _alias(name: str) -> str:
    """The template-friendly alias of a column header: ``First name`` → ``first_name``."""
    return re.sub(r"\W+", "_", name.strip().lower()).strip("_")


def fields_context(fields: Mapping[str, Any]) -> dict[str, str]:
    """The row's columns by their header, plus a template-friendly alias (``First name`` →
    ``first_name``) when the header is not a valid variable name. None renders empty."""
    context: dict[str, str] = {}
    for name, value in fields.items():
        context[str(name)] = "" if value is None else str(value)
    for name in list(context):
        alias = _alias(name)
        if alias and alias not in context:
            context[alias] = context[name]
    return context


def variable_names(columns: Iterable[str]) -> list[str]:
    """The names a template can use for list ``columns``, in their order: the header itself when
    it is a valid variable name (``city``), else its alias (``First name`` → ``first_name``)."""
    names: dict[str, None] = {}
    for column in map(str, columns):
        name = column if _VARIABLE.fullmatch(column) else _alias(column)
        if name:
            names.setdefault(name, None)
    return list(names)


@functools.lru_cache(maxsize=128)
def template_variables(template_text: str) -> tuple[str, ...]:
    """The context variables ``template_text`` reads, in order of first use: the first part of
    ``{{ a.b }}``, of ``{% if a %}``, of filter arguments (``|default:b``); names the template
    binds itself (``{% for a in … %}``, ``{% with a=… %}``, ``… as a``, ``forloop``) are left out.
    Raises :class:`MessageError` for a syntax error."""
    return tuple(name for name, _ in variable_defaults(template_text))


@functools.lru_cache(maxsize=128)
def variable_defaults(template_text: str) -> tuple[tuple[str, str | None], ...]:
    """(name, default) for each variable of :func:`template_variables`, in the same order. The
    default is the text of ``|default:"…"`` when every use of the variable has that filter (the
    first use's text; "" when the default is another variable), None when some use has none (a
    bare ``{{ name }}``, a ``{% if name %}``, a filter argument). A variable with a default never
    renders empty. Raises :class:`MessageError` for a syntax error."""
    nodes = _compile(template_text).nodelist.get_nodes_by_type(Node)
    bound = {"forloop"}
    for node in nodes:
        bound.update(getattr(node, "loopvars", ()))
        bound.update(getattr(node, "extra_context", {}))
        bound.update(n for n in (getattr(node, "asvar", None), getattr(node, "variable_name", None)) if n)
    defaults: dict[str, str | None] = {}
    seen: set[str] = set()

    def use(name: str, default: str | None) -> None:
        if name not in seen:
            seen.add(name)
            defaults[name] = default
        elif default is None:
            defaults[name] = None

    for node in nodes:
        if isinstance(node, defaulttags.FilterNode):  # {% filter %} compiles a dummy "var|…"
            continue
        for expression in _expressions(vars(node)):
            variable = expression.var
            if isinstance(variable, Variable) and variable.lookups:
                use(variable.lookups[0], _default_of(expression))
            for _, arguments in expression.filters:
                for _, argument in arguments:
                    if isinstance(argument, Variable) and argument.lookups:
                        use(argument.lookups[0], None)
    return tuple((name, default) for name, default in defaults.items() if name not in bound)


def _default_of(expression: FilterExpression) -> str | None:
    """The text ``expression``'s ``|default`` filter gives, "" when it is a variable, None when
    it has no ``|default`` (``|default_if_none`` does not count: a missing column renders "")."""
    for function, arguments in expression.filters:
        if getattr(function, "__name__", "") == "default":
            value = arguments[0][1] if arguments else ""
            return value if isinstance(value, str) and not isinstance(value, Variable) else ""
    return None


def _expressions(value: Any) -> Iterator[FilterExpression]:
    """The filter expressions held in a node's attributes (lists, dicts, ``{% if %}`` conditions);
    nested nodes are not entered, :meth:`NodeList.get_nodes_by_type` lists them."""
    if isinstance(value, FilterExpression):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _expressions(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _expressions(item)
    elif isinstance(value, TokenBase):  # an {% if %} condition: a literal or an operator
        for part in ("value", "first", "second"):
            yield from _expressions(getattr(value, part, None))


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


def unknown_variables(template_text: str, known_fields: Collection[str]) -> list[str]:
    """A problem for each variable of ``template_text`` that is no column of ``known_fields``
    (headers as in the file; their aliases count) and has no ``|default`` at every use: it
    would render empty for everyone ("Hi , …"), so it refuses the launch."""
    return [
        f"{{{{ {name} }}}} is not a column of the chosen lists ({_columns_phrase(known_fields)})"
        for name, default in variable_defaults(template_text)
        if default is None and not is_column(name, known_fields)
    ]


def defaulted_unknown_variables(template_text: str, known_fields: Collection[str]) -> list[str]:
    """A warning for each variable that is no column of ``known_fields`` but has a ``|default``
    at every use: everyone gets the default (a misspelled ``{{ frist_name|default:'there' }}``
    greets everyone as "there"), which staff may mean or not."""
    return [
        f"{{{{ {name} }}}} is not a column of the chosen lists ({_columns_phrase(known_fields)}): "
        f"every recipient gets its default “{default}”"
        for name, default in variable_defaults(template_text)
        if default is not None and not is_column(name, known_fields)
    ]


def is_column(name: str, known_fields: Collection[str]) -> bool:
    """Whether the template variable ``name`` reads one of ``known_fields`` (headers; their
    aliases count)."""
    return name in set(map(str, known_fields)) | {_alias(str(field)) for field in known_fields}


def _columns_phrase(known_fields: Collection[str]) -> str:
    usable = ", ".join(variable_names(known_fields))
    return f"columns: {usable}" if usable else "they have no column besides the recipient"


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
    return _render(template_text, fields, parse_mode)[0]


def _render(template_text: str, fields: Mapping[str, Any], parse_mode: str) -> tuple[str, bool]:
    """(the message, whether it was rendered whole). Past :data:`RENDER_MAX` characters the
    render stops; the message is then what was rendered so far, cut at :data:`RENDER_MAX`: over
    Telegram's limit, so refused before launch and failed (that row only) by the engine.

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
        return template.render(bound), True
    except OverBudget:
        return "".join(budget.pieces)[:RENDER_MAX], False


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
    for part in plan:
        if type(part) is str:
            pieces.append(part)
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
    return "".join(pieces)


def _full_context(template_text: str, fields: Mapping[str, Any]) -> dict[str, str]:
    return dict.fromkeys(template_variables(template_text), "") | fields_context(fields)


def renderer(template_text: str, parse_mode: str) -> Callable[[Mapping[str, Any]], str]:
    """A function fields → :func:`render` ``(template_text, fields, parse_mode)``, for rendering
    one template for many recipients (the engine's sends, exports). ``fields``: a JSON object as
    decoded (string keys). Raises :class:`MessageError` for a syntax error, at once."""
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
            output = text.format(*values)
        return output[:RENDER_MAX] if len(output) > RENDER_MAX else SafeString(output)

    return render


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

    Renders the template with ``sample_fields`` (default: none, so the shortest message) and
    checks: template syntax, a ``{{`` or ``{%`` never closed, broken HTML/Markdown markup, an
    empty message without media (Telegram: MESSAGE_EMPTY), text over 4096 or a caption over 1024
    after entity parsing (MESSAGE_TOO_LONG / MEDIA_CAPTION_TOO_LONG), a render that grows past
    :data:`RENDER_MAX`. With ``known_fields`` (the chosen lists' column headers), also a variable
    that is none of them: it would render empty.
    """
    try:
        problems = _unclosed_tags(_compile(text))
    except MessageError as exc:
        return [str(exc)]
    if known_fields is not None:
        problems += unknown_variables(text, known_fields)
    return problems + [
        message for _, message in _rendered_problems(text, parse_mode, has_media, sample_fields or {})
    ]


def _rendered_problems(
    text: str, parse_mode: str, has_media: bool, fields: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """(kind, problem) for the message rendered with ``fields``: ``too_big`` (the render passed
    :data:`RENDER_MAX`), ``markup``, ``empty``, ``too_long``."""
    rendered, whole = _render(text, fields, parse_mode)
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


def check_recipients(
    text: str, parse_mode: str, *, has_media: bool, recipients: Iterable[tuple[str, Mapping[str, Any]]]
) -> tuple[list[str], list[str]]:
    """The message as each of ``recipients`` ((where, fields) pairs, ``where`` saying where the
    recipient is: "row 4 of “people”") would get it: (problems, warnings). A kind of failure that
    every recipient checked would meet is a problem (every row would fail alike: do not launch);
    one that only some would meet is a warning (those rows fail alone, DESIGN.md "content"). One
    line per kind, with how many recipients and the first of them. A template that does not
    compile is :func:`check_message`'s to report."""
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
    for count, problem, where in found.values():
        if count == total:
            problems.append(f"for every recipient checked ({total}), {problem} (first: {where})")
        else:
            warnings.append(f"for {count} of {total} recipients checked, {problem} (first: {where})")
    return problems, warnings
