"""Outages say what they are (issue 18, item 11): a database that is down, restarting or out of
disk space answers 503 with a page saying so (JSON for the JSON views), not Django's blank 500.

:class:`DatabaseOutageMiddleware` catches a view's database error; :func:`server_error` (the
``handler500``) catches one raised before the view (the session or user lookup of a middleware).
The page renders from a template alone, with no request context: no context processor, and so no
query, runs while the database is away.
"""

from __future__ import annotations

import sqlite3
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

from campaigns.engine.storage import is_disk_full

# Seconds a client should wait before asking again (the Retry-After header).
RETRY_AFTER_SECONDS = 30

UNAVAILABLE = "The database is unavailable; sending resumes by itself when it is back."
DISK_FULL = "The database's disk is full; sending resumes by itself when space is freed."

_DRIVER_ERRORS: tuple[type[BaseException], ...] = (sqlite3.OperationalError, sqlite3.InterfaceError)
try:  # psycopg's own classes, in case one escapes Django's wrapping
    import psycopg

    _DRIVER_ERRORS += (psycopg.OperationalError, psycopg.InterfaceError)
except ImportError:  # pragma: no cover - SQLite-only installs
    pass


def is_outage(exc: BaseException | None) -> bool:
    """Whether ``exc`` says the database cannot be reached or written (not a bug in a query)."""
    return isinstance(exc, (OperationalError, InterfaceError, *_DRIVER_ERRORS))


def outage_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """The 503 for ``exc``: JSON for paths ending in ``.json`` or requests accepting only JSON,
    else the plain page; both with Retry-After."""
    message = DISK_FULL if is_disk_full(exc) else UNAVAILABLE
    wants_json = request.path.endswith(".json") or (
        "application/json" in request.headers.get("Accept", "")
        and "text/html" not in request.headers.get("Accept", "")
    )
    if wants_json:
        response: HttpResponse = JsonResponse(
            {"error": "database_unavailable", "message": message}, status=503
        )
    else:
        response = HttpResponse(render_to_string("outage.html", {"message": message}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseOutageMiddleware:
    """Turns a database OperationalError/InterfaceError reaching the view layer into a 503."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return outage_response(request, exception) if is_outage(exception) else None


def server_error(request: HttpRequest, template_name: str = defaults.ERROR_500_TEMPLATE_NAME) -> HttpResponse:
    """``handler500``: the outage page when the error being handled is a database outage
    (raised by a middleware, before any view), else Django's own 500."""
    exc = sys.exc_info()[1]
    if is_outage(exc):
        return outage_response(request, exc)
    return defaults.server_error(request, template_name)
