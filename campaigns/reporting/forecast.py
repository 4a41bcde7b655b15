"""When a campaign will finish, and why it waits: from its sessions' pace, not from guesses.

Each session sends at most one request per ``interval`` (the larger of its delay, the campaign's
delay and 60 s / its per-minute ceiling), at most its daily cap per UTC day, never before its
FloodWait ends (docs/design.md "Delivery contract" 6); a session shared by several running campaigns
gives each a share of its turns in proportion to their priorities (:mod:`campaigns.engine.work`).
From that, :func:`finish_at` walks the days until the messages left are sent, and :func:`waits`
says, in plain words, what holds the campaign back now.

Pages that refresh call :func:`session_paces` with the maintained tallies (requests today from
:class:`AttemptTally`); the launch summary passes the attempt log's exact count
(:func:`campaigns.engine.assignment.requests_today`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Max, Sum
from django.utils import timezone

from sessions_app.models import SessionStatus, TelegramSession, utc_day_start
from tgcampaigns import conf

from ..content import variants
from ..engine import window
from ..engine.driver import next_wake
from ..engine.pacing import DelayHold, delay_holds
from ..engine.readiness import PURPOSES, STATUS_REASONS
from ..lists.zonenames import valid_zone
from ..models import (
    OPEN_STATUSES,
    AttemptTally,
    Campaign,
    CampaignStatus,
    ResultStatus,
    ResultTally,
    TestSend,
)
from ..models.campaign import PRIORITY
from ..people.timezones import clock, duration

# The fastest a session is taken to send when nothing limits it (a simulated session with no
# delay): the engine's own overhead per request, about (bench/ceiling.py).
MIN_INTERVAL = 0.01
# Campaigns that may wait for something (a draft: what would hold it back once launched).
WAITING_STATUSES = (
    CampaignStatus.DRAFT,
    CampaignStatus.SCHEDULED,
    CampaignStatus.LAUNCHING,
    CampaignStatus.RUNNING,
)
# A running campaign nothing has happened to for this long, with no worker holding its sessions.
IDLE_SECONDS = 120


@dataclass
class SessionPace:
    """One session as it serves one campaign. ``interval``: seconds per request for this
    campaign; ``share``: the part of its turns this campaign gets (0–1); ``available_at``: when
    it may next send (its FloodWait, a campaign's delay after its latest request, or midnight
    UTC once capped); ``shared_with``: (name, priority) of the other running campaigns it
    serves; ``busy_with``: what holds its lease when that is not sending ("" otherwise);
    ``delay_hold``: the campaign delay holding it now, if one does."""

    id: int
    name: str
    simulated: bool
    status: str
    status_display: str
    interval: float
    per_minute: int
    daily_cap: int
    requests_today: int
    available_at: datetime
    share: float = 1.0
    shared_with: list[tuple[str, int]] = field(default_factory=list)
    busy_with: str = ""
    flood_wait_until: datetime | None = None
    delay_hold: DelayHold | None = None
    # Cannot reach Telegram (campaigns.engine.reach): since when, and why.
    unreachable_since: datetime | None = None
    unreachable_reason: str = ""
    expected: int = 0  # rows this session is expected to send (launch summary)

    @property
    def usable(self) -> bool:
        return self.status == SessionStatus.ACTIVE

    @property
    def capped(self) -> bool:
        return bool(self.daily_cap) and self.requests_today >= self.daily_cap

    @property
    def per_second(self) -> float:
        """Requests per second this campaign gets from the session while it may send."""
        return self.share / max(self.interval, MIN_INTERVAL) if self.usable else 0.0

    @property
    def pace_per_minute(self) -> str:
        """Requests a minute the session makes at its interval, for people ("20", "0.5"): its
        effective pace, whatever ceiling (per minute, delay) is the larger limit."""
        return f"{60.0 / max(self.interval, MIN_INTERVAL):.3g}"

    @property
    def interval_display(self) -> str:
        """Seconds between two of its requests for people: "0.5", "20", "0.04"."""
        return f"{self.interval:.3g}"


def tally_requests_today(session_ids: list[int], now: datetime) -> dict[int, int]:
    """Requests each session made today (UTC), from the attempt tally and the test sends: no read
    of the attempt log, for pages that refresh."""
    start = utc_day_start(now)
    counts = AttemptTally.requests_since(session_ids, start)
    for session_id, n in _test_sends_since(session_ids, start).items():
        counts[session_id] = counts.get(session_id, 0) + n
    return counts


def _test_sends_since(session_ids: list[int], start: datetime) -> dict[int, int]:
    rows = (
        TestSend.objects.filter(session_id__in=session_ids, requested=True, created_at__gte=start)
        .values_list("session_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(rows)


def session_paces(
    campaign: Campaign,
    now: datetime | None = None,
    *,
    counter: Callable[[list[int], datetime], dict[int, int]] = tally_requests_today,
) -> list[SessionPace]:
    """The campaign's sessions with their pace for it, by name. ``counter`` gives requests today
    per session id (default: from the tallies)."""
    now = now or timezone.now()
    sessions = list(campaign.sessions.order_by("name"))
    today = counter([s.pk for s in sessions], now)
    sharing = _sharing(campaign, [s.pk for s in sessions])
    midnight = utc_day_start(now) + timedelta(days=1)
    holds = delay_holds(sessions, now, from_tally=True)
    paces = []
    for s in sessions:
        limits = [s.interval(), campaign.held("delay_seconds")]
        pace = SessionPace(
            id=s.pk,
            name=s.name,
            simulated=s.is_simulated,
            status=s.status,
            status_display=s.get_status_display(),
            interval=max(limits),
            per_minute=s.held("max_per_minute"),
            daily_cap=s.held("daily_cap"),
            requests_today=today.get(s.pk, 0),
            available_at=now,
            flood_wait_until=s.flood_wait_until if s.flood_wait_left(now) else None,
        )
        if pace.flood_wait_until:
            pace.available_at = pace.flood_wait_until
        if s.unreachable_since:
            pace.unreachable_since, pace.unreachable_reason = s.unreachable_since, s.last_error_text
            pace.available_at = max(pace.available_at, s.next_connect_at or now)
        if pace.capped:
            pace.available_at = max(pace.available_at, midnight)
        if (hold := holds.get(s.pk)) and hold.until > now:
            pace.delay_hold = hold
            pace.available_at = max(pace.available_at, hold.until)
        others = sharing.get(s.pk, [])
        pace.shared_with = [(name, priority) for name, priority in others]
        priority = campaign.held("priority")
        pace.share = priority / (priority + sum(p for _, p in others))
        pace.busy_with = _busy_with(s, now)
        paces.append(pace)
    return paces


def _sharing(campaign: Campaign, session_ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    """Session id → (name, priority) of the other running campaigns with messages left that it
    also serves (their open rows from the tally)."""
    others = (
        Campaign.objects.filter(status=CampaignStatus.RUNNING, sessions__in=session_ids)
        .exclude(pk=campaign.pk)
        .values_list("pk", "name", "priority", "sessions")
    )
    rows = [r for r in others if r[3] in session_ids]
    if not rows:
        return {}
    open_left = set(
        ResultTally.objects.filter(campaign_id__in={r[0] for r in rows}, status__in=OPEN_STATUSES)
        .values("campaign_id")
        .annotate(n=Sum("n"))
        .filter(n__gt=0)
        .values_list("campaign_id", flat=True)
    )
    found: dict[int, list[tuple[str, int]]] = {}
    for pk, name, priority, session_id in rows:
        if pk in open_left:  # a priority as the engine obeys it (Campaign.held)
            found.setdefault(session_id, []).append((name, PRIORITY.held(priority, PRIORITY.low)))
    return found


def _busy_with(session: TelegramSession, now: datetime) -> str:
    """What holds ``session``'s lease now when it is not a sending slice ("" when free or sending)."""
    if not session.lease_owner or not session.lease_expires_at or session.lease_expires_at <= now:
        return ""
    purpose = session.lease_owner.split(":", 1)[0]
    if purpose == "drive":
        return ""
    return PURPOSES.get(purpose, purpose)


def finish_at(remaining: int, paces: list[SessionPace], now: datetime | None = None) -> datetime | None:
    """When ``remaining`` messages are sent at the sessions' pace: day by day (UTC, as the caps
    count), each session sending from when it may (FloodWait, cap) at its rate, up to its cap.
    None when no session can send, or it would take more than a year."""
    now = now or timezone.now()
    if remaining <= 0:
        return now
    usable = [p for p in paces if p.usable and p.per_second > 0]
    if not usable:
        return None
    left, start = float(remaining), now
    for day in range(366):
        end = utc_day_start(start) + timedelta(days=1)
        plan = []
        for p in usable:
            begins = max(start, p.available_at)
            cap = (p.daily_cap - p.requests_today if day == 0 else p.daily_cap) if p.daily_cap else None
            if begins < end and (cap is None or cap > 0):
                plan.append((begins, p.per_second, cap))

        def sent_by(t: datetime, plan=plan) -> float:
            total = 0.0
            for begins, rate, cap in plan:
                n = rate * max(0.0, (t - begins).total_seconds())
                total += n if cap is None else min(n, cap)
            return total

        if sent_by(end) >= left:
            low, high = start, end
            for _ in range(60):  # bisect to well under a second
                middle = low + (high - low) / 2
                low, high = (middle, high) if sent_by(middle) < left else (low, middle)
            return high
        left -= sent_by(end)
        start = end
    return None


def window_openings(
    campaign: Campaign, by_zone: dict[str, int], now: datetime
) -> list[tuple[datetime, str, int]]:
    """Under a send window: (when it opens, zone, rows) for each zone of ``by_zone`` (zone → rows
    to send), in order of opening; ``now`` for zones open now. [] without a window."""
    start, end = campaign.send_window_start, campaign.send_window_end
    if not window.has_window(start, end):
        return []
    found = [
        (window.next_opening(start, end, zone, now), zone, n)
        for zone, n in by_zone.items()
        if n and zone and valid_zone(zone)
    ]
    return sorted(found)


def finish_in_windows(
    openings: list[tuple[datetime, str, int]], paces: list[SessionPace], now: datetime
) -> datetime | None:
    """When the rows of every zone are sent, each zone's rows starting when its window opens:
    the latest of each zone's own finish and the finish of all rows from the first opening.
    Approximate: a window is taken to stay open until its rows are sent (a zone whose rows
    outlast its window finishes a day later, which this does not add)."""
    if not openings:
        return now
    ends = [finish_at(sum(n for *_, n in openings), paces, openings[0][0])]
    ends += [finish_at(n, paces, opens) for opens, _zone, n in openings]
    return None if any(e is None for e in ends) else max(ends)


@dataclass
class LaunchEstimate:
    """How long a launch takes: ``finish_at`` (None: no session can send), ``paced_finish_at``
    (when the sessions alone would be done, before the send windows moved it), ``held`` (an A/B
    test's hold-out, about: sent only after staff choose the winner, not counted) and ``sent``
    (the messages the estimate is for)."""

    starts_at: datetime
    finish_at: datetime | None
    paced_finish_at: datetime | None
    held: int = 0
    sent: int = 0

    @property
    def window_delay(self) -> float:
        """Seconds the send windows (quiet hours) add to the sending itself; 0 under a minute."""
        if self.finish_at is None or self.paced_finish_at is None:
            return 0.0
        added = (self.finish_at - self.paced_finish_at).total_seconds()
        return added if added >= 60 else 0.0


def launch_zones(campaign: Campaign) -> Counter | None:
    """(zone, how) → recipients of the campaign's lists' valid recipients (before
    de-duplication; how: :data:`.window.PHONE`, ``COLUMN``, ``DEFAULT``, ``GUESS``, ``NONE``) for a
    campaign with a send window; None without one, or for a launch a worker prepares (more than
    ``TGC_INLINE_LAUNCH_ROWS`` recipients: reading every one is the worker's)."""
    from ..engine import zones
    from ..engine.launcher import recipients_estimate

    if not zones.campaign_has_window(campaign) or recipients_estimate(campaign) > conf.inline_launch_rows():
        return None
    return zones.zone_pairs(campaign)


def launch_estimate(
    campaign: Campaign,
    to_send: int,
    paces: list[SessionPace],
    starts_at: datetime,
    by_zone: Counter | None = None,
) -> LaunchEstimate:
    """How long launching ``campaign`` takes for ``to_send`` recipients from ``starts_at``: the
    launch summary's and the campaign page's estimate (one computation, so they agree). An A/B
    test's hold-out is not counted; ``by_zone`` ((zone, how) → recipients, :func:`launch_zones`)
    moves the finish to the send windows' openings."""
    held = 0
    if variants.is_test(campaign.variants, campaign.split):
        held = dict((n, k) for n, _, k in variants.expected_counts(campaign.split, to_send)).get(
            variants.HOLD, 0
        )
    sent = to_send - held
    paced = finish_at(sent, paces, starts_at)
    finish = paced
    if by_zone and paced is not None:
        share = sent / to_send if to_send else 1
        per_zone: Counter = Counter()
        for (zone, _how), n in by_zone.items():
            per_zone[zone] += n
        openings = window_openings(campaign, {z: round(n * share) for z, n in per_zone.items()}, starts_at)
        finish = finish_in_windows(openings, paces, starts_at) if openings else paced
    return LaunchEstimate(starts_at, finish, paced, held, sent)


def _window_waits(campaign: Campaign, now: datetime) -> list[str]:
    """Sentences for the rows waiting for their send window to open (at most three zones named)."""
    from ..engine.zones import waiting_by_zone

    if not window.has_window(campaign.send_window_start, campaign.send_window_end):
        return []  # no read of the rows: the progress of other campaigns counts nothing
    closed = [o for o in window_openings(campaign, waiting_by_zone(campaign), now) if o[0] > now]
    found = []
    opens_at = campaign.send_window_start.strftime("%H:%M") if campaign.send_window_start else ""
    for opens, zone, n in closed[:3]:
        who = f"{n} recipient waits" if n == 1 else f"{n} recipients wait"
        found.append(f"{who} for {opens_at} in {zone} (their send window opens at {clock(opens, now)}).")
    if len(closed) > 3:
        rest = sum(n for *_, n in closed[3:])
        found.append(f"{rest} more wait for their window in {len(closed) - 3} other time zones.")
    return found


def cannot_connect(since: datetime, reason: str, now: datetime) -> str:
    """ "cannot connect since 12:03: <reason>" for a session that cannot reach Telegram (the
    engine retries it by itself, backing off)."""
    return f"cannot connect since {clock(since, now)}: {reason or 'no answer from Telegram'}"


def waits(campaign: Campaign, paces: list[SessionPace], now: datetime | None = None) -> list[str]:
    """What holds the campaign back now, one sentence each, for staff: sessions that cannot send
    (not logged in, disabled, quarantined), FloodWaits, daily caps, sessions busy with something
    else or shared with other campaigns, and a campaign no worker seems to drive."""
    now = now or timezone.now()
    if campaign.status not in WAITING_STATUSES + (CampaignStatus.PAUSED,):
        return []
    if campaign.status == CampaignStatus.PAUSED:  # only what the staff must do
        return _paused_winner_waits(campaign, now)
    found = []
    if not paces:
        return ["The campaign has no session: choose at least one."]
    for p in paces:
        found += _session_waits(campaign, p, now)
    if all(not p.usable for p in paces):
        found.append("No usable session: nothing is sent until an operator logs one in or re-activates it.")
    in_window = _window_waits(campaign, now) if campaign.status == CampaignStatus.RUNNING else []
    found += in_window
    held = campaign.counts().get(ResultStatus.HELD, 0) if not campaign.winner else 0
    if held and campaign.status in (CampaignStatus.RUNNING, CampaignStatus.PAUSED):
        found.append(
            f"{held} recipient{'s are' if held != 1 else ' is'} held for the winner of the A/B test: "
            "choose it once the variants are sent."
        )
    if in_window:
        pass  # the window says why it waits
    elif campaign.status == CampaignStatus.RUNNING and (due := _next_send_later(campaign, now)):
        found.append(f"Every session is waiting: the next send is due at {clock(due, now)}.")
    elif campaign.status == CampaignStatus.RUNNING and _idle(campaign, paces, now):
        found.append(
            "No worker has sent anything for this campaign for a while: is the worker "
            "(manage.py qcluster) running?"
        )
    return found


def _paused_winner_waits(campaign: Campaign, now: datetime) -> list[str]:
    """A paused A/B test's hold-out, as what staff can do: choose the winner (offered only once
    the test's rows are settled, :meth:`Campaign.operations`), or, while some are still to be sent,
    when it can be chosen (and when their send window opens, if they wait for one)."""
    counts = campaign.counts()
    held = counts.get(ResultStatus.HELD, 0) if not campaign.winner else 0
    if not held:
        return []
    who = f"{held} recipient{'s are' if held != 1 else ' is'} held for the winner of the A/B test"
    left = sum(counts.get(s, 0) for s in OPEN_STATUSES)
    if not left:
        return [f"{who}: choose it to send them."]
    from ..engine.zones import waiting_by_zone

    shut = []
    if window.has_window(campaign.send_window_start, campaign.send_window_end):
        shut = [o for o in window_openings(campaign, waiting_by_zone(campaign), now) if o[0] > now]
    when = f" (they wait for their send window, which next opens at {clock(shut[0][0], now)})" if shut else ""
    sent = f"{left} message{'s are' if left != 1 else ' is'} sent"
    return [f"{who}: the winner can be chosen once the test's {sent} (after it is resumed){when}."]


def _next_send_later(campaign: Campaign, now: datetime) -> datetime | None:
    """When a running campaign next sends, computed from its state now, if that is later than a
    moment from now; else None. ``wake_at`` is only the driver's note to the reaper of when to look
    again, left as it was when quiet hours were cleared or a winner chosen since: it decides
    whether to look (no query while it is unset or past), never what the page says."""
    if not campaign.wake_at or campaign.wake_at <= now:
        return None
    due = next_wake(campaign)
    return due if due and due > now + timedelta(seconds=1) else None


def _session_waits(campaign: Campaign, p: SessionPace, now: datetime) -> list[str]:
    """What holds session ``p`` back from ``campaign`` now, one sentence each: it cannot send at
    all (and nothing else is said), or it cannot connect, its FloodWait, daily cap, a campaign's
    delay between sends after its latest request, another holder of its lease, the
    other campaigns it serves in turn."""
    if not p.usable:
        return [f"{p.name} {STATUS_REASONS.get(p.status, p.status_display.lower())}: it sends nothing."]
    found = []
    if p.unreachable_since:
        found.append(f"{p.name} {cannot_connect(p.unreachable_since, p.unreachable_reason, now)}.")
    if p.flood_wait_until:
        left = duration((p.flood_wait_until - now).total_seconds())
        found.append(
            f"FloodWait on {p.name} for {left} (Telegram's order; until {clock(p.flood_wait_until, now)})."
        )
    if p.capped:
        midnight = utc_day_start(now) + timedelta(days=1)
        found.append(
            f"{p.name} reached its daily cap ({p.daily_cap} requests per UTC day): resumes 00:00 UTC "
            f"({clock(midnight, now)})."
        )
    if p.delay_hold:
        hold = p.delay_hold
        found.append(
            f"{p.name} waits out the {hold.seconds:g} s between sends “{hold.campaign}” asks for: "
            f"its next request at {clock(hold.until, now)}."
        )
    if p.busy_with:
        found.append(f"{p.name} is busy with {p.busy_with} for a moment.")
    if p.shared_with:
        names = ", ".join(f"“{name}” (priority {priority})" for name, priority in p.shared_with)
        found.append(
            f"{p.name} also sends {names}: this campaign (priority {campaign.priority}) gets "
            f"{round(100 * p.share)}% of its turns."
        )
    return found


def _idle(campaign: Campaign, paces: list[SessionPace], now: datetime) -> bool:
    """Running, some session may send now, none is being driven, and nothing was sent lately."""
    if not any(p.usable and p.available_at <= now for p in paces):
        return False
    if TelegramSession.objects.filter(
        pk__in=[p.id for p in paces], lease_owner__startswith="drive:", lease_expires_at__gt=now
    ).exists():
        return False
    last = AttemptTally.objects.filter(campaign_id=campaign.pk).aggregate(at=Max("last_finished_at"))["at"]
    since = last or campaign.launched_at
    return since is None or (now - since).total_seconds() > IDLE_SECONDS
