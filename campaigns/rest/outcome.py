"""What an admin operation told staff, caught for the API's answer.

The operations of :mod:`campaigns.admin.campaign_operations` say what happened through Django's
messages (and audit it). :func:`told` runs one with a collector in place of the request's message
storage, so the API answers with the same words, and a warning or an error (not launched, not
running) becomes a refusal — without a cookie full of messages on the API's response."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib import messages


@dataclass
class Told:
    """The messages an operation added: ``text`` joined, ``refused`` when any was a warning or
    an error."""

    said: list[tuple[int, str]] = field(default_factory=list)

    def add(self, level: int, message: str, extra_tags: str = "") -> None:
        self.said.append((level, str(message)))

    @property
    def text(self) -> str:
        return " ".join(text for _level, text in self.said)

    @property
    def refused(self) -> bool:
        return any(level >= messages.WARNING for level, _text in self.said)


def told(request, operation: Callable) -> Told:
    """Run ``operation(django_request)`` collecting what it says; ``request`` is DRF's or
    Django's request."""
    django_request = getattr(request, "_request", request)
    collector = Told()
    before = getattr(django_request, "_messages", None)
    django_request._messages = collector
    try:
        operation(django_request)
    finally:
        if before is None:
            del django_request._messages
        else:
            django_request._messages = before
    return collector
