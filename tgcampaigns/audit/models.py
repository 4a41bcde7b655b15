"""The audit trail: who did what, when, to which objects. One row per object touched (or one
with no object, e.g. an export of a filtered changelist), written by :func:`tgcampaigns.audit.record`.

Messages are composed by our code from counts and names, never from secrets (session strings,
tokens, codes, passwords, API hashes) nor from a recipient's identity: a suppression or a person
is named by its row id, so an erasure leaves nothing behind here.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from .actions import AuditAction


class AuditEvent(models.Model):
    """One audited action. ``actor`` keeps the user name when the user is later deleted;
    ``system`` and ``command line`` name actions no web user took."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices, db_index=True)
    message = models.TextField()
    content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)

    class Meta:
        # The table it has had since it lived in ``campaigns`` (moved without copying a row).
        db_table = "campaigns_auditevent"
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id"], name="audit_object_idx")]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor}: {self.get_action_display()}"
