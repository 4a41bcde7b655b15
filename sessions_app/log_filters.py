"""Keeping Telegram's answers out of the logs.

Telethon logs what it could not parse with the bytes it received (``Invalid buffer … too short
b'…'``, ``Type … not found, remaining data b'…'``, tracebacks of parse errors): those bytes are
an answer's content — phone numbers, names, messages. :class:`WithholdAnswerBytes`, a filter on
the console handler (``settings.LOGGING``), rewrites every record of a ``telethon`` logger: bytes
become their length, exceptions their class name, and a traceback is dropped (its message quotes
the same bytes). Our own code never logs an answer; it logs classes and codes only.
"""

from __future__ import annotations

import logging
from typing import Any


def _withheld(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes withheld>"
    if isinstance(value, BaseException):
        return f"<{type(value).__name__}>"
    return value


class WithholdAnswerBytes(logging.Filter):
    """Rewrites records of the ``telethon`` loggers so no received bytes reach a log (see module);
    never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "telethon" and not record.name.startswith("telethon."):
            return True
        if isinstance(record.args, tuple):
            record.args = tuple(_withheld(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _withheld(arg) for key, arg in record.args.items()}
        if record.exc_info:
            exc = record.exc_info[1]
            record.msg = f"{record.msg} [{type(exc).__name__}; traceback withheld]"
            record.exc_info = None
            record.exc_text = None
        return True


__all__ = ["WithholdAnswerBytes"]
