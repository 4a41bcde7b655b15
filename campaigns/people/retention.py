"""Retention: personal data is kept only as long as the settings say, then purged by a daily
django-q2 schedule (``campaigns.tasks.purge_old_data``, installed by ``migrate``).

- ``TGC_RESULTS_RETENTION_DAYS``: results (with their delivery attempts and replies) of campaigns finished
  (completed or cancelled) longer ago are deleted, and so are the simulator's deliveries of that
  age; the campaign stays, with a note.
- ``TGC_LISTS_RETENTION_DAYS``: recipient lists uploaded longer ago that no unfinished campaign
  uses are deleted with their recipients and stored file.
- Stored list files no list refers to (left by older versions) are deleted after a day.

0 (the default) keeps everything. Read at call time, so the schedule needs no restart.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from sessions_app.models import SimulatedDelivery
from tgcampaigns import audit, conf
from tgcampaigns.audit import AuditAction

from ..models import Campaign, CampaignStatus, MessageResult, RecipientList, Reply

FINISHED = (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED)
ORPHAN_FILE_GRACE = 24 * 3600  # seconds: an upload in progress is never taken for an orphan


def purge(now: datetime | None = None) -> dict[str, int]:
    """Apply the retention settings once; returns what was deleted, by kind. Audited when
    anything was."""
    now = now or timezone.now()
    done: dict[str, int] = {}
    if days := conf.results_retention_days():
        cutoff = now - timedelta(days=days)
        old = Campaign.objects.filter(status__in=FINISHED, finished_at__lt=cutoff)
        campaign_ids = list(old.filter(results__isnull=False).distinct().values_list("pk", flat=True))
        results = MessageResult.objects.filter(campaign_id__in=campaign_ids)
        done["results"] = results.count()
        done["replies"] = Reply.objects.filter(campaign_id__in=campaign_ids).count()
        results.delete()  # with their delivery attempts and replies
        Campaign.objects.filter(pk__in=campaign_ids).update(
            status_reason=f"Results deleted after {days} days (TGC_RESULTS_RETENTION_DAYS)."
        )
        done["simulated deliveries"] = SimulatedDelivery.objects.filter(delivered_at__lt=cutoff).delete()[0]
    if days := conf.lists_retention_days():
        cutoff = now - timedelta(days=days)
        in_use = Campaign.objects.exclude(status__in=FINISHED).values("lists")
        old_lists = RecipientList.objects.filter(created_at__lt=cutoff).exclude(pk__in=in_use)
        done["recipient lists"] = old_lists.count()
        for recipient_list in old_lists:
            recipient_list.delete()  # its file goes with it (campaigns.signals)
    done["orphan files"] = _drop_orphan_files()
    if any(done.values()):
        summary = ", ".join(f"{n} {what}" for what, n in done.items() if n)
        audit.record(audit.SYSTEM, AuditAction.RETENTION_PURGE, f"Retention purge: {summary} deleted.")
    return done


def _drop_orphan_files() -> int:
    """Files under the lists' upload folder that no list refers to, older than a day."""
    folder = str(RecipientList._meta.get_field("file").upload_to).split("/")[0]
    root = Path(settings.MEDIA_ROOT) / folder
    if not root.is_dir():
        return 0
    known = set(RecipientList.objects.exclude(file="").values_list("file", flat=True))
    dropped = 0
    for path in root.rglob("*"):
        name = path.relative_to(settings.MEDIA_ROOT).as_posix()
        if path.is_file() and name not in known and time.time() - path.stat().st_mtime > ORPHAN_FILE_GRACE:
            path.unlink(missing_ok=True)
            dropped += 1
    return dropped
