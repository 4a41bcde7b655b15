"""The launch summary: everything a launch will do, shown before it is confirmed — recipients to
send and skipped with reasons, the sessions with their pace and expected share, how long it takes
and when it ends, what the message looks like, what refuses the launch and what only warns.

It describes the campaign *as saved*: its :meth:`~campaigns.models.Campaign.fingerprint` travels
with the confirmation, and a launch over anything saved since is refused
(:func:`confirm_matches`), so what is confirmed is what is sent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Sum
from django.utils import timezone

from tgcampaigns import conf
from tgcampaigns.audit import AuditAction
from tgcampaigns.audit.models import AuditEvent

from .. import engine
from ..content import variants
from ..content.preview import CampaignPreview, campaign_preview
from ..engine import window
from ..engine.zones import ListProblem
from ..models import (
    OPEN_STATUSES,
    Campaign,
    CampaignStatus,
    Recipient,
    ResultStatus,
)
from ..models.lists import no_consent_rows
from ..people.timezones import about, clock
from . import forecast


@dataclass
class LaunchSummary:
    """``counts``: {to_send, invalid, no_consent, duplicate, suppressed, total} as the launch
    would write them (``invalid``: malformed lines; ``no_consent``: lines the list's consent or
    opt-out column refused, skipped as ``NO_CONSENT``); ``sessions``: each with its pace and ``expected`` rows (:func:`engine.split_estimate`,
    an estimate: with late binding a session that waits sends less and the others more);
    ``starts_at``/``finish_at``: when sending starts (now, or the scheduled time) and is expected
    to end (None: no session can send); ``in_background``: a large launch, prepared by a worker;
    ``approximate``: its counts are the lists' import reports (counting duplicates across lists
    and opt-outs would read every row: the worker does it when it prepares the launch)."""

    campaign: Campaign
    fingerprint: str
    # What refuses the launch; a :class:`~campaigns.engine.zones.ListProblem` carries the id of
    # the list whose page fixes it (the page links to it).
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    sessions: list[forecast.SessionPace] = field(default_factory=list)
    starts_at: datetime | None = None
    finish_at: datetime | None = None
    # When the sessions alone would be done (the finish before the send windows moved it).
    paced_finish_at: datetime | None = None
    in_background: bool = False
    approximate: bool = False
    scheduled: bool = False
    preview: CampaignPreview | None = None
    # Quiet hours: recipients per time zone known surely (most first), per zone only guessed from
    # a several-clock country's number (a launch the check refuses), and per way the zone was found
    # (phone, column, default, guess, none), before de-duplication; empty without a window or for
    # a large launch (reading every recipient is the worker's).
    zones: list[tuple[str, int]] = field(default_factory=list)
    guessed_zones: list[tuple[str, int]] = field(default_factory=list)
    zones_found: dict[str, int] = field(default_factory=dict)
    # A/B test: (label, percent, expected recipients) per variant, "hold" last, adding up to the
    # recipients to send (:func:`~campaigns.content.variants.expected_counts`: about, before the
    # rows and their ids exist); empty without a test. ``previews``: (label, preview) per variant.
    split: list[tuple[str, int, int]] = field(default_factory=list)
    previews: list[tuple[str, CampaignPreview]] = field(default_factory=list)
    # Invalid lines of the lists by reason, most first: (reason, lines); empty for a large launch.
    # Lines skipped for want of consent are counted apart (counts["no_consent"]) and left out.
    invalid_reasons: list[tuple[str, int]] = field(default_factory=list)
    # The campaign's segments as evaluated now: (name, people); and, for a "did not read"
    # condition, (where, rows sent by bots it cannot count) — Telegram tells bots no read.
    # A scheduled follow-up: what it waits for (its start is the first campaign's end plus hours).
    follow_up: str = ""
    segments: list[tuple[str, int]] = field(default_factory=list)
    left_out: list[tuple[str, int]] = field(default_factory=list)

    # A campaign no longer a draft (Back to its summary after the launch): what happened to it,
    # for people (:func:`what_happened`); the page shows this instead of a launch.
    history: str = ""

    @property
    def fixed_on_lists(self) -> bool:
        """Whether every refusal names the recipient list whose page fixes it (the page then
        sends staff there, not to the campaign's page)."""
        return bool(self.problems) and all(getattr(p, "list_id", None) for p in self.problems)

    @property
    def some_on_lists(self) -> bool:
        """Whether some refusal (not every one) is fixed on a recipient list's page."""
        return any(getattr(p, "list_id", None) for p in self.problems)

    @property
    def can_launch(self) -> bool:
        return not self.problems and not self.history

    @property
    def skipped(self) -> int:
        return sum(self.counts.get(name, 0) for name in ("invalid", "no_consent", "duplicate", "suppressed"))

    @property
    def invalid_lines(self) -> int:
        """Invalid lines but those without consent (:attr:`no_consent`)."""
        return self.counts.get("invalid", 0)

    @property
    def no_consent(self) -> int:
        """Lines the list's consent or opt-out column refused."""
        return self.counts.get("no_consent", 0)

    @property
    def held(self) -> int:
        """Recipients held for the winner (about): sent only once staff choose it."""
        return dict((name, n) for name, _, n in self.split).get(variants.HOLD, 0)

    @property
    def to_send_before_winner(self) -> int:
        """What the launch sends by itself (the ETA's count): every recipient but the hold-out."""
        return self.counts.get("to_send", 0) - self.held

    @property
    def duration(self) -> str:
        if self.finish_at is None or self.starts_at is None:
            return ""
        return about((self.finish_at - self.starts_at).total_seconds())

    @property
    def window_delay(self) -> float:
        """Seconds the send windows (quiet hours) add to the sending itself; 0 under a minute."""
        if self.finish_at is None or self.paced_finish_at is None:
            return 0.0
        added = (self.finish_at - self.paced_finish_at).total_seconds()
        return added if added >= 60 else 0.0

    @property
    def window_dominates(self) -> bool:
        """Whether the send windows, not the sessions' pace, make most of the time."""
        if not self.window_delay or self.starts_at is None:
            return False
        return self.window_delay > (self.paced_finish_at - self.starts_at).total_seconds()

    @property
    def window_wait(self) -> str:
        """The time the send windows add, for people ("about 2 h"); "" under a minute."""
        return about(self.window_delay) if self.window_delay else ""

    @property
    def paced_duration(self) -> str:
        """How long the sending itself takes at the sessions' pace ("under a minute")."""
        if self.paced_finish_at is None or self.starts_at is None:
            return ""
        return about((self.paced_finish_at - self.starts_at).total_seconds())

    @property
    def per_minute(self) -> str:
        """Messages a minute the sessions allow this campaign together ("60", "2.5")."""
        return f"{sum(60 * p.per_second for p in self.sessions):.1f}".removesuffix(".0")


def launch_summary(campaign: Campaign, *, personal: bool = True) -> LaunchSummary:
    """The summary of launching ``campaign`` now, as saved (reads, never writes). ``personal``:
    the preview may show a recipient's identity and fields (the viewer may see results)."""
    campaign.refresh_from_db()
    now = timezone.now()
    summary = LaunchSummary(campaign=campaign, fingerprint=campaign.fingerprint())
    if campaign.status != CampaignStatus.DRAFT:
        summary.history = what_happened(campaign, now)
        return summary
    if not engine.active_sessions(campaign):
        summary.problems.append(
            "No usable session: choose at least one active session (logged in, not disabled or quarantined)."
        )
    check = engine.check_launch(campaign)
    summary.problems += [as_sentence(p) for p in check.problems]
    summary.warnings += [as_sentence(w) for w in check.warnings]
    if not check.problems:
        _add_segments(summary, campaign)
    summary.in_background = engine.recipients_estimate(campaign) > conf.inline_launch_rows()
    if summary.in_background:
        summary.counts, summary.approximate = _counts_from_imports(campaign), True
        summary.counts["to_send"] += sum(n for _, n in summary.segments)
    else:
        chosen = engine.segment_source(campaign) if summary.segments else None
        summary.counts = engine.count_materialised(list(campaign.lists.values_list("pk", flat=True)), chosen)
        if summary.counts.get("invalid"):
            summary.invalid_reasons = invalid_reasons(campaign)
    summary.sessions = forecast.session_paces(campaign, now, counter=engine.assignment.requests_today)
    split = engine.split_estimate(campaign, summary.counts["to_send"])
    for pace in summary.sessions:
        pace.expected = split.get(pace.id, 0)
    test = variants.is_test(campaign.variants, campaign.split)
    if test:
        summary.split = variants.expected_counts(campaign.split, summary.counts["to_send"])
    scheduled = campaign.scheduled_at and campaign.scheduled_at > now
    summary.scheduled = bool(scheduled)
    summary.starts_at = campaign.scheduled_at if scheduled else now
    due = campaign.follow_up_due()
    if campaign.waits_to_follow_up or (due and due > now):
        summary.follow_up, summary.scheduled = engine.follow_up_reason(campaign), True
        summary.starts_at = due or now
    by_zone = forecast.launch_zones(campaign)
    if by_zone is not None:
        _add_zones(summary, by_zone)
    # The hold-out waits for staff to choose the winner: the estimate is for the rest.
    estimate = forecast.launch_estimate(
        campaign, summary.counts["to_send"], summary.sessions, summary.starts_at, by_zone
    )
    summary.finish_at, summary.paced_finish_at = estimate.finish_at, estimate.paced_finish_at
    summary.preview = campaign_preview(campaign, personal=personal)
    if test:
        summary.previews = [
            (label, campaign_preview(campaign, personal=personal, message=text))
            for label in variants.labels_of(campaign.variants)
            for text in [variants.text_of(campaign.message, campaign.variants, label)]
        ]
    summary.warnings += _session_warnings(summary.sessions, campaign)
    return summary


def _add_segments(summary: LaunchSummary, campaign: Campaign) -> None:
    """The campaign's segments with the people each chooses now, and the rows their "did not
    read" conditions leave out (sent by bots)."""
    for segment in campaign.segments.order_by("name"):
        summary.segments.append((segment.name, segment.count()))
        summary.left_out += segment.left_out()


# What each status after the launch says (the campaign's counts follow).
HAPPENED = {
    CampaignStatus.SCHEDULED: "is scheduled to start at {start}",
    CampaignStatus.LAUNCHING: "is being prepared by a worker",
    CampaignStatus.RUNNING: "is sending",
    CampaignStatus.PAUSED: "is paused",
    CampaignStatus.COMPLETED: "finished at {end}",
    CampaignStatus.CANCELLED: "was cancelled at {end}",
}


def what_happened(campaign: Campaign, now: datetime) -> str:
    """A campaign that is no longer a draft, in one sentence: "“Winter sale” was launched at 12:01
    by mark and finished at 12:07: 11 sent, 1 failed, 2 skipped." Who launched it is read from the
    audit trail (its first successful launch event; "" when none was recorded, e.g. the command)."""
    launched_by = (
        AuditEvent.objects.filter(action=AuditAction.CAMPAIGN_LAUNCH, object_id=str(campaign.pk))
        .exclude(message__startswith="Launch refused")
        .order_by("at", "id")
        .values_list("actor", flat=True)
        .first()
    )
    by = f" by {launched_by}" if launched_by else ""
    launched = f" was launched at {clock(campaign.launched_at, now)}{by}" if campaign.launched_at else ""
    state = HAPPENED.get(campaign.status, f"is {campaign.get_status_display().lower()}").format(
        start=clock(campaign.scheduled_at, now), end=clock(campaign.finished_at, now)
    )
    counts = campaign.counts()
    said = ", ".join(
        f"{counts[status]} {label}"
        for status, label in (
            (ResultStatus.SENT, "sent"),
            (ResultStatus.FAILED, "failed"),
            (ResultStatus.UNKNOWN, "unknown"),
            (ResultStatus.SKIPPED, "skipped"),
            (ResultStatus.CANCELLED, "never sent (cancelled)"),
            (ResultStatus.HELD, "held for the winner"),
        )
        if counts.get(status)
    )
    waiting = sum(counts.get(s, 0) for s in OPEN_STATUSES)
    if waiting:
        said = f"{said}, {waiting} waiting" if said else f"{waiting} waiting"
    joined = " and " if launched else " "
    return f"“{campaign}”{launched}{joined}{state}" + (f": {said}." if said else ".")


# Reasons named one by one in the summary; the rest are counted together.
REASONS_SHOWN = 4


def _lines_without_consent(campaign: Campaign):
    return Recipient.objects.filter(no_consent_rows(), recipient_list__in=campaign.lists.all())


def invalid_reasons(campaign: Campaign) -> list[tuple[str, int]]:
    """The invalid lines of ``campaign``'s lists by reason, most first, but those without consent
    (:attr:`LaunchSummary.no_consent`): (reason, lines). A reason
    is the import's error up to its detail ("username too short: 2 characters…" → "username too
    short"); past :data:`REASONS_SHOWN` reasons the rest are "other reasons"."""
    errors = (
        Recipient.objects.filter(recipient_list__in=campaign.lists.all(), status=Recipient.Status.INVALID)
        .exclude(no_consent_rows())
        .values_list("error")
        .annotate(n=Count("id"))
        .order_by()
    )
    found: Counter[str] = Counter()
    for error, n in errors:
        found[(error or "no reason recorded").split(":")[0].split(" (")[0].strip()] += n
    ranked = sorted(found.items(), key=lambda item: (-item[1], item[0]))
    if len(ranked) > REASONS_SHOWN:
        rest = sum(n for _, n in ranked[REASONS_SHOWN - 1 :])
        ranked = ranked[: REASONS_SHOWN - 1] + [("other reasons", rest)]
    return ranked


def _add_zones(summary: LaunchSummary, by_zone: Counter) -> None:
    """The recipients per time zone of a campaign with a send window, from ``by_zone`` ((zone,
    how) → recipients, :func:`.forecast.launch_zones`): zones known surely in ``zones``, zones
    guessed from a number of a several-clock country in ``guessed_zones`` (the launch check refuses
    them: :func:`campaigns.engine.zones.zone_problems`; the page labels them as guesses)."""
    sure: Counter[str] = Counter()
    guessed: Counter[str] = Counter()
    found: Counter[str] = Counter()
    for (zone, how), n in by_zone.items():
        (guessed if how == window.GUESS else sure)[zone] += n
        found[how] += n
    summary.zones = sure.most_common()
    summary.guessed_zones = guessed.most_common()
    summary.zones_found = dict(found)


def _session_warnings(paces: list[forecast.SessionPace], campaign: Campaign) -> list[str]:
    """What the usable sessions share: a session busy with something else joins later; one shared
    with other running campaigns gives this one a share of its turns."""
    warnings = []
    for pace in paces:
        if pace.usable and pace.busy_with:
            warnings.append(f"{pace.name} is busy with {pace.busy_with}: it joins when that is done.")
        if pace.usable and pace.shared_with:
            warnings.append(
                f"{pace.name} also sends {', '.join(f'“{n}”' for n, _ in pace.shared_with)}: this campaign gets "
                f"{round(100 * pace.share)}% of its turns (priority {campaign.priority})."
            )
    return warnings


def _counts_from_imports(campaign: Campaign) -> dict[str, int]:
    """The launch's counts from the lists' import reports (and their invalid rows refused for
    want of consent, read on the (list, status) index): no read of their valid rows."""
    totals = campaign.lists.aggregate(
        valid=Sum("valid_count"),
        invalid=Sum("invalid_count"),
        duplicate=Sum("duplicate_count"),
        total=Sum("total_rows"),
    )
    no_consent = _lines_without_consent(campaign).count() if totals["invalid"] else 0
    return {
        "to_send": totals["valid"] or 0,
        "invalid": (totals["invalid"] or 0) - no_consent,
        "no_consent": no_consent,
        "duplicate": totals["duplicate"] or 0,
        "suppressed": 0,
        "total": totals["total"] or 0,
    }


def confirm_matches(campaign: Campaign, fingerprint: str) -> bool:
    """Whether ``fingerprint`` (from a summary) is still what ``campaign`` would send."""
    campaign.refresh_from_db()
    return bool(fingerprint) and fingerprint == campaign.fingerprint()


def as_sentence(text: str) -> str:
    """``text`` as a sentence; a problem one list's page fixes keeps its ``list_id``."""
    stripped = text.strip()
    sentence = stripped[:1].upper() + stripped[1:] + ("" if stripped.endswith((".", "!", "?", "…")) else ".")
    list_id = getattr(text, "list_id", None)
    return ListProblem(sentence, list_id) if list_id else sentence
