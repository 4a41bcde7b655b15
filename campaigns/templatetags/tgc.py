"""Template tags of the staff pages: the home page's dashboard, times with their zone's name,
error codes in plain words, and the results changelist's table."""

from __future__ import annotations

from django import template
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from ..people.timezones import when, zone_label
from ..reporting.errorcodes import explain
from ..reporting.home import home_context
from ..reporting.page_cache import reused

register = template.Library()


@register.inclusion_tag("admin/campaigns/_home.html", takes_context=True)
def tgc_home(context) -> dict:
    """The home page's sections for the signed-in user."""
    request = context["request"]
    return {**home_context(request.user), "request": request}


@register.simple_tag(takes_context=True)
def tgc_nav_sidebar(context) -> str:
    """Django's navigation sidebar (``admin/nav_sidebar.html``), drawn once per user, permissions,
    language and page and reused for ``TGC_PAGE_CACHE_SECONDS`` (:mod:`..reporting.page_cache`):
    checking each model's permissions and drawing its links was a fifth of a results page's CPU.
    A permission granted or taken shows at once (the permissions are part of the key)."""
    request = context["request"]
    user = request.user
    permissions = "all" if user.is_superuser else tuple(sorted(user.get_all_permissions()))
    key = (user.pk, permissions, get_language(), request.path)
    sidebar = context.template.engine.get_template("admin/nav_sidebar.html")
    return reused("nav-sidebar", key, lambda: mark_safe(sidebar.render(context)))


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


def _field_locked(field, always: set[str]) -> bool:
    """Whether one field of a fieldset line is locked for this object (see ``tgc_locked``)."""
    if field.is_readonly:
        return field.field["name"] not in always
    return bool(field.field.field.disabled)


@register.simple_tag(takes_context=True)
def tgc_locked(context, line, field=None) -> bool:
    """Whether a fieldset line of a change form holds a field locked for this object: read-only
    here though not always (``get_readonly_fields`` locked it, unlike the admin's own
    ``readonly_fields``) or a disabled form field. Never on a page its user may only view (every
    field is read-only there, and none is locked by the object). ``line``: Django's ``Fieldline``;
    ``field``: one of its ``AdminField``/``AdminReadonlyField`` to ask about that field alone (a
    line of several fields labels each locked one); the context's ``adminform``: its
    ``AdminForm``."""
    if not context.get("has_change_permission"):
        return False
    always = set(context["adminform"].model_admin.readonly_fields)
    fields = [field] if field is not None else line
    return any(_field_locked(each, always) for each in fields)
    adminform = context["adminform"]
    always = set(adminform.model_admin.readonly_fields)
    for field in line:
        if field.is_readonly and field.field["name"] not in always:
            return True
        if not field.is_readonly and field.field.field.disabled:
            return True
    return False
