"""Load-balancing strategies: which session sends to which recipient.

A :class:`Balancer` hands out session ids one recipient at a time:

- ``round_robin``: in turn; assigned counts differ by at most one.
- ``least_loaded``: the session with the lowest current load (its open rows across running
  campaigns plus what this balancer has already given it) first; ties by order.
- ``weighted``: proportional to ``weight`` (smooth weighted round robin, as nginx does it, so a
  2:1:1 split interleaves ``A B A C`` instead of sending bursts).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    """A session that may receive rows: ``load`` in rows already queued on it, ``weight`` ≥ 1."""

    session_id: int
    weight: int = 1
    load: int = 0


class Balancer:
    """Assigns rows to sessions by strategy. Raises ValueError with no candidates or an unknown
    strategy."""

    def __init__(self, strategy: str, candidates: list[Candidate]):
        if not candidates:
            raise ValueError("no session to balance over")
        self.strategy = strategy
        self.candidates = list(candidates)
        if strategy == "round_robin":
            self._cycle = itertools.cycle([c.session_id for c in self.candidates])
        elif strategy == "least_loaded":
            self._heap = [(c.load, i, c.session_id) for i, c in enumerate(self.candidates)]
            heapq.heapify(self._heap)
        elif strategy == "weighted":
            self._current = [0] * len(self.candidates)
            self._total = sum(max(1, c.weight) for c in self.candidates)
        else:
            raise ValueError(f"unknown strategy {strategy!r}")

    def next(self) -> int:
        """The session id for the next row."""
        if self.strategy == "round_robin":
            return next(self._cycle)
        if self.strategy == "least_loaded":
            load, order, session_id = self._heap[0]
            heapq.heapreplace(self._heap, (load + 1, order, session_id))
            return session_id
        best = 0
        for i, c in enumerate(self.candidates):
            self._current[i] += max(1, c.weight)
            if self._current[i] > self._current[best]:
                best = i
        self._current[best] -= self._total
        return self.candidates[best].session_id
