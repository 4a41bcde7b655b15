"""Which campaign, session and worker a log line is about, for structured logs.

The engine binds the ids of what it works on (:func:`bound`); :class:`ContextFilter` puts them on
every log record, as ``campaign``, ``session`` and ``worker`` (host:pid). With
``LOG_FORMAT=json`` (settings) each record is one JSON line through python-json-logger, those
fields included; with the default plain format they are appended as ``campaign=… session=…``
when set. Ids only: a log line never carries message text, phone numbers, usernames or session
strings (tests/test_operations.py runs a whole campaign with JSON logs at DEBUG and greps them).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import socket
from collections.abc import Iterator

from pythonjsonlogger.core import RESERVED_ATTRS

_campaign: contextvars.ContextVar[int | None] = contextvars.ContextVar("tgc_campaign", default=None)
_session: contextvars.ContextVar[int | None] = contextvars.ContextVar("tgc_session", default=None)


@contextlib.contextmanager
def bound(*, campaign: int | None = None, session: int | None = None) -> Iterator[None]:
    """Log lines inside the block name ``campaign`` and/or ``session`` (ids). Context variables:
    each asyncio task of a slice keeps its own session."""
    tokens = []
    if campaign is not None:
        tokens.append((_campaign, _campaign.set(campaign)))
    if session is not None:
        tokens.append((_session, _session.set(session)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Adds ``campaign``, ``session`` (ids or None), ``worker`` (host:pid) and ``context`` (the
    set ones as ``key=value`` text, for the plain format) to every record."""

    worker = f"{socket.gethostname()}:{os.getpid()}"

    def filter(self, record: logging.LogRecord) -> bool:
        record.campaign = _campaign.get()
        record.session = _session.get()
        record.worker = f"{socket.gethostname()}:{os.getpid()}"
        parts = [f"{k}={v}" for k, v in (("campaign", record.campaign), ("session", record.session)) if v]
        record.context = (" " + " ".join(parts)) if parts else ""
        return True


class ProbeFailures(logging.Filter):
    """A failing ``/health/`` check, probed every second, logs one line naming the check and its
    reason, not a traceback of some ninety lines (``health_check``), and no second line for the
    503 it answers (``django.request``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if record.name == "django.request" and getattr(request, "path", "") == "/health/":
            return False
        if record.name.startswith("health_check") and record.exc_info and record.exc_info[1]:
            record.msg, record.args = f"{record.getMessage()}: {record.exc_info[1]}", ()
            record.exc_info, record.exc_text = None, None
        return True


def _json_formatter() -> dict:
    return {
        "()": "pythonjsonlogger.json.JsonFormatter",
        "fmt": ["asctime", "levelname", "name", "message", "campaign", "session", "worker"],
        "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        # ``context`` is the plain format's rendering of campaign and session: not a field.
        "reserved_attrs": [*RESERVED_ATTRS, "context"],
    }


def logging_config(log_format: str, level: str) -> dict:
    """The ``LOGGING`` dict: ``log_format`` ``"json"`` (one JSON object a line) or ``"plain"``."""
    formatters = {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s%(context)s"},
        "json": _json_formatter(),
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "tgcampaigns.logcontext.ContextFilter"},
            # Telethon quotes what it could not parse (phone numbers, names): withheld.
            "withhold_answer_bytes": {"()": "sessions_app.log_filters.WithholdAnswerBytes"},
            "probe_failures": {"()": "tgcampaigns.logcontext.ProbeFailures"},
        },
        "formatters": formatters,
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if log_format == "json" else "plain",
                "filters": ["context", "withhold_answer_bytes"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Telethon logs request payloads at DEBUG; keep it quiet so secrets never reach the logs.
            "telethon": {"level": "WARNING"},
            "health_check": {"filters": ["probe_failures"]},
            "django.request": {"filters": ["probe_failures"]},
        },
    }


def gunicorn_logging_config() -> dict:
    """gunicorn's ``logconfig_dict`` for ``LOG_FORMAT=json``: its own lines (the arbiter's and the
    access log) as JSON objects too, on standard error and standard output as before."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "filters": ["context"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": "INFO", "handlers": []},
        "filters": {"context": {"()": "tgcampaigns.logcontext.ContextFilter"}},
        "formatters": {"json": _json_formatter()},
        "handlers": {
            "json_stderr": handler | {"stream": "ext://sys.stderr"},
            "json_stdout": handler | {"stream": "ext://sys.stdout"},
        },
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["json_stderr"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["json_stdout"], "propagate": False},
        },
    }
