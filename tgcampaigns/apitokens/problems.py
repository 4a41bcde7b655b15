"""Every error under ``/api/`` is a JSON problem (RFC 9457), never an HTML page.

A problem is ``{"type", "title", "status", "detail", "code", "field", "errors"}``: ``code`` a
stable machine-readable word (``not_authenticated``, ``throttled``, ``invalid``, ``not_found``…),
``field`` the request field at fault (or null), ``errors`` every field's complaint for a request
that did not validate. :func:`exception_handler` turns DRF's exceptions into problems;
:class:`ApiProblemMiddleware` refuses an oversized body (413) and turns what is left — an unknown
URL (404), an unhandled exception (500), an outage page (503) — into problems too.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tgcampaigns import conf

log = logging.getLogger(__name__)
API_PREFIX = "/api/"
CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "urn:tgcampaigns:problem:"


def document(
    status_code: int, detail: str, code: str = "", field: str | None = None, errors: list | None = None
) -> dict[str, Any]:
    """The problem document for ``status_code`` (its reason phrase is the title)."""
    code = code or _default_code(status_code)
    return {
        "type": f"{TYPE_BASE}{code}",
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
        "code": code,
        "field": field,
        "errors": errors or [],
    }


def problem(status_code: int, detail: str, code: str = "", field: str | None = None) -> Response:
    """A DRF response carrying a problem (for views that refuse without raising)."""
    return Response(document(status_code, detail, code, field), status=status_code, content_type=CONTENT_TYPE)


def json_problem(status_code: int, detail: str, code: str = "", headers: dict | None = None) -> JsonResponse:
    """A plain Django response carrying a problem (outside DRF: middleware, handlers)."""
    response = JsonResponse(
        document(status_code, detail, code), status=status_code, content_type=CONTENT_TYPE
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _default_code(status_code: int) -> str:
    return HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")


def _flatten(detail: Any, field: str = "") -> list[dict[str, str]]:
    """DRF's nested ``ValidationError.detail`` as [{field, code, detail}], fields dotted
    (``recipients.3.phone``); non-field errors have field null."""
    if isinstance(detail, dict):
        out = []
        for name, value in detail.items():
            name = "" if name == "non_field_errors" else str(name)
            out += _flatten(value, f"{field}.{name}" if field and name else field or name)
        return out
    if isinstance(detail, list):
        if all(isinstance(d, exceptions.ErrorDetail | str) for d in detail):
            return [_error(d, field) for d in detail]
        out = []
        for i, value in enumerate(detail):
            if value:
                out += _flatten(value, f"{field}.{i}" if field else str(i))
        return out
    return [_error(detail, field)]


def _error(detail: Any, field: str) -> dict[str, str]:
    return {"field": field or None, "code": getattr(detail, "code", "invalid"), "detail": str(detail)}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, answering problems. None for an exception DRF does not know (the
    middleware makes it a 500 problem)."""
    if isinstance(exc, RequestDataTooBig):
        exc = exceptions.APIException("The request body is too large.")
        exc.status_code, exc.default_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "too_large"
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        first = errors[0] if errors else {"field": None, "code": "invalid", "detail": "Invalid request."}
        detail = "; ".join(f"{e['field']}: {e['detail']}" if e["field"] else e["detail"] for e in errors)
        body = document(response.status_code, detail or first["detail"], "invalid", first["field"], errors)
    else:
        detail = getattr(exc, "detail", str(exc))
        code = detail.code if isinstance(detail, exceptions.ErrorDetail) else ""
        body = document(response.status_code, str(detail), code or getattr(exc, "default_code", ""))
    response.data = body
    response.content_type = CONTENT_TYPE
    return response


class ApiProblemMiddleware:
    """Under ``/api/`` only: 413 for a body over its limit (checked on ``Content-Length`` before it
    is read), and a problem in place of any error page that is not JSON already."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        too_large = self._too_large(request)
        if too_large:
            return json_problem(413, too_large, "too_large")
        response = self.get_response(request)
        if response.status_code >= 400 and "json" not in response.get("Content-Type", ""):
            headers = {k: response[k] for k in ("Retry-After", "Allow") if response.has_header(k)}
            detail = (
                "No such resource."
                if response.status_code == 404
                else HTTPStatus(response.status_code).phrase
            )
            return json_problem(response.status_code, detail, headers=headers)
        return response

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not request.path.startswith(API_PREFIX):
            return None
        if isinstance(exc, RequestDataTooBig):
            return json_problem(413, "The request body is too large.", "too_large")
        log.exception("API request failed: %s %s", request.method, request.path)
        return json_problem(500, "The server failed to answer; the error is logged.", "server_error")

    @staticmethod
    def _too_large(request: HttpRequest) -> str:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return ""
        multipart = request.content_type == "multipart/form-data"
        # A file upload may be as large as a recipient file (plus the form's own bytes).
        limit = conf.import_max_bytes() + 64 * 1024 if multipart else conf.api_max_body_bytes()
        if length > limit:
            return f"The request body is {length} bytes; at most {limit} are accepted here."
        return ""


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An error (RFC 9457 problem details).",
    "properties": {
        "type": {"type": "string", "description": "urn:tgcampaigns:problem:<code>"},
        "title": {"type": "string", "description": "The HTTP status's phrase."},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What went wrong, for people."},
        "code": {"type": "string", "description": "What went wrong, for programs."},
        "field": {"type": "string", "nullable": True, "description": "The request field at fault."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string", "nullable": True},
                    "code": {"type": "string"},
                    "detail": {"type": "string"},
                },
            },
        },
    },
    "required": ["type", "title", "status", "detail", "code"],
}


def document_problems(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: every operation may answer a 4XX problem (401
    without a token, 403 without the role, 404, 409, 413, 422, 429 …); its schema is ``Problem``.
    A 5XX is never documented: the schema test treats one as a failure."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    answer = {
        "description": "An error, as a problem document.",
        "content": {CONTENT_TYPE: {"schema": problem_ref}},
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds, with a 429."}},
    }
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault("4XX", answer)
    return result
