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
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sessions_app import clock
from sessions_app.models import TelegramSession, utc_day_start

from ..models import DeliveryAttempt, TestSend


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
    now = now or clock.now()
    mine = DeliveryAttempt.objects.filter(session=session)
    # Test sends are requests too (staff's own, a handful: campaigns.engine.testsending).
    tests = TestSend.objects.filter(session=session, requested=True)
    day = utc_day_start(now)
    pace = Pace(
        delay=session.send_delay,
        per_minute=session.max_per_minute,
        daily_cap=session.daily_cap,
        requests_today=mine.requests_since(day).count() + tests.filter(created_at__gte=day).count(),
    )
    minute_ago = now - timedelta(seconds=60)
    keep = max(pace.per_minute, 1)
    recent = mine.requests_since(minute_ago).order_by("-started_at").values_list("started_at", flat=True)
    tested = (
        tests.filter(created_at__gte=minute_ago).order_by("-created_at").values_list("created_at", flat=True)
    )
    mono_now = time.monotonic()
    for started in sorted([*recent[:keep], *tested[:keep]])[-keep:]:
        pace.recent.append(mono_now - (now - started).total_seconds())
    if pace.recent:
        pace.next_at = pace.recent[-1] + pace.delay
    return pace


def next_request_at(session: TelegramSession, now: datetime | None = None) -> datetime:
    """The earliest time ``session`` may make its next request: after its FloodWait, its delay,
    a full per-minute window, and (when capped) the next UTC midnight. ``now`` when it may now."""
    now = now or clock.now()
    pace = load_pace(session, now)
    when = max(now, session.flood_wait_until or now)
    when = max(when, now + timedelta(seconds=pace.wait_for(time.monotonic())))
    if pace.capped():
        when = max(when, utc_day_start(now) + timedelta(days=1))
    return when
