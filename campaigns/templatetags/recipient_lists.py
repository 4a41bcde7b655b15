"""Template filters of the recipient-list mapping step."""

from __future__ import annotations

from django import template

from ..lists.known import recognise_export

register = template.Library()


@register.filter
def recognised_export(headers) -> str:
    """The name of the known export (:mod:`campaigns.lists.known`) a header row is, or ""."""
    export = recognise_export([str(h) for h in headers or ()])
    return export.name if export else ""
