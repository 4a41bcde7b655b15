"""Staff's control of a running campaign: pause, cancel, retry failed rows, resend unknown ones,
and completion. Pause and cancel take effect before the next send of every session (the slice
polls the campaign's status); counts on the campaign always add up."""

from __future__ import annotations

from collections.abc import Callable, Collection

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from sessions_app.models import SessionStatus
from tgcampaigns import conf

from ..models import Campaign, CampaignStatus, MessageResult, ResultStatus
from ..models.campaign import StatusMove
from . import queue
from .assignment import recover_stranded_rows


def pause(campaign: Campaign, reason: str = "Paused by staff.") -> bool:
    """Pause a running or scheduled campaign; every session stops before its next send."""
    return campaign.set_status(StatusMove.PAUSE, reason)


def cancel(campaign: Campaign) -> int:
    """Cancel: rows not yet sent become ``cancelled`` (requests in flight finish and are recorded).
    Returns the number of rows cancelled."""
    campaign.set_status(StatusMove.CANCEL, "Cancelled by staff.")
    return campaign.results.cancel_open()


def _reopen(campaign: Campaign, reopen: Callable[[], int], *, enqueue: bool) -> int:
    campaign.refresh_from_db(fields=["status"])
    if campaign.status not in (CampaignStatus.RUNNING, CampaignStatus.PAUSED, CampaignStatus.COMPLETED):
        return 0  # draft has no rows; a cancelled campaign is final
    n = reopen()
    if n:
        campaign.set_status(StatusMove.REOPEN)  # a completed campaign runs again; others stay
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


# Why an A/B test with a hold-out stops once its variants are sent (staff read it on the page).
CHOOSE_THE_WINNER = (
    "The test variants are sent: choose the winner (Choose the winner…) to send it to the "
    "{held} held recipients."
)


def finish_if_done(campaign: Campaign) -> bool:
    """Mark a running campaign completed when no row is open; True when it is finished. An A/B
    test whose hold-out still waits for the winner is paused instead, asking staff to choose it
    (:data:`CHOOSE_THE_WINNER`); that also returns True (nothing is left to drive)."""
    if campaign.results.open().exists():
        return False
    held = campaign.results.filter(status=ResultStatus.HELD).count()
    if held:
        pause(campaign, CHOOSE_THE_WINNER.format(held=held))
        return True
    if campaign.set_status(StatusMove.COMPLETE):
        if (
            conf.delete_imported_contacts()
            and campaign.sessions.filter(backend="telethon", kind="user").exists()
        ):
            queue.enqueue_contact_cleanup(campaign.pk)
    return True


class WinnerRefused(ValueError):
    """The winner cannot be chosen now; the message is for staff."""


def choose_winner(campaign: Campaign, label: str, *, enqueue: bool = True) -> int:
    """Send an A/B test's winning wording to its hold-out: set ``Campaign.winner``, move the ``held``
    rows to ``pending`` with that variant, and resume the campaign when it released any (running or
    paused; the rows keep their time zones, so a send window still applies). Returns the rows
    released. Raises :class:`WinnerRefused` for a label the campaign has no text for, a winner
    already chosen, or a campaign that is not running or paused."""
    from ..content.variants import labels_of

    campaign.refresh_from_db()
    if label not in labels_of(campaign.variants) or not campaign.split:
        raise WinnerRefused(f"“{campaign}” has no variant {label}.")
    if campaign.winner:
        raise WinnerRefused(f"The winner of “{campaign}” is {campaign.winner} already.")
    if campaign.status not in (CampaignStatus.RUNNING, CampaignStatus.PAUSED):
        raise WinnerRefused(f"“{campaign}” is {campaign.get_status_display().lower()}: nothing to send.")
    live = (CampaignStatus.RUNNING, CampaignStatus.PAUSED)
    with transaction.atomic():
        # Compare-and-set on the status too: a cancel committed since the read above wins (its
        # UPDATE of the campaign row waits for this transaction, then cancels what it released).
        if not Campaign.objects.filter(pk=campaign.pk, winner="", status__in=live).update(winner=label):
            campaign.refresh_from_db()
            if campaign.winner:
                raise WinnerRefused(f"The winner of “{campaign}” was chosen meanwhile.")
            raise WinnerRefused(f"“{campaign}” is {campaign.get_status_display().lower()}: nothing to send.")
        released = campaign.results.filter(status=ResultStatus.HELD).update(
            status=ResultStatus.PENDING, variant=label, updated_at=timezone.now()
        )
    campaign.refresh_from_db()
    if released and campaign.status == CampaignStatus.PAUSED:  # a staff pause stays when nothing waited
        campaign.set_status(StatusMove.RESUME)
        recover_stranded_rows(campaign)
    if enqueue and campaign.status == CampaignStatus.RUNNING:
        queue.enqueue_drive(campaign.pk)
    return released


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
