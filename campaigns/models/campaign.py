"""A campaign: the message, its lists and sessions, how it is sent, and its status."""

from __future__ import annotations

import enum
import os
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from sessions_app.models import TelegramSession
from tgcampaigns.bounds import Bounds

from .lists import RecipientList
from .results import OPEN_STATUSES, ResultStatus
from .tally import ResultTally


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    LAUNCHING = "launching", "Preparing recipients"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


_S = CampaignStatus  # short, for the table below


class StatusMove(enum.Enum):
    """The allowed changes of a campaign's status, each from any of its ``sources`` to its
    ``target``. :meth:`Campaign.set_status` makes these and no other (a test holds every status
    change in the code to this table); ``cancelled`` is final, and nothing returns to ``launching``.
    """

    SCHEDULE = ((_S.DRAFT,), _S.SCHEDULED)  # launched with a start time ahead
    PREPARE = ((_S.DRAFT, _S.SCHEDULED), _S.LAUNCHING)  # a large launch: a worker prepares the rows
    START = ((_S.DRAFT, _S.SCHEDULED), _S.RUNNING)  # rows prepared in the request, sending starts
    START_PREPARED = ((_S.LAUNCHING,), _S.RUNNING)  # the worker prepared the rows
    PAUSE = ((_S.RUNNING, _S.SCHEDULED), _S.PAUSED)  # by staff, or by the engine for a human
    RESUME = ((_S.PAUSED,), _S.RUNNING)
    UNLAUNCH = ((_S.PAUSED,), _S.DRAFT)  # paused before its rows existed: launched again as a draft
    COMPLETE = ((_S.RUNNING,), _S.COMPLETED)  # no row left open
    REOPEN = ((_S.COMPLETED,), _S.RUNNING)  # failed or unknown rows queued again
    CANCEL = ((_S.DRAFT, _S.SCHEDULED, _S.LAUNCHING, _S.RUNNING, _S.PAUSED), _S.CANCELLED)

    def __init__(self, sources: tuple[CampaignStatus, ...], target: CampaignStatus):
        self.sources = sources
        self.target = target


# Every (from, to) pair the table allows.
ALLOWED_MOVES = frozenset((source, move.target) for move in StatusMove for source in move.sources)


class ParseMode(models.TextChoices):
    PLAIN = "plain", "Plain text"
    HTML = "html", "HTML"
    MARKDOWN = "markdown", "Markdown"


class MediaType(models.TextChoices):
    NONE = "", "No media (text message)"
    PHOTO = "photo", "Photo"
    VIDEO = "video", "Video"
    DOCUMENT = "document", "Document"
    AUDIO = "audio", "Audio"
    VOICE = "voice", "Voice note"


class Strategy(models.TextChoices):
    ROUND_ROBIN = "round_robin", "Round robin"
    LEAST_LOADED = "least_loaded", "Least loaded"
    WEIGHTED = "weighted", "Weighted"


# Operations staff can run on a campaign, with the statuses they make sense in. Retry and resend
# depend on the rows (see Campaign.operations). A draft is not offered "cancel": it is edited or
# deleted.
OPERATION_STATUSES = {
    "launch": (CampaignStatus.DRAFT,),
    "pause": StatusMove.PAUSE.sources,
    "resume": StatusMove.RESUME.sources,
    "cancel": (
        CampaignStatus.SCHEDULED,
        CampaignStatus.LAUNCHING,
        CampaignStatus.RUNNING,
        CampaignStatus.PAUSED,
    ),
}
# A campaign that may still send is cancelled, not deleted: its rows are the record.
LIVE_STATUSES = (
    CampaignStatus.SCHEDULED,
    CampaignStatus.LAUNCHING,
    CampaignStatus.RUNNING,
    CampaignStatus.PAUSED,
)


# The ranges of the campaign's numeric settings (docs/api.md "Campaign settings"): the model's
# validators, the admin's form and the API's messages are made from these.
PRIORITY = Bounds(1, 10)
# Past an hour between two sends of one session a campaign would take days per hundred people;
# pace a slow drip with the sessions' daily cap instead.
DELAY_SECONDS = Bounds(0, 3600, "seconds", whole=False)
# A transient error is retried with backoff capped at 5 minutes: 20 attempts already retry one row
# for up to about an hour (and the backoff's 2 ** attempts overflows a float past 1024).
MAX_ATTEMPTS = Bounds(1, 20, "attempts")
# A scheduled follow-up starts at least an hour after the first campaign ends, and at most a year.
FOLLOW_UP_HOURS = Bounds(1, 24 * 365, "hours")


class Campaign(models.Model):
    """A message (text, or media with caption) to every recipient of some lists.

    ``message`` is a sandboxed Django template rendered per recipient with the list's columns;
    ``delay_seconds`` overrides the sessions' own delay when larger; ``priority`` (1–10) is its
    share of the turns of sessions it shares with other running campaigns.
    """

    name = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    message = models.TextField(blank=True, help_text="Text or caption; {{ first_name }} etc. personalise.")
    parse_mode = models.CharField(max_length=10, choices=ParseMode.choices, default=ParseMode.PLAIN)
    media = models.FileField(upload_to="media/%Y/%m/", blank=True)
    # The media file's name as staff uploaded it (the storage renames a second "photo.jpg" to
    # "photo_aB3dE9x.jpg"): shown on every page and given to Telegram as a document's file name.
    media_name = models.CharField(max_length=255, blank=True)
    media_type = models.CharField(max_length=10, choices=MediaType.choices, blank=True, default="")
    media_info = models.JSONField(default=dict, blank=True, editable=False)
    lists = models.ManyToManyField(RecipientList, related_name="campaigns", blank=True)
    # Segments (campaigns.models.segments) the campaign targets beside its lists: each is
    # evaluated once, in SQL, when the launch writes the rows.
    segments = models.ManyToManyField("campaigns.Segment", related_name="campaigns", blank=True)
    sessions = models.ManyToManyField(TelegramSession, related_name="campaigns", blank=True)
    strategy = models.CharField(max_length=20, choices=Strategy.choices, default=Strategy.ROUND_ROBIN)
    priority = models.PositiveSmallIntegerField(
        default=5,
        validators=PRIORITY.validators(),
        help_text=f"{PRIORITY.span}. Sessions shared by several running campaigns serve them in turn, each "
        "in proportion to its priority (a 10 gets twice the turns of a 5).",
    )
    delay_seconds = models.FloatField(
        default=0.0,
        validators=DELAY_SECONDS.validators(),
        help_text=f"Minimum seconds between sends per session ({DELAY_SECONDS.span}).",
    )
    max_attempts = models.PositiveSmallIntegerField(
        default=3,
        validators=MAX_ATTEMPTS.validators(),
        help_text=f"Tries per recipient when Telegram or the network fails ({MAX_ATTEMPTS.span}).",
    )
    scheduled_at = models.DateTimeField(null=True, blank=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.TextField(blank=True)
    # When a running campaign next has a usable session (FloodWait, daily cap): the reaper wakes it.
    wake_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A/B test: the other wordings (B, C, D in order; A is ``message``) and the split in percent
    # by variant label plus "hold" (the hold-out that gets the winner later), e.g.
    # {"A": 10, "B": 10, "hold": 80}. Empty: one wording, no test.
    variants = models.JSONField(default=list, blank=True)
    split = models.JSONField(default=dict, blank=True)
    winner = models.CharField(max_length=1, blank=True, editable=False)
    # Quiet hours: rows are sent only between these local times in the recipient's own time zone
    # (both empty: any time). An end before the start spans midnight (22:00–06:00).
    send_window_start = models.TimeField(null=True, blank=True)
    send_window_end = models.TimeField(null=True, blank=True)
    # A scheduled follow-up: launched ``follow_up_hours`` after ``follow_up_of`` ends (its
    # segment is evaluated then). Launching it before that schedules it (start time unknown
    # until the first campaign ends; the reaper sets it then).
    follow_up_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    follow_up_hours = models.PositiveIntegerField(
        null=True, blank=True, validators=FOLLOW_UP_HOURS.validators()
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "campaigns"
        ordering = ["-created_at"]
        # Finer than "change": editing a draft is not sending it (README "Roles and permissions").
        permissions = [
            ("launch_campaign", "Can launch or schedule a campaign"),
            ("control_campaign", "Can pause, resume, cancel, retry and resend a campaign"),
            ("send_test_campaign", "Can send a campaign's test message"),
        ]

    # Each bounded numeric field with its range (the admin's form and the API read it).
    BOUNDS = {
        "priority": PRIORITY,
        "delay_seconds": DELAY_SECONDS,
        "max_attempts": MAX_ATTEMPTS,
        "follow_up_hours": FOLLOW_UP_HOURS,
    }

    def __str__(self) -> str:
        return self.name

    def held(self, name: str) -> int | float:
        """The bounded setting ``name`` (:attr:`BOUNDS`) as the engine and the forecast obey it
        (:meth:`tgcampaigns.bounds.Bounds.held`): a value stored out of its range (a raw UPDATE,
        a row older than the ranges) is read as the nearest end of it, one that is no number as
        the field's default."""
        bounds = self.BOUNDS[name]
        default = self._meta.get_field(name).default
        return bounds.held(getattr(self, name), bounds.low if default is models.NOT_PROVIDED else default)

    @property
    def media_file_name(self) -> str:
        """The media file's name as uploaded ("" without media): :attr:`media_name`, or for a
        file stored without it the stored name's last part."""
        if not self.media:
            return ""
        return self.media_name or os.path.basename(self.media.name)

    @property
    def is_live(self) -> bool:
        """Scheduled, running or paused: it may still send."""
        return self.status in LIVE_STATUSES

    def counts(self) -> dict[str, int]:
        """Rows per status (every status present, zeros included) plus ``total``, from the
        maintained tally (no COUNT over the rows)."""
        found = ResultTally.objects.by_status(self.pk)
        counts = {s: found.get(s, 0) for s in ResultStatus.values}
        counts["total"] = sum(found.values())
        return counts

    def operations(self, counts: dict[str, int]) -> list[str]:
        """The operations that make sense now, in button order: those of
        :data:`OPERATION_STATUSES` for this status, ``retry_failed`` while failed rows exist (not
        once cancelled: cancelling is final), ``resend_unknown`` while unknown rows exist,
        ``choose_winner`` while an A/B test's hold-out waits for its winner and the variants' rows
        are settled (none open: their counts are what the choice is made on). A campaign paused
        for its winner (:meth:`waits_for_winner`) is not offered ``resume``: nothing but the
        held rows is left, so it would only pause again."""
        offered = [op for op, statuses in OPERATION_STATUSES.items() if self.status in statuses]
        if self.waits_for_winner(counts):
            offered.remove("resume")
        if counts.get("failed") and self.status != CampaignStatus.CANCELLED:
            offered.append("retry_failed")
        if counts.get("unknown"):
            offered.append("resend_unknown")
        if (
            counts.get(ResultStatus.HELD)
            and not self.winner
            and not any(counts.get(s) for s in OPEN_STATUSES)
            and self.status
            in (
                CampaignStatus.RUNNING,
                CampaignStatus.PAUSED,
            )
        ):
            offered.append("choose_winner")
        return offered

    def waits_for_winner(self, counts: dict[str, int]) -> bool:
        """Whether this A/B test is paused with nothing left to send but its hold-out: only
        choosing the winner moves it on. ``counts``: rows per status (:meth:`counts`)."""
        return (
            self.status == CampaignStatus.PAUSED
            and not self.winner
            and bool(counts.get(ResultStatus.HELD))
            and not any(counts.get(s) for s in OPEN_STATUSES)
        )

    # What a launch sends, in :meth:`fingerprint`; a new field that changes what is sent belongs
    # here (and in :meth:`clone`, with the settings).
    CONTENT_FIELDS = ("message", "parse_mode", "media", "media_type", "variants", "split")
    SETTING_FIELDS = (
        "strategy",
        "priority",
        "delay_seconds",
        "max_attempts",
        "send_window_start",
        "send_window_end",
    )

    def fingerprint(self) -> str:
        """A digest of what a launch would send as saved now: the content, lists (and their default
        time zones), sessions, the settings and the start time. The launch summary carries it, so a
        launch confirmed on a summary sends exactly what the summary showed (anything saved since
        refuses it)."""
        import hashlib
        import json

        values = {
            name: json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else str(value or "")
            for name in self.CONTENT_FIELDS + self.SETTING_FIELDS
            for value in [getattr(self, name)]
        }
        values["media_info"] = json.dumps(self.media_info or {}, sort_keys=True)
        values["scheduled_at"] = self.scheduled_at.isoformat() if self.scheduled_at else ""
        if self.pk:
            # A list's default time zone places its recipients under a send window: the summary
            # counted them in it.
            values["lists"] = sorted(map(list, self.lists.values_list("pk", "default_time_zone")))
            values["sessions"] = sorted(self.sessions.values_list("pk", flat=True))
            # A segment changed since the summary chooses other people.
            values["segments"] = sorted(
                [pk, json.dumps(definition, sort_keys=True)]
                for pk, definition in self.segments.values_list("pk", "definition")
            )
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:32]

    def clone(self, *, by=None) -> Campaign:
        """A new draft with this campaign's message, media, lists, sessions and settings, and none
        of its results; a start time is kept only while it is still ahead. The media file is
        shared (it is never changed in place: a new upload is a new file)."""
        copy = Campaign.objects.create(
            name=f"{self.name} (copy)"[:200],
            created_by=by,
            media_info=self.media_info,
            media_name=self.media_name,
            scheduled_at=self.scheduled_at
            if self.scheduled_at and self.scheduled_at > timezone.now()
            else None,
            **{name: getattr(self, name) for name in self.CONTENT_FIELDS + self.SETTING_FIELDS},
        )
        copy.lists.set(self.lists.all())
        copy.segments.set(self.segments.all())
        copy.sessions.set(self.sessions.all())
        return copy

    def follow_up_due(self):
        """A scheduled follow-up's start: ``follow_up_hours`` after the campaign it follows ended
        (completed); None while that one has not ended, or for a campaign that follows none."""
        first = self.follow_up_of
        if not self.follow_up_hours or first is None or first.status != CampaignStatus.COMPLETED:
            return None
        hours = self.held("follow_up_hours")
        return first.finished_at + timedelta(hours=hours) if first.finished_at else None

    @property
    def waits_to_follow_up(self) -> bool:
        """A scheduled follow-up whose first campaign has not ended: who it reaches is not known
        yet (one whose first campaign was cancelled waits for nothing: it is sent when resumed)."""
        first = self.follow_up_of if self.follow_up_hours else None
        return first is not None and first.status != CampaignStatus.CANCELLED and self.follow_up_due() is None

    def set_status(self, move: StatusMove, reason: str = "", **fields) -> bool:
        """Make ``move`` (:class:`StatusMove`), compare-and-set: only from one of its sources, so
        of two processes moving a campaign at once one wins. ``reason`` is shown to staff;
        ``fields`` are further columns written in the same UPDATE. Returns True when this call
        changed the status (False: the campaign was in no source of the move, nothing written).
        Raises TypeError when ``move`` is not a :class:`StatusMove` (a bare status)."""
        if not isinstance(move, StatusMove):
            raise TypeError(f"set_status takes a StatusMove, not {move!r}: see campaigns.models.campaign")
        changes = {"status": move.target, "status_reason": reason, **fields}
        if move.target in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
            changes["finished_at"] = timezone.now()
        elif move is StatusMove.REOPEN:
            changes["finished_at"] = None
        with transaction.atomic():  # the change and its webhook event, or neither
            changed = Campaign.objects.filter(pk=self.pk, status__in=move.sources).update(**changes) == 1
            if changed:
                for key, value in changes.items():
                    setattr(self, key, value)
                self._announce(move)
        return changed

    def _announce(self, move: StatusMove) -> None:
        """The webhook event of a move (``campaign.paused`` with its reason, ``campaign.finished``
        when it completed, with its counts, or was cancelled); other moves have none."""
        from tgcampaigns import webhooks

        campaign = {"id": self.pk, "name": self.name, "status": str(self.status)}
        if move is StatusMove.PAUSE:
            webhooks.emit(
                webhooks.Event.CAMPAIGN_PAUSED, {"campaign": campaign, "reason": self.status_reason}
            )
        elif move in (StatusMove.COMPLETE, StatusMove.CANCEL):
            finished = {
                **campaign,
                "launched_at": _iso(self.launched_at),
                "finished_at": _iso(self.finished_at),
            }
            data = {"campaign": finished}
            if move is StatusMove.COMPLETE:
                data["counts"] = self.counts()
            webhooks.emit(webhooks.Event.CAMPAIGN_FINISHED, data)


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None
