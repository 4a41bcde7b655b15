"""Per-session pace: a delay between requests, a per-minute ceiling and a daily cap.

Telegram's limits are per account and count requests, not deliveries: a FloodWait or a refused
recipient is a request too. So the pace counts every request that reached Telegram, in any
campaign, and is seeded at each slice from the session's :class:`DeliveryAttempt` rows
(:func:`load_pace`), so a limit holds across slices and worker processes.

:class:`Pace` is pure and clock-injectable, so it is tested without sleeping. Times are seconds
(``time.monotonic`` for the delay and the minute window, UTC days for the daily cap).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, F, Max, OuterRef, Subquery

from sessions_app import clock
from sessions_app.models import TelegramSession, utc_day_start

from ..models import AttemptTally, Campaign, DeliveryAttempt, TestSend
from ..models.campaign import DELAY_SECONDS


@dataclass
class Pace:
    """When the next request of one session may leave.

    ``delay``: seconds between two requests; ``per_minute``: at most this many requests in any
    60 s (0 = no ceiling); ``daily_cap``: requests per UTC day (0 = no cap); ``requests_today``:
    requests already made today; ``recent``: monotonic times of the latest requests (newest last).
    """

    delay: float
    per_minute: int = 0
    daily_cap: int = 0
    requests_today: int = 0
    recent: deque = field(default_factory=deque)
    next_at: float = float("-inf")

    @staticmethod
    def slack_for(delay: float) -> float:
        """Lateness (seconds) a request may make up on the next one: a quarter of the delay, at
        most 50 ms. Timer wake-ups and database round trips make each request a little late;
        without making that up the achieved rate drifts below the allowed one. Any two requests
        stay at least ``delay - slack`` apart and the long-run rate never exceeds ``1 / delay``."""
        return min(0.25 * delay, 0.05)

    @property
    def slack(self) -> float:
        return self.slack_for(self.delay)

    @property
    def interval(self) -> float:
        """Seconds per request at the steady allowed rate (the larger of delay and 60/per_minute)."""
        return max(self.delay, 60.0 / self.per_minute if self.per_minute else 0.0)

    def capped(self) -> bool:
        return bool(self.daily_cap) and self.requests_today >= self.daily_cap

    def remaining_today(self) -> int:
        """Requests left today (a large number when there is no cap)."""
        return max(0, self.daily_cap - self.requests_today) if self.daily_cap else 1 << 30

    def wait_for(self, now: float) -> float:
        """Seconds to wait from ``now`` before the next request (0 = now)."""
        wait = self.next_at - now
        if self.per_minute and len(self.recent) >= self.per_minute:
            wait = max(wait, self.recent[-self.per_minute] + 60.0 - now)
        return max(0.0, wait)

    def record(self, at: float, delay: float | None = None) -> None:
        """Count one request that left at monotonic time ``at``; the next may leave ``delay``
        seconds later (default: the session's; a campaign may ask for a longer one)."""
        delay = self.delay if delay is None else delay
        self.next_at = max(self.next_at, at - self.slack_for(delay)) + delay
        self.recent.append(at)
        self.requests_today += 1
        keep = max(self.per_minute, 1)
        while len(self.recent) > keep:
            self.recent.popleft()


def load_pace(session: TelegramSession, now: datetime | None = None) -> Pace:
    """``session``'s pace, seeded with its requests today and its latest ones, from every
    campaign and process (the session's DeliveryAttempt rows) and its test sends."""
    return load_paces([session], now)[session.pk]


def load_paces(sessions: Sequence[TelegramSession], now: datetime | None = None) -> dict[int, Pace]:
    """:func:`load_pace` for many sessions in a few grouped reads (session id → Pace): a slice of
    500 sessions starts in a handful of queries, not 1,500. A session with a per-minute ceiling
    gets its requests of the last minute (up to the ceiling); the others only their latest."""
    now = now or clock.now()
    day, minute_ago = utc_day_start(now), now - timedelta(seconds=60)
    ids = [s.pk for s in sessions]
    attempts = DeliveryAttempt.objects.filter(session_id__in=ids)
    # Test sends are requests too (staff's own, a handful: campaigns.engine.testsending).
    tests = TestSend.objects.filter(session_id__in=ids, requested=True)
    today: Counter[int] = Counter()
    for rows in (attempts.requests_since(day), tests.filter(created_at__gte=day)):
        counts = rows.order_by().values("session_id").annotate(n=Count("id")).values_list("session_id", "n")
        today.update(dict(counts))
    recent: dict[int, list[datetime]] = defaultdict(list)
    ceiling = [s.pk for s in sessions if s.held("max_per_minute")]
    if ceiling:
        rows = attempts.filter(session_id__in=ceiling).requests_since(minute_ago)
        for sid, started in rows.values_list("session_id", "started_at").order_by():
            recent[sid].append(started)
    latest = (
        attempts.exclude(session_id__in=ceiling).requests_since(minute_ago).order_by().values("session_id")
    )
    for sid, started in latest.annotate(at=Max("started_at")).values_list("session_id", "at"):
        recent[sid].append(started)
    tested = tests.filter(created_at__gte=minute_ago).order_by()
    for sid, created in tested.values_list("session_id", "created_at"):
        recent[sid].append(created)
    holds = delay_holds(sessions, now)
    mono_now = time.monotonic()
    return {s.pk: _pace(s, today[s.pk], recent[s.pk], now, mono_now, holds.get(s.pk)) for s in sessions}


@dataclass(frozen=True)
class DelayHold:
    """A session held by the delay a campaign asked for, longer than the session's own: its
    latest request left at ``since`` for ``campaign`` (a name), which asked ``seconds`` between
    sends; the session's next request may leave at ``until``."""

    since: datetime
    seconds: float
    campaign: str

    @property
    def until(self) -> datetime:
        return self.since + timedelta(seconds=self.seconds)


def delay_holds(
    sessions: Sequence[TelegramSession], now: datetime, *, from_tally: bool = False
) -> dict[int, DelayHold]:
    """Session id → :class:`DelayHold`, for the sessions whose latest request of the last hour was
    for a campaign asking a longer delay (at most an hour: ``DELAY_SECONDS``) than the session's.
    The session waits that long after it, as within a slice (:meth:`Pace.record`); only the latest
    request matters: an earlier one's delay held the session until the latest left. Two index
    probes per session and one read of their campaigns. ``from_tally``: for pages, from the
    attempt tallies (the latest batch's end: a hold a request's latency longer), never from the
    requests themselves."""
    hour_ago = now - timedelta(seconds=DELAY_SECONDS.high)
    if from_tally:
        last = AttemptTally.objects.filter(session_id=OuterRef("pk"), last_finished_at__gte=hour_ago)
        last, when = last.order_by("-last_finished_at"), "last_finished_at"
    else:
        last = DeliveryAttempt.objects.filter(
            session_id=OuterRef("pk"), requested=True, started_at__gte=hour_ago
        )
        last, when = last.order_by("-started_at").annotate(campaign_id=F("result__campaign_id")), "started_at"
    own = {s.pk: s.held("send_delay") for s in sessions}
    rows = (
        TelegramSession.objects.filter(pk__in=list(own))
        .annotate(
            at=Subquery(last.values(when)[:1]),
            campaign=Subquery(last.values("campaign_id")[:1]),
        )
        .filter(at__isnull=False)
        .values_list("pk", "at", "campaign")
    )
    rows = list(rows)
    campaigns = Campaign.objects.filter(pk__in={r[2] for r in rows}).only("pk", "delay_seconds", "name")
    # Each delay as the engine obeys it (Campaign.held: one stored out of range is held to it).
    asked = {c.pk: (c.held("delay_seconds"), c.name) for c in campaigns}
    return {
        sid: DelayHold(at, *asked[cid]) for sid, at, cid in rows if cid in asked and asked[cid][0] > own[sid]
    }


def _pace(
    session: TelegramSession,
    today: int,
    recent: list[datetime],
    now: datetime,
    mono_now: float,
    hold: DelayHold | None = None,
) -> Pace:
    """One session's Pace from its requests today and the times of its latest ones; ``hold``:
    the longer delay a campaign asked for after its latest request (:func:`delay_holds`). Its
    settings as held to their ranges (:meth:`TelegramSession.held`: a value stored out of range
    never overflows a wait nor races Telegram)."""
    pace = Pace(
        delay=session.held("send_delay"),
        per_minute=session.held("max_per_minute"),
        daily_cap=session.held("daily_cap"),
        requests_today=today,
    )
    keep = max(pace.per_minute, 1)
    for started in sorted(recent)[-keep:]:
        pace.recent.append(mono_now - (now - started).total_seconds())
    if pace.recent:
        pace.next_at = pace.recent[-1] + pace.delay
    if hold is not None:  # a campaign's longer delay after the latest request (delay_holds)
        pace.next_at = max(pace.next_at, mono_now - (now - hold.until).total_seconds())
    return pace


def next_request_at(session: TelegramSession, now: datetime | None = None) -> datetime:
    """The earliest time ``session`` may make its next request: after its FloodWait, its delay,
    a full per-minute window, and (when capped) the next UTC midnight. ``now`` when it may now."""
    return next_requests_at([session], now)[session.pk]


def next_requests_at(sessions: Sequence[TelegramSession], now: datetime | None = None) -> dict[int, datetime]:
    """:func:`next_request_at` for many sessions (session id → time), from :func:`load_paces`."""
    now = now or clock.now()
    paces = load_paces(sessions, now)
    mono_now = time.monotonic()
    found = {}
    for session in sessions:
        pace = paces[session.pk]
        when = max(now, session.flood_wait_until or now)
        when = max(when, now + timedelta(seconds=pace.wait_for(mono_now)))
        if pace.capped():
            when = max(when, utc_day_start(now) + timedelta(days=1))
        found[session.pk] = when
    return found
