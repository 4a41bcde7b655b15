"""Per-session pace: a delay between sends, a per-minute ceiling and a daily cap.

Pure and clock-injectable so it is tested without sleeping. Times are seconds (``time.monotonic``
for the delay/minute window, UTC dates for the daily cap).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class Pace:
    """When the next send of one session may leave.

    ``delay``: seconds between two sends; ``per_minute``: at most this many sends in any 60 s
    (0 = no ceiling); ``daily_cap``: sends per UTC day (0 = no cap); ``sent_today``: sends already
    made today; ``recent``: monotonic times of the latest sends (newest last).
    """

    delay: float
    per_minute: int = 0
    daily_cap: int = 0
    sent_today: int = 0
    recent: deque = field(default_factory=deque)
    next_at: float = float("-inf")

    @property
    def slack(self) -> float:
        """Lateness (seconds) a send may make up on the next one: a quarter of the delay, at most
        50 ms. Timer wake-ups and database round trips make each send a little late; without
        making that up the achieved rate drifts below the allowed one. Any two sends stay at least
        ``delay - slack`` apart and the long-run rate never exceeds ``1 / delay``."""
        return min(0.25 * self.delay, 0.05)

    @property
    def interval(self) -> float:
        """Seconds per send at the steady allowed rate (the larger of delay and 60/per_minute)."""
        return max(self.delay, 60.0 / self.per_minute if self.per_minute else 0.0)

    def capped(self) -> bool:
        return bool(self.daily_cap) and self.sent_today >= self.daily_cap

    def remaining_today(self) -> int:
        """Sends left today (a large number when there is no cap)."""
        return max(0, self.daily_cap - self.sent_today) if self.daily_cap else 1 << 30

    def wait_for(self, now: float) -> float:
        """Seconds to wait from ``now`` before the next send (0 = send now)."""
        wait = self.next_at - now
        if self.per_minute and len(self.recent) >= self.per_minute:
            wait = max(wait, self.recent[-self.per_minute] + 60.0 - now)
        return max(0.0, wait)

    def record(self, at: float) -> None:
        """Count one request that left at monotonic time ``at``."""
        self.next_at = max(self.next_at, at - self.slack) + self.delay
        self.recent.append(at)
        self.sent_today += 1
        keep = max(self.per_minute, 1)
        while len(self.recent) > keep:
            self.recent.popleft()
