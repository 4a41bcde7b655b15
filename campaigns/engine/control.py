"""Staff's control of a running campaign: pause, cancel, retry failed rows, resend unknown ones,
and completion. Pause and cancel take effect before the next send of every session (the slice
polls the campaign's status); counts on the campaign always add up."""

from __future__ import annotations

from collections.abc import Callable, Collection

from django.db.models import QuerySet

from sessions_app.models import SessionStatus

from ..models import Campaign, CampaignStatus, MessageResult, ResultStatus
from . import conf, queue


def pause(campaign: Campaign, reason: str = "Paused by staff.") -> bool:
    """Pause a running or scheduled campaign; every session stops before its next send."""
    return campaign.set_status(
        CampaignStatus.PAUSED, reason, only_from=(CampaignStatus.RUNNING, CampaignStatus.SCHEDULED)
    )


def cancel(campaign: Campaign) -> int:
    """Cancel: rows not yet sent become ``cancelled`` (requests in flight finish and are recorded).
    Returns the number of rows cancelled."""
    campaign.set_status(
        CampaignStatus.CANCELLED,
        "Cancelled by staff.",
        only_from=(
            CampaignStatus.DRAFT,
            CampaignStatus.SCHEDULED,
            CampaignStatus.LAUNCHING,
            CampaignStatus.RUNNING,
            CampaignStatus.PAUSED,
        ),
    )
    return campaign.results.cancel_open()


def _reopen(campaign: Campaign, reopen: Callable[[], int], *, enqueue: bool) -> int:
    campaign.refresh_from_db(fields=["status"])
    if campaign.status not in (CampaignStatus.RUNNING, CampaignStatus.PAUSED, CampaignStatus.COMPLETED):
        return 0  # draft has no rows; a cancelled campaign is final
    n = reopen()
    if n:
        Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.COMPLETED).update(
            status=CampaignStatus.RUNNING, finished_at=None, status_reason=""
        )
        campaign.refresh_from_db()
        if enqueue and campaign.status == CampaignStatus.RUNNING:
            queue.enqueue_drive(campaign.pk)
    return n


def retry_failed(campaign: Campaign, *, codes: Collection[str] | None = None, enqueue: bool = True) -> int:
    """Queue the campaign's ``failed`` rows again (attempts reset): to the pool, except rows whose
    last request may have arrived (a timeout), which stay on their session so a resend carries
    the same random_id. ``codes``: only rows failed with one of these error codes (None: every
    failed row; empty: none). Returns how many (0 for a cancelled campaign: cancelling is final)."""
    failed: QuerySet[MessageResult] = campaign.results.filter(status=ResultStatus.FAILED)
    if codes is not None:
        failed = failed.filter(error_code__in=list(codes))
    return _reopen(
        campaign,
        lambda: failed.filter(in_doubt=False).reopen(session=None) + failed.filter(in_doubt=True).reopen(),
        enqueue=enqueue,
    )


def resend_unknown(campaign: Campaign, *, enqueue: bool = True) -> int:
    """The operator's explicit decision to re-send ``unknown`` rows, whose first request may have
    arrived: from the same session when it is active (Telegram then de-duplicates by random_id),
    otherwise from whichever session takes it, which may deliver a second copy."""
    unknown = campaign.results.filter(status=ResultStatus.UNKNOWN)
    active = unknown.filter(session__status=SessionStatus.ACTIVE)
    return _reopen(
        campaign,
        lambda: active.reopen(in_doubt=True) + unknown.reopen(in_doubt=False, session=None),
        enqueue=enqueue,
    )


def finish_if_done(campaign: Campaign) -> bool:
    """Mark a running campaign completed when no row is open; True when it is finished."""
    if campaign.results.open().exists():
        return False
    if campaign.set_status(CampaignStatus.COMPLETED, "", only_from=(CampaignStatus.RUNNING,)):
        if (
            conf.delete_imported_contacts()
            and campaign.sessions.filter(backend="telethon", kind="user").exists()
        ):
            queue.enqueue_contact_cleanup(campaign.pk)
    return True


def summary(campaign: Campaign) -> dict[str, int]:
    """Counts for the end-of-campaign summary: sent, failed, skipped, other, total (adds up)."""
    c = campaign.counts()
    other = c["total"] - c["sent"] - c["failed"] - c["skipped"]
    return {
        "sent": c["sent"],
        "failed": c["failed"],
        "skipped": c["skipped"],
        "other": other,
        "total": c["total"],
    }
