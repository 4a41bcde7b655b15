"""Launch: check a campaign, materialise one row per recipient, and start (or resume) it.

docs/design.md "Delivery contract" 1: one :class:`MessageResult` per distinct recipient key of the
campaign's lists; invalid, duplicate and suppressed recipients get a ``skipped`` row with the
reason, so nothing silently disappears.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from tgcampaigns import conf

from ..content import template, variants
from ..content.fields import missing_fields
from ..content.media import MediaInfo, MediaRefused, inspect_media
from ..content.preview import list_columns, recipient_sample
from ..models import (
    Campaign,
    CampaignStatus,
    ImportStatus,
    Recipient,
)
from ..models.campaign import StatusMove
from ..models.segment_rules import SegmentInvalid
from . import queue, zones
from .assignment import active_sessions, recover_stranded_rows
from .sql import assign_variants, materialise_rows, segment_rows


class LaunchError(Exception):
    """A campaign cannot be launched; the message is for staff."""


class NoUsableSession(LaunchError):
    """None of the campaign's sessions can send (not logged in, disabled or quarantined)."""


class AlreadyLaunched(LaunchError):
    """Another process launched the campaign first (two reapers on a due scheduled campaign)."""


@dataclass
class LaunchCheck:
    """What :func:`check_launch` found: ``problems`` for staff (empty: it may launch),
    ``warnings`` (rows that will fail alone, e.g. one recipient's text too long) and the media as
    inspected now (None without media, or when the file was refused)."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    media: MediaInfo | None = None


def check_launch(campaign: Campaign) -> LaunchCheck:
    """Check what a launch needs: lists whose import is done, with a valid recipient; media
    Telegram accepts (inspected again: the file may have changed); a message within Telegram's
    limits, for no recipient and for each recipient's real fields (every one, or a sample of a
    huge list: :func:`~campaigns.content.preview.recipient_sample`); no variable that is no
    column of the lists unless it has a default. Warnings: rows that will fail alone (one
    recipient's text too long), a misspelled variable everyone gets the default of, recipients
    lacking a field the message reads. An A/B test's variants are checked each like the message
    (problems named "variant B: …"), and its split (:func:`~campaigns.content.variants.split_problems`);
    under a send window, every recipient needs a known time zone (:func:`.zones.zone_problems`).
    Writes nothing."""
    check = LaunchCheck()
    unfinished = campaign.lists.exclude(import_status=ImportStatus.DONE)
    for recipient_list in unfinished:
        check.problems.append(
            f"the list “{recipient_list}” is not imported yet ({recipient_list.get_import_status_display()}): "
            "launch once its import is done"
        )
    chosen = _segment_problems(campaign, check)
    if not campaign.lists.exists() and not campaign.segments.exists():
        check.problems.append("Choose at least one recipient list or segment.")
    elif (
        not Recipient.objects.filter(
            recipient_list__in=campaign.lists.all(), status=Recipient.Status.VALID
        ).exists()
        and not chosen
        and not campaign.waits_to_follow_up  # who it reaches is known when the first one ends
    ):
        check.problems.append(
            "The chosen lists have no valid recipient."
            if not campaign.segments.exists()
            else "The chosen lists and segments have no valid recipient."
        )
    if campaign.media:
        try:
            check.media = inspect_media(
                campaign.media.path, campaign.media_type or None, campaign.media_file_name
            )
        except MediaRefused as exc:
            check.problems.append(f"Media: {exc}")
        except OSError:
            check.problems.append("Media: the file is missing from the server; upload it again")
    columns = list_columns(campaign)
    sample = list(recipient_sample(campaign))
    sampled = recipients_estimate(campaign) > len(sample)
    labels = variants.labels_of(campaign.variants)
    test = len(labels) > 1 or bool(campaign.split)
    for label in labels:
        text = variants.text_of(campaign.message, campaign.variants, label)
        _check_text(check, campaign, text, columns, sample, sampled, f"variant {label}: " if test else "")
    if test:
        check.problems += variants.split_problems(campaign.message, campaign.variants, campaign.split)
    check.problems += zones.zone_problems(campaign)
    return check


def _segment_problems(campaign: Campaign, check: LaunchCheck) -> bool:
    """Add a problem for each segment of ``campaign`` whose definition no longer holds; whether
    any segment chooses someone now."""
    chosen = False
    for segment in campaign.segments.all():
        try:
            chosen = chosen or segment.recipients().exists()
        except SegmentInvalid as exc:
            check.problems.append(f"the segment “{segment}” cannot be evaluated: {exc}")
    return chosen


def segment_source(campaign: Campaign) -> tuple[str, list] | None:
    """The rows of ``campaign``'s segments as SQL (:func:`.sql.segment_rows`), None without."""
    return segment_rows([segment.recipients() for segment in campaign.segments.order_by("pk")])


def _check_text(
    check: LaunchCheck, campaign: Campaign, text: str, columns, sample, sampled: bool, prefix: str
) -> None:
    """The checks of one wording (the message, or an A/B test's variant, named by ``prefix``)."""
    has_media = bool(campaign.media)
    as_written = template.check_message(text, campaign.parse_mode, has_media=has_media, known_fields=columns)
    check.problems += [prefix + p for p in as_written]
    if columns is not None and not as_written:
        check.warnings += [prefix + w for w in template.defaulted_unknown_variables(text, columns)]
    for_all, for_some = template.check_recipients(
        text, campaign.parse_mode, has_media=has_media, recipients=sample
    )
    check.problems += [] if as_written else [prefix + p for p in for_all]  # reported once
    check.warnings += [prefix + w for w in for_some]
    gaps = missing_fields(text, (f for _, f in sample), known_fields=columns, sampled=sampled)
    check.warnings += [prefix + gap.sentence() for gap in gaps]


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def launch(campaign: Campaign, *, enqueue: bool = True) -> dict[str, int]:
    """Launch (or re-dispatch) a campaign; returns its row counts by status.

    Draft: checked, then scheduled (``scheduled_at`` in the future, or a scheduled follow-up whose
    first campaign has not ended or ended less than its hours ago), or materialised and running
    — in a worker (status ``launching``) when ``enqueue`` and its lists hold more than
    ``TGC_INLINE_LAUNCH_ROWS`` valid recipients. Running: re-dispatched (after a restart it
    continues where it stopped). Paused: resumed. Raises :class:`LaunchError` (or
    :class:`NoUsableSession`) with a message for staff; then nothing is created.
    """
    campaign.refresh_from_db()
    if campaign.status == CampaignStatus.RUNNING:
        if enqueue:
            queue.enqueue_drive(campaign.pk)
        return campaign.counts()
    if campaign.status == CampaignStatus.PAUSED:
        resume(campaign, enqueue=enqueue)
        return campaign.counts()
    if campaign.status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
        raise LaunchError(f"The campaign is {campaign.get_status_display().lower()}; copy it to send again.")
    if not active_sessions(campaign):
        raise NoUsableSession(
            "No usable session: choose at least one active session (logged in, not disabled or quarantined)."
        )
    check = check_launch(campaign)
    if check.problems:
        raise LaunchError(" ".join(_sentence(p) for p in check.problems))
    if check.media is not None:
        # What the engine sends is what was inspected just now.
        campaign.media_type, campaign.media_info = check.media.media_type, check.media.as_json()
        Campaign.objects.filter(pk=campaign.pk).update(
            media_type=campaign.media_type, media_info=campaign.media_info
        )
    now = timezone.now()
    if campaign.status == CampaignStatus.DRAFT and (campaign.waits_to_follow_up or campaign.follow_up_due()):
        due = campaign.follow_up_due()
        if due is None or due > now:
            campaign.set_status(StatusMove.SCHEDULE, follow_up_reason(campaign), scheduled_at=due)
            return campaign.counts()
    if campaign.status == CampaignStatus.DRAFT and campaign.scheduled_at and campaign.scheduled_at > now:
        campaign.set_status(StatusMove.SCHEDULE)
        return campaign.counts()
    if enqueue and recipients_estimate(campaign) > conf.inline_launch_rows():
        if not campaign.set_status(
            StatusMove.PREPARE,
            "Preparing the recipients in the background; sending starts when they are ready.",
            launched_at=now,
        ):
            raise AlreadyLaunched("The campaign was launched already.")
        queue.enqueue_launch(campaign.pk)
        return campaign.counts()
    _start(campaign.pk, StatusMove.START, enqueue=enqueue)
    campaign.refresh_from_db()
    return campaign.counts()


def follow_up_reason(campaign: Campaign) -> str:
    """What a scheduled follow-up waits for, for staff."""
    return (
        f"A follow-up of “{campaign.follow_up_of}”: starts {campaign.follow_up_hours} h after it ends, "
        "to the people its segment chooses then."
    )


def recipients_estimate(campaign: Campaign) -> int:
    """Valid recipients of the campaign's lists and rows of its segments (before de-duplication)."""
    rows = sum(segment.recipients().count() for segment in campaign.segments.all())
    return (campaign.lists.aggregate(n=Sum("valid_count"))["n"] or 0) + rows


def _start(campaign_id: int, move: StatusMove, *, enqueue: bool) -> None:
    """Materialise (unless done) and set the campaign running by ``move`` (``START`` or
    ``START_PREPARED``), in one transaction with the campaign's row locked. Raises AlreadyLaunched
    when it is no longer in one of the move's sources."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign_id)
        if locked.status not in move.sources:
            raise AlreadyLaunched("The campaign was launched already.")
        if not locked.results.exists():
            materialise(locked)
        locked.set_status(move, launched_at=timezone.now(), wake_at=None)
        if enqueue:
            transaction.on_commit(lambda: queue.enqueue_drive(locked.pk))


def start_prepared(campaign_id: int) -> str:
    """The worker's half of a large launch: materialise the rows of a ``launching`` campaign and
    set it running. Returns ``started``, or ``not launching`` when it was cancelled meanwhile or
    another worker started it (a task delivered twice does nothing the second time)."""
    try:
        _start(campaign_id, StatusMove.START_PREPARED, enqueue=True)
    except AlreadyLaunched:
        return "not launching"
    return "started"


def resume(campaign: Campaign, *, enqueue: bool = True) -> bool:
    """Resume a paused campaign (launching it first if it was paused before it started). False
    when it is not paused, or waits for its A/B winner with nothing else to send
    (:meth:`Campaign.waits_for_winner`: running it would only pause it again)."""
    campaign.refresh_from_db()
    if campaign.status != CampaignStatus.PAUSED or campaign.waits_for_winner(campaign.counts()):
        return False
    if not campaign.results.exists():
        campaign.set_status(StatusMove.UNLAUNCH)
        launch(campaign, enqueue=enqueue)
        return True
    if zones.campaign_has_window(campaign):
        zones.assign_zones(campaign)  # a window set while it was paused
    if not campaign.set_status(StatusMove.RESUME):
        return False
    recover_stranded_rows(campaign)
    if enqueue:
        queue.enqueue_drive(campaign.pk)
    return True


RESULT_COLUMNS = (
    "campaign_id",
    "recipient_id",
    "key",
    "dedupe_key",
    "kind",
    "fields",
    "status",
    "session_id",
    "random_id",
    "error_code",
    "error_text",
    "attempts",
    "in_doubt",
    "claimed_by",
    "created_at",
    "updated_at",
)


def materialise(campaign: Campaign) -> dict[str, int]:
    """Create the campaign's rows in the database, set-based (:func:`.sql.materialise_rows`): one
    per distinct recipient key across its lists and its segments' rows (each segment evaluated
    here, once, inside the INSERT), in list and row order. Invalid and duplicate
    lines get a ``skipped`` row with the reason (NULL ``dedupe_key``), suppressed keys a
    ``skipped`` row, the rest a ``pending`` row in the campaign's pool (no session: the sessions
    pull them as they send). Memory stays flat whatever the lists' size. Under a send window each
    row gets its recipient's time zone, most in the INSERT (:func:`.zones.zones_at_insert`), the rest
    after it (:func:`.zones.assign_zones`); in an A/B test its
    variant, the hold-out ``held`` (:func:`.sql.assign_variants`). Returns
    {"pending": n, "skipped": n}."""
    windowed = zones.campaign_has_window(campaign)
    with zones.zones_at_insert(campaign) if windowed else contextlib.nullcontext(("''", [])) as zone:
        materialise_rows(
            campaign.pk,
            list(campaign.lists.values_list("pk", flat=True)),
            timezone.now(),
            {
                "duplicate": "duplicate of an earlier recipient",
                "suppressed": "on the suppression list (opted out)",
            },
            zone=zone,
            chosen=segment_source(campaign),
        )
    if windowed:
        zones.assign_zones(campaign)  # the rows the INSERT could not place
    if variants.is_test(campaign.variants, campaign.split):
        assign_variants(campaign.pk, variants.cumulative(campaign.split), timezone.now())
    counts = campaign.counts()
    return {"pending": counts["pending"], "skipped": counts["skipped"]}
