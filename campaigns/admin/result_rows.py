"""The rows of a changelist written with each column's way of being shown worked out once per
page: Django's ``items_for_result`` works it out again for every cell (which field or method the
column is, its empty value, its classes, whether it links), which on a page of 100 results and 11
columns was half of the page's time. The cells are Django's, byte for byte: the values go through
its ``display_for_value`` / ``display_for_field`` and the same ``format_html`` templates.

Only plain changelists are written here (columns that are model fields or methods of the
ModelAdmin, no ``list_editable``, no popup); any other is left to Django's own rows.
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Callable, Iterator

from django.contrib.admin.templatetags.admin_list import ResultList, results
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import display_for_field, display_for_value
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.urls import NoReverseMatch
from django.utils import formats
from django.utils.functional import Promise
from django.utils.safestring import SafeString

Cell = Callable[[models.Model], str]


def rows(cl) -> Iterator[ResultList]:
    """What Django's ``results(cl)`` yields (one :class:`ResultList` of ``<td>``/``<th>`` cells
    per result), for ``cl`` a ChangeList of the admin; written here, a row's cells come as one
    item, already joined (the template's ``{% for item in result %}{{ item }}`` then writes the
    same bytes with one variable per row instead of one per cell)."""
    columns = _columns(cl)
    if columns is None:
        yield from results(cl)
        return
    for result in cl.result_list:
        yield ResultList(None, [SafeString("".join([cell(result) for cell in columns]))])


def _columns(cl) -> list[Cell] | None:
    """One function per column making its cell, or None when a column is of a kind left to Django."""
    if cl.formset or cl.is_popup or cl.to_field:
        return None
    links = cl.list_display_links
    columns, first = [], True
    for name in cl.list_display:
        if not isinstance(name, str) or name == "__str__":
            return None
        link = links is not None and ((first and not links) or name in links)
        value = _value_of(cl, name, link)
        if value is None:
            return None
        columns.append(_cell(cl, name, value, link, "th" if link and first else "td"))
        first = first and not link
    return columns


def _value_of(cl, name: str, link: bool) -> Callable | None:
    """The column's ``result → (shown value, extra classes)``, as ``items_for_result`` shows it."""
    model_admin = cl.model_admin
    empty = model_admin.get_empty_value_display()
    try:
        field = cl.lookup_opts.get_field(name)
    except FieldDoesNotExist:
        field = None
    if field is not None and field.name != name:
        return None  # a column's attname (``campaign_id``): Django reads it as an attribute
    if field is not None:
        if field.is_relation and not isinstance(field, models.ForeignKey):
            return None  # many-to-many and reverse relations: Django's rows
        if isinstance(field, models.ForeignKey):
            return lambda result: (getattr(result, field.name) or empty, ["nowrap"])
        if isinstance(field, models.IntegerField) and not field.flatchoices and _plain_numbers():
            return lambda result: (empty if (value := getattr(result, name)) is None else str(value), [])
        nowrap = ["nowrap"] if isinstance(field, (models.DateField, models.TimeField)) else []

        def shown_field(result):
            value = getattr(result, name)
            if isinstance(value, str) and value.strip() == "":
                value = ""
            return display_for_field(value, field, empty, avoid_link=link), nowrap

        return shown_field
    method = getattr(model_admin, name, None)
    if not callable(method):
        return None
    empty = getattr(method, "empty_value_display", empty)
    boolean = getattr(method, "boolean", False)

    plain_numbers = _plain_numbers()

    def shown_method(result):
        value = method(result)
        if type(value) in (str, SafeString) and value.strip():
            return value, []  # what display_for_value makes of text: the text
        if type(value) is int and plain_numbers:
            return str(value), []  # number_format without grouping: the digits
        if isinstance(value, str) and value.strip() == "":
            value = ""
        nowrap = ["nowrap"] if isinstance(value, (datetime.date, datetime.time)) else []
        return display_for_value(value, empty, boolean), nowrap

    return shown_method


def _plain_numbers() -> bool:
    """Whether the active locale writes an integer as its digits (no thousand separator), as
    Django's ``number_format`` does unless ``USE_THOUSAND_SEPARATOR`` is on: then a number's
    cell is ``str(n)``, without a format look-up per cell."""
    return str(formats.number_format(-1234567)) == "-1234567"


def _cell(cl, name: str, value: Callable, link: bool, tag: str) -> Cell:
    """The column's cell maker: its classes, and the link to the result's page when it links.
    The cell is Django's ``format_html("<td{}>{}</td>", …)`` written out (format_html and
    ``mark_safe`` check every argument for lazy text, and a page has a thousand cells): HTML
    whose every part is escaped or safe, marked safe with the row it is joined into."""
    base = ["action-checkbox"] if name == "action_checkbox" else [f"field-{name}"]
    empty = cl.model_admin.get_empty_value_display()
    preserved = cl.preserved_filters
    plain = f' class="{" ".join(base)}"'

    def cell(result) -> str:
        try:
            shown, extra = value(result)
        except ObjectDoesNotExist:
            shown, extra = empty, []
        row_class = f' class="{" ".join(base + extra)}"' if extra else plain
        if not link:
            return f"<td{row_class}>{_escaped(shown)}</td>"
        try:
            url = cl.url_for_result(result)
        except NoReverseMatch:
            text = _escaped(shown)
        else:
            if preserved:  # without filters to add, Django's call only re-encodes the same query
                url = add_preserved_filters({"preserved_filters": preserved, "opts": cl.opts}, url)
            text = f'<a href="{_escaped(url)}">{_escaped(shown)}</a>'
        return f"<{tag}{row_class}>{text}</{tag}>"

    return cell


def _escaped(value) -> str:
    """Django's ``conditional_escape``: safe text as it is, anything else escaped."""
    if isinstance(value, Promise):
        value = str(value)
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


def result_table(cl) -> dict:
    """The context of Django's ``result_list`` inclusion tag (``admin/change_list_results.html``)
    with the rows from :func:`rows`."""
    from django.contrib.admin.templatetags.admin_list import result_headers, result_hidden_fields

    headers = list(result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": list(result_hidden_fields(cl)),
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "results": list(rows(cl)),
    }
