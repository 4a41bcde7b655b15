"""The events a subscription may ask for, and the retry schedule of their deliveries."""

from __future__ import annotations

from django.db import models


class Event(models.TextChoices):
    """Event types, named as the ``type`` of each payload (docs/operating.md "Webhooks")."""

    REPLY_RECEIVED = "reply.received", "A recipient replied"
    OPTOUT_CREATED = "optout.created", "Opt-outs recorded"
    CAMPAIGN_FINISHED = "campaign.finished", "A campaign completed or was cancelled"
    CAMPAIGN_PAUSED = "campaign.paused", "A campaign paused (with its reason)"
    SESSION_QUARANTINED = "session.quarantined", "A session was spam-limited and quarantined"
    IMPORT_FINISHED = "import.finished", "A recipient list's import finished"


# Seconds to wait before each retry, after the first attempt failed (the Standard Webhooks
# schedule, without its 5 s step: the sweep that wakes retries runs every minute). Eight attempts
# over about 28 hours; each wait gets up to 10 % of jitter so a receiver back up is not hit by
# every retry at once.
RETRY_DELAYS = (60, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
