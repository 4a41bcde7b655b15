"""Malformed query parameters on any changelist answer 400 instead of a server error.

Django turns most bad filter values into its "?e=1" redirect, but not those that only fail in the
database or while the page renders: an id of 30 digits (an integer overflow), a NUL byte
(PostgreSQL refuses it in a string), a year no date has, a filter whose choices are computed from
the value (``?campaign__id__exact=abc``). :class:`MalformedQueryGuard` renders a GET changelist
inside a savepoint (when a transaction is open; in autocommit each query stands alone) and answers
such errors with 400. It is mixed into every ModelAdmin of the site, ours and the contrib and
third-party apps' alike, by :func:`guard_every_changelist` (run after every admin is registered).
"""

from __future__ import annotations

import logging

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import DataError, connections, router, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

log = logging.getLogger(__name__)

# What a malformed value raises in the database driver or while the changelist is built.
MALFORMED_QUERY_ERRORS = (DataError, OverflowError, ValueError, ValidationError)


class MalformedQueryGuard:
    """For a ModelAdmin: a GET changelist with parameters that fail as above answers 400."""

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if request.method != "GET" or not request.GET:
            return super().changelist_view(request, extra_context)
        using = router.db_for_read(self.model)
        try:
            with savepoint(using):
                response = super().changelist_view(request, extra_context)
                if hasattr(response, "render") and not response.is_rendered:
                    response.render()
        except MALFORMED_QUERY_ERRORS as exc:
            log.warning("malformed changelist query for %s: %s", self.opts.label, type(exc).__name__)
            return bad_query()
        return response


def bad_query() -> HttpResponseBadRequest:
    return HttpResponseBadRequest(
        "A filter or search value in the address is not valid for this page. Go back to the list "
        "and choose the filters again."
    )


def savepoint(using: str = "default"):
    """A savepoint when a transaction is open (a failed query must not abort it), else nothing."""
    if connections[using].in_atomic_block:
        return transaction.atomic(using=using)
    from contextlib import nullcontext

    return nullcontext()


def guard_every_changelist(site: admin.AdminSite = admin.site) -> None:
    """Re-register every ModelAdmin of ``site`` with :class:`MalformedQueryGuard` mixed in."""
    for model, model_admin in list(site._registry.items()):
        cls = type(model_admin)
        if issubclass(cls, MalformedQueryGuard):
            continue
        site.unregister(model)
        site.register(model, type(cls.__name__, (MalformedQueryGuard, cls), {"__module__": cls.__module__}))


def guarded_queryset(queryset):
    """Evaluate a cheap query over ``queryset`` inside the same guard, so a malformed filter
    fails here (400) rather than midway through a streamed download."""
    using = router.db_for_read(queryset.model)
    with savepoint(using):
        queryset.exists()
    return queryset
