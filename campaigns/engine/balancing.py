"""Balancing by late binding: the campaign's strategy as a pull policy.

A pending row belongs to no session. Each session pulls rows from the campaign's pool when it is
ready to send them, so an idle session has work while any is left and a FloodWaited, capped or
slow session simply pulls less. The strategy decides how much a session takes per pull (its turn)
and, for the even strategies, who goes first when several sessions are ready at once:

- ``round_robin``: even shares. A session takes its share of what is left among the sessions
  ready now, and never gets ahead of another ready session (it waits its turn).
- ``weighted``: shares in proportion to ``weight``, the same way.
- ``least_loaded``: whoever has capacity. A session takes its share of what is left among the
  sessions ready now, and pulls again as soon as it can, ahead or not.

"Ready now" is a session that could send its next request at once (not in a FloodWait, not at a
cap, its pace allowing). A session that is not ready never holds the others back, so shares are
even (or proportional) among sessions of equal capacity and never at the cost of an idle session.

**Rejoin.** A session that comes back after a FloodWait (or at the start of a slice, after
whatever kept it out of the previous one) starts from the current even share: it neither owes nor
is owed the turns it missed. Without this rule its share counter keeps its missed turns, and under
an even strategy every other ready session waits while it catches up at one session's pace.

Pure: no database, no clock; :class:`campaigns.engine.slice.SliceRunner` keeps one
:class:`PullPolicy` per campaign for the sessions it drives.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


class PullPolicy:
    """One campaign's strategy over the sessions one slice drives.

    ``weights``: session id → weight (≥ 1; only ``weighted`` uses it). ``taken``: rows each
    session already holds or has sent in this campaign (from earlier slices). ``pool``: pending rows
    no session holds. Raises ValueError for an unknown strategy or no sessions.
    """

    STRATEGIES = ("round_robin", "weighted", "least_loaded")

    def __init__(
        self, strategy: str, weights: dict[int, int], taken: dict[int, int] | None = None, pool: int = 0
    ):
        if strategy not in self.STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}")
        if not weights:
            raise ValueError("no session to balance over")
        self.strategy = strategy
        self.weights = {sid: max(1, int(w)) if strategy == "weighted" else 1 for sid, w in weights.items()}
        self.taken = {sid: 0 for sid in weights} | dict(taken or {})
        self.pool = max(0, pool)

    def _ratio(self, session_id: int) -> float:
        return self.taken.get(session_id, 0) / self.weights.get(session_id, 1)

    def may_take(self, session_id: int, ready: Iterable[int]) -> bool:
        """Whether ``session_id`` may pull now, with ``ready`` the sessions that could send at once.
        The even strategies let a session pull only while it is not ahead of another ready one."""
        if self.strategy == "least_loaded":
            return True
        others = [r for r in ready if r != session_id and r in self.weights]
        return not others or self._ratio(session_id) <= min(self._ratio(r) for r in others)

    def turn(self, session_id: int, ready: Iterable[int], batch: int) -> int:
        """How many rows ``session_id`` takes in this pull: its share of the rows the ready
        sessions hold plus the pool, less what it holds, at least 1 and at most ``batch`` (what
        its pace sends in one batch window)."""
        present = {r for r in ready if r in self.weights} | {session_id}
        total = self.pool + sum(self.taken.get(r, 0) for r in present)
        weight_sum = sum(self.weights.get(r, 1) for r in present)
        share = math.ceil(total * self.weights.get(session_id, 1) / weight_sum)
        return max(1, min(batch, share - self.taken.get(session_id, 0)))

    def took(self, session_id: int, n: int) -> None:
        """``session_id`` claimed ``n`` rows from the pool."""
        self.taken[session_id] = self.taken.get(session_id, 0) + n
        self.pool = max(0, self.pool - n)

    def rejoin(self, session_id: int, present: Iterable[int]) -> None:
        """``session_id`` comes back after taking nothing for a while (a FloodWait): it starts
        from the current even share, the lowest share (per weight) among the other ``present``
        sessions, rather than from what it took before. Never lowers its count (a session ahead
        still waits its turn)."""
        others = [r for r in present if r != session_id and r in self.weights]
        if session_id not in self.weights or not others:
            return
        level = min(self._ratio(r) for r in others) * self.weights[session_id]
        self.taken[session_id] = max(self.taken.get(session_id, 0), math.floor(level))

    def start_even(self) -> None:
        """Every session starts the slice from the same share (per weight): the highest one. A
        slice begins with every session coming back (:meth:`rejoin` for all), so one that
        missed turns in an earlier slice (a FloodWait, a cap, a slice it was not in) does not
        make the others wait while it catches up."""
        level = max(self._ratio(r) for r in self.weights)
        for sid, weight in self.weights.items():
            self.taken[sid] = max(self.taken.get(sid, 0), math.floor(level * weight))

    def returned(self, session_id: int, n: int) -> None:
        """``n`` rows of ``session_id`` went back to the pool unsent (a FloodWait, a pause)."""
        self.taken[session_id] = max(0, self.taken.get(session_id, 0) - n)
        self.pool += n


def expected_split(strategy: str, sessions: dict[int, tuple[int, float]], rows: int) -> dict[int, int]:
    """The split a launch summary shows: session id → rows it is expected to send, for ``rows``
    recipients over ``sessions`` (id → (weight, allowed requests per second)). Round robin: even;
    weighted: by weight; least loaded: by allowed rate. An estimate: with late binding, a session
    that gets a FloodWait sends less and the others more."""
    if not sessions or rows <= 0:
        return {sid: 0 for sid in sessions}
    if strategy == "weighted":
        parts = {sid: max(1, w) for sid, (w, _rate) in sessions.items()}
    elif strategy == "least_loaded":
        parts = {sid: max(rate, 1e-9) for sid, (_w, rate) in sessions.items()}
    else:
        parts = {sid: 1 for sid in sessions}
    total = sum(parts.values())
    split = {sid: int(rows * p // total) for sid, p in parts.items()}
    # Hand out what rounding left, largest remainder first.
    rest = rows - sum(split.values())
    for sid in sorted(parts, key=lambda s: -(rows * parts[s] / total - split[s]))[:rest]:
        split[sid] += 1
    return split
