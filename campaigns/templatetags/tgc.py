"""Template tags of the staff pages: the home page's dashboard, times with their zone's name,
error codes in plain words, and the results changelist's table."""

from __future__ import annotations

from django import template

from ..people.timezones import when, zone_label
from ..reporting.errorcodes import explain
from ..reporting.home import home_context

register = template.Library()


@register.inclusion_tag("admin/campaigns/_home.html", takes_context=True)
def tgc_home(context) -> dict:
    """The home page's sections for the signed-in user."""
    request = context["request"]
    return {**home_context(request.user), "request": request}


@register.inclusion_tag("admin/change_list_results.html")
def tgc_result_list(cl) -> dict:
    """Django's ``{% result_list cl %}``, its rows written once per column
    (:mod:`campaigns.admin.result_rows`): the same table in half the time."""
    from ..admin.result_rows import result_table

    return result_table(cl)


@register.filter
def tgc_when(value) -> str:
    """A datetime in the user's zone with the zone's name: "2026-11-29 10:39 CET"."""
    return when(value)


@register.simple_tag
def tgc_zone() -> str:
    """The active zone: "Europe/Berlin (CET)"."""
    return zone_label()


@register.filter
def tgc_explain(code: str) -> str:
    """An error code's plain explanation."""
    return explain(code).explanation if code else ""
