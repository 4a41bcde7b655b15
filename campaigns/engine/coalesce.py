"""Many sessions' database calls as one: the calls a slice's sessions make at about the same time
(claiming a batch, settling one) are gathered into one call, one transaction and one trip to the
database thread.

A slice of 500 sessions at 1 msg/s each claims and settles 500 batches of one row a second; one
call and one commit each cost more CPU than the send itself (docs/performance.md). A
:class:`Coalescer` hands every call made while the previous one was running to the next one, so
the number of trips adapts to the load: one session alone gets its own call at once, hundreds get
a few calls a second between them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from asgiref.sync import sync_to_async

T = TypeVar("T")
R = TypeVar("R")


class Coalescer(Generic[T, R]):
    """Gathers the items passed to :meth:`submit` by the tasks of one event loop into calls of
        ``flush(items) -> results`` (synchronous, run through ``sync_to_async`` on the ORM's thread;
        one result per item, in order). Items submitted while a call runs go to the next call.
    ``after``: another coalescer whose call under way (if any) goes first.

        A call that raises gives its exception to every item of that call (each caller decides what
        it means, as if its own call had raised); the items of other calls are not affected."""

    def __init__(self, flush: Callable[[list[T]], Sequence[R]], *, after: Coalescer | None = None):
        self._flush = sync_to_async(flush)
        # Calls that wait for a running call of ``after`` first (settles let claims go first: a
        # claim is on a session's timeline, a settle is not).
        self._after = after
        self._pending: list[tuple[T, asyncio.Future]] = []
        self._worker: asyncio.Task | None = None
        self._running: asyncio.Future | None = None  # done when the call under way returns
        self.calls = 0  # calls made (for tests and benchmarks: items per call)
        self.items = 0

    async def submit(self, item: T) -> R:
        """``item``'s result from the next call of ``flush``; raises what that call raised."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # the tasks woken in this turn of the loop add theirs first
            ahead = self._after._running if self._after is not None else None
            if ahead is not None and not ahead.done():
                await asyncio.wait({ahead})  # that one call only (never cancels it): no starving
            batch, self._pending = self._pending, []
            self.calls += 1
            self.items += len(batch)
            self._running = asyncio.get_running_loop().create_future()
            try:
                results = await self._flush([item for item, _future in batch])
            except asyncio.CancelledError:
                for _item, future in batch:
                    future.cancel()
                raise
            except Exception as exc:
                for _item, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            finally:
                self._running.set_result(None)
            for (_item, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
