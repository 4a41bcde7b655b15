"""The variables a campaign's message reads, and the context a recipient's columns make for it:
which names a template uses (and their ``|default``), which of them no chosen list has, and a
row's columns by header and by a template-friendly alias (``First name`` → ``first_name``)."""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from django.template import defaulttags
from django.template.base import FilterExpression, Node, Variable
from django.template.smartif import TokenBase

from .sandbox import compile_template

_compile = compile_template

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
