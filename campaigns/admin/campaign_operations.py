"""The campaign operations, one campaign each: launch, pause, resume, cancel, retry failed, resend
unknown, clone. Each is a thin caller of :mod:`campaigns.engine` (or the model), recorded in the
audit trail and told to the user; the buttons (:mod:`.campaign_views`) and the admin actions
(:mod:`.campaign_admin`) both call them. The campaign decides which make sense
(:meth:`Campaign.operations`), the user's permissions which are offered (:func:`offered`)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest
from django.template.defaultfilters import pluralize

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction

from .. import engine
from ..models import Campaign, CampaignStatus, MessageResult, ResultStatus
from ..people.timezones import when

# Button labels of the operations a campaign offers (Campaign.operations decides which; clone is
# offered for every campaign). A label ending in "…" opens a page first (a summary, a dialog).
OPERATIONS = {
    "launch": "Launch…",
    "pause": "Pause",
    "resume": "Resume",
    "cancel": "Cancel…",
    "retry_failed": "Retry failed…",
    "resend_unknown": "Resend unknown…",
    "choose_winner": "Choose the winner…",
    "clone": "Clone",
}
CONFIRMED_OPERATIONS = ("cancel", "resend_unknown")
# The permission each operation needs (CampaignAdmin.has_<name>_permission).
OPERATION_PERMISSIONS = {op: "control" for op in OPERATIONS} | {"launch": "launch", "clone": "add"}


def say(request: HttpRequest, text: str, level: int = messages.INFO) -> None:
    """Tell the user, as :meth:`ModelAdmin.message_user` does (silently without messages)."""
    messages.add_message(request, level, text, fail_silently=True)


def may_run(model_admin: admin.ModelAdmin, request: HttpRequest, operation: str) -> bool:
    """Whether the user holds the permission ``operation`` needs (``has_<name>_permission``)."""
    return getattr(model_admin, f"has_{OPERATION_PERMISSIONS[operation]}_permission")(request)


def offered(
    model_admin: admin.ModelAdmin, request: HttpRequest, campaign: Campaign, counts: dict[str, int]
) -> dict[str, str]:
    """Operation → label, for the buttons of ``campaign``'s page."""
    ops = [*campaign.operations(counts), "clone"]
    return {op: OPERATIONS[op] for op in ops if may_run(model_admin, request, op)}


def nothing_unknown(request: HttpRequest, campaigns: list[Campaign]) -> bool:
    """True (and says so) when no row of ``campaigns`` has an unknown outcome: there is nothing
    to resend, so nothing to confirm."""
    if MessageResult.objects.filter(campaign__in=campaigns, status=ResultStatus.UNKNOWN).exists():
        return False
    names = ", ".join(f"“{c}”" for c in campaigns)
    say(request, f"{names}: no message has an unknown outcome, so there is nothing to resend.")
    return True


# Operations: one campaign each, called by the buttons and the actions ---------------------------
def launch(request: HttpRequest, campaign: Campaign) -> None:
    try:
        counts = engine.launch(campaign)
    except engine.LaunchError as exc:
        say(request, f"“{campaign}” was not launched: {exc}", messages.ERROR)
        audit.record(request, AuditAction.CAMPAIGN_LAUNCH, f"Launch refused: {exc}", campaign)
        return
    campaign.refresh_from_db(fields=["status", "scheduled_at"])
    if campaign.status == CampaignStatus.LAUNCHING:
        said = (
            f"“{campaign}” is being prepared in the background ({engine.recipients_estimate(campaign)} "
            "recipients in its lists); sending starts when they are ready. This page shows its progress."
        )
    elif campaign.status == CampaignStatus.SCHEDULED:
        said = f"“{campaign}” is scheduled to start at {when(campaign.scheduled_at)}."
    else:
        counts = dict(counts or {})
        total = counts.pop("total", sum(counts.values()))
        summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
        said = f"“{campaign}” launched: {total} recipient{pluralize(total)} ({summary})."
    audit.record(request, AuditAction.CAMPAIGN_LAUNCH, said, campaign)
    say(request, said, messages.SUCCESS)


def pause(request: HttpRequest, campaign: Campaign) -> None:
    if engine.pause(campaign, reason=f"Paused by {request.user.get_username()}"):
        audit.record(request, AuditAction.CAMPAIGN_PAUSE, f"“{campaign}” paused.", campaign)
        say(
            request,
            f"“{campaign}” paused: no session sends again until you resume it. You may change its "
            "sessions meanwhile.",
        )
    else:
        say(request, f"“{campaign}” is not running, so it was not paused.", messages.WARNING)


def resume(request: HttpRequest, campaign: Campaign) -> None:
    if campaign.waits_for_winner(campaign.counts()):
        say(
            request,
            f"“{campaign}” was not resumed: only the recipients held for the winner are left. "
            "Choose the winner (Choose the winner…) to send it to them.",
            messages.WARNING,
        )
        return
    if engine.resume(campaign):
        audit.record(request, AuditAction.CAMPAIGN_RESUME, f"“{campaign}” resumed.", campaign)
        say(request, f"“{campaign}” resumed.", messages.SUCCESS)
    else:
        say(request, f"“{campaign}” is not paused, so it was not resumed.", messages.WARNING)


def cancel(request: HttpRequest, campaign: Campaign) -> None:
    n = engine.cancel(campaign)
    audit.record(request, AuditAction.CAMPAIGN_CANCEL, f"“{campaign}” cancelled: {n} unsent.", campaign)
    say(
        request,
        f"“{campaign}” cancelled: {n} unsent message{pluralize(n)} will not be sent.",
        messages.SUCCESS,
    )


def retry_failed(request: HttpRequest, campaign: Campaign, codes: list[str] | None = None) -> None:
    n = engine.retry_failed(campaign) if codes is None else engine.retry_failed(campaign, codes=codes)
    which = f" ({', '.join(codes)})" if codes else ""
    audit.record(
        request, AuditAction.CAMPAIGN_RETRY, f"“{campaign}”: {n} failed queued again{which}.", campaign
    )
    level = messages.SUCCESS if n else messages.WARNING
    say(request, f"“{campaign}”: {n} failed message{pluralize(n)} queued to be sent again{which}.", level)


def resend_unknown(request: HttpRequest, campaign: Campaign) -> None:
    n = engine.resend_unknown(campaign)
    audit.record(request, AuditAction.CAMPAIGN_RESEND, f"“{campaign}”: {n} unknown queued again.", campaign)
    level = messages.SUCCESS if n else messages.WARNING
    say(
        request, f"“{campaign}”: {n} message{pluralize(n)} of unknown outcome queued to be sent again.", level
    )


def clone(request: HttpRequest, campaign: Campaign) -> Campaign:
    copy = campaign.clone(by=request.user)
    audit.record(request, AuditAction.CAMPAIGN_CLONE, f"Cloned from “{campaign}” (#{campaign.pk}).", copy)
    say(
        request,
        f"“{copy}” is a new draft with the message, lists, sessions and settings of “{campaign}”, "
        "and no results. Change what you need, save, then launch it.",
        messages.SUCCESS,
    )
    return copy
