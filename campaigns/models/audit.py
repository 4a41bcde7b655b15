"""The audit trail: who did what, when, to which objects. One row per object touched (or one
with no object, e.g. an export of a filtered changelist), written by :func:`campaigns.audit.record`.

Messages are composed by our code from counts and names, never from secrets (session strings,
tokens, codes, passwords, API hashes) nor from a recipient's identity: a suppression or a person
is named by its row id, so an erasure leaves nothing behind here.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone


class AuditAction(models.TextChoices):
    CAMPAIGN_LAUNCH = "campaign.launch", "Campaign launched"
    CAMPAIGN_PAUSE = "campaign.pause", "Campaign paused"
    CAMPAIGN_RESUME = "campaign.resume", "Campaign resumed"
    CAMPAIGN_CANCEL = "campaign.cancel", "Campaign cancelled"
    CAMPAIGN_RETRY = "campaign.retry_failed", "Failed messages retried"
    CAMPAIGN_RESEND = "campaign.resend_unknown", "Unknown messages resent"
    CAMPAIGN_TEST_SEND = "campaign.test_send", "Test message sent"
    CAMPAIGN_CLONE = "campaign.clone", "Campaign cloned"
    CAMPAIGN_SESSIONS = "campaign.sessions", "Sessions of a paused campaign changed"
    CAMPAIGN_WINNER = "campaign.winner", "A/B test winner chosen"
    SEED_LIST_CHANGE = "seedlist.change", "Seed list saved or deleted"
    STAFF_TIME_ZONE = "staff.time_zone", "Own time zone chosen"
    RESULTS_EXPORT = "results.export", "Results exported"
    RESULTS_DELETE = "results.delete", "Results deleted"
    LIST_IMPORT = "list.import", "Recipient list imported"
    LIST_DELETE = "list.delete", "Recipient list deleted"
    SESSION_LOGIN = "session.login", "Session login step"
    SESSION_DISABLE = "session.disable", "Session disabled"
    SESSION_REACTIVATE = "session.reactivate", "Session re-activated"
    SESSION_UNQUARANTINE = "session.unquarantine", "Session un-quarantined"
    SESSION_RELEASE_LEASE = "session.release_lease", "Session lease released"
    SESSION_HEALTH = "session.health", "Session health checked"
    SUPPRESSION_ADD = "suppression.add", "Suppression added"
    SUPPRESSION_CHANGE = "suppression.change", "Suppression changed"
    SUPPRESSION_DELETE = "suppression.delete", "Suppression deleted"
    SUPPRESSION_IMPORT = "suppression.import", "Suppressions added in bulk"
    PERSON_ERASE = "person.erase", "Person erased"
    RETENTION_PURGE = "retention.purge", "Old data purged"


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
        app_label = "campaigns"
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id"], name="audit_object_idx")]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor}: {self.get_action_display()}"
