"""Test sends: a campaign's message sent to staff's own accounts before launch, recorded apart
from the campaign's results (never a :class:`MessageResult`, never in its progress or exports),
and the small saved seed lists they may go to."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from sessions_app.models import TelegramSession

from .lists import Recipient
from .results import new_random_id

# The most recipients one test send reaches: a seed list is staff's own few accounts, and the
# sends leave from one session while the page waits (docs/design.md "The picture": views call
# Telegram only for an operator's own action on one session).
SEED_LIST_MAX = 5


class SeedList(models.Model):
    """A saved list of staff's own accounts (at most :data:`SEED_LIST_MAX`) a test message goes to.
    ``entries``: one identity per line, stored normalised (``@name``, ``+E164``, user id)."""

    name = models.CharField(max_length=200, unique=True)
    entries = models.TextField(
        help_text=f"One per line: @username, phone in international format, or user id. At most {SEED_LIST_MAX}."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "campaigns"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def keys(self) -> list[str]:
        """The entries, one key each, in order (stored normalised by the admin's form)."""
        return [line.strip() for line in self.entries.splitlines() if line.strip()]


class TestSendStatus(models.TextChoices):
    __test__ = False

    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    NOT_SENT = "not_sent", "Not sent"


class TestSend(models.Model):
    """One test message of a campaign to one account, as the engine would send it: the message
    built for ``recipient``'s fields (the row it was personalised as; none: empty fields), a fresh
    ``random_id``, through ``session``. ``requested``: the request reached Telegram (the session's
    pace counts it, like a campaign's requests). ``status`` ``not_sent``: nothing left (the session
    was in use or paced), ``error_text`` says why."""

    __test__ = False  # not a pytest test class, whatever its name

    campaign = models.ForeignKey("Campaign", on_delete=models.CASCADE, related_name="test_sends")
    session = models.ForeignKey(TelegramSession, null=True, on_delete=models.SET_NULL, related_name="+")
    to_key = models.CharField(max_length=64)
    recipient = models.ForeignKey(
        Recipient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    personalised_as = models.CharField(max_length=300, blank=True)
    text = models.TextField(blank=True)
    random_id = models.BigIntegerField(default=new_random_id)
    status = models.CharField(max_length=10, choices=TestSendStatus.choices)
    requested = models.BooleanField(default=False)
    telegram_message_id = models.BigIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    error_text = models.TextField(blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "campaigns"
        ordering = ["-created_at", "-id"]
        indexes = [
            # The pace's count of a session's requests today (test sends count like any request).
            models.Index(fields=["session", "created_at"], name="testsend_session_time_idx"),
        ]

    def __str__(self) -> str:
        return f"test of “{self.campaign}” to {self.to_key}: {self.status}"
