"""One leased session sending within a slice: connect, pace, pull batches of rows from the
campaigns it serves, start their requests (several awaiting Telegram at once) and settle each
batch when its answers are in.

The orchestrating :class:`campaigns.engine.slice.SliceRunner` owns what all sessions share (the
deadline, the leases and their fence, the roster of campaigns, the control poll) and decides
whether one request may leave and what its answer means (``SliceRunner._request``); a
:class:`SessionSender` owns one session's loop and its batches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from asgiref.sync import sync_to_async

from sessions_app.models import SessionStatus, TelegramSession
from sessions_app.transport import ErrorKind, TransportError
from tgcampaigns import conf
from tgcampaigns.logcontext import bound

from . import claiming, reach, settling
from .claiming import RowWork
from .coalesce import Coalescer
from .effects import apply_effects
from .outcomes import Outcome
from .pacing import Pace, load_pace
from .work import EMPTY_RETRY_SECONDS, CampaignWork, Roster, SliceReport

log = logging.getLogger(__name__)

# A batch covers about this many seconds of a session's pace: one claim UPDATE per batch, and a
# pause is seen before the next batch (and between sends through the control poll).
BATCH_WINDOW_SECONDS = 0.5
MAX_BATCH = 200
# A session claims its next batch this long before its pace lets the first request leave, so the
# claim's round trip (shared with the slice's other sessions, :mod:`.coalesce`) is off the
# timeline; the batch's requests still wait for their time (:meth:`SessionSender._send_batch`).
CLAIM_AHEAD_SECONDS = 0.25


class Slice(Protocol):
    """What a sender uses of the slice it runs in (:class:`campaigns.engine.slice.SliceRunner`)."""

    owner: str
    roster: Roster
    report: SliceReport
    stop: asyncio.Event
    done: set[int]
    unreachable: set[int]
    ready_at: dict[int, float]
    load: dict[int, int]
    paces: dict[int, Pace]
    claims: Coalescer[claiming.ClaimRequest, list[RowWork]]
    settles: Coalescer[settling.Batch, None]
    pinned_dues: Coalescer[tuple[tuple[int, ...], int], float | None]

    def halted(self, session: TelegramSession) -> bool: ...
    def blocked(self, session: TelegramSession, pace: Pace, work: CampaignWork) -> bool: ...
    def time_left(self) -> float: ...
    async def nap(self, seconds: float) -> None: ...
    async def wait_for_change(self, seconds: float) -> None: ...
    def signal_change(self) -> None: ...
    def serving(self, session_id: int) -> list[CampaignWork]: ...
    def settled(
        self, work: CampaignWork, session_id: int, batch: list[RowWork], *, returned: int
    ) -> None: ...
    def storage_failed(self, exc: BaseException) -> bool: ...
    async def _request(
        self, work: CampaignWork, session: TelegramSession, transport, pace: Pace, delay: float, row: RowWork
    ) -> Outcome | None: ...


class SessionSender:
    """One session's loop within a slice (:meth:`run`): it waits out its pace and FloodWaits,
    takes the next campaign's batch (:meth:`Roster.next_work <campaigns.engine.work.Roster.next_work>`),
    starts its requests and settles it in the background, until the slice halts or nothing is
    left for it."""

    def __init__(self, runner: Slice, session: TelegramSession):
        self.runner = runner
        self.session = session
        self.sid = session.pk
        self.transport = reach.GuardedTransport(session.transport(), self._unreachable)
        self.unreachable: TransportError | None = None  # why it lost Telegram mid-slice
        self.in_flight = asyncio.Semaphore(conf.max_in_flight())
        self.finishers: list[asyncio.Task] = []
        self.pace = Pace(delay=0.0)  # loaded from the database as run() starts
        self.batch_size = 1

    async def run(self) -> None:
        """Connect, send until done, then settle every batch and disconnect; never raises a
        TransportError (a connect error takes effect on the session and its campaigns)."""
        with bound(session=self.sid):  # every log line of this session's task names it
            await self._run()

    async def _run(self) -> None:
        self.pace = self.runner.paces.get(self.sid) or await sync_to_async(load_pace)(self.session)
        self.batch_size = max(1, min(MAX_BATCH, int(BATCH_WINDOW_SECONDS / max(self.pace.interval, 1e-3))))
        if not await self._connect():
            self.runner.done.add(self.sid)
            return
        try:
            while await self._turn():
                pass
        except Exception as exc:
            self.runner.storage_failed(exc)  # a full disk stops every session at once
            raise
        finally:
            await self._close()

    async def _connect(self) -> bool:
        try:
            await self.transport.connect()
        except TransportError as exc:
            if exc.kind == ErrorKind.UNREACHABLE:
                log.warning("session %s cannot connect: %s", self.sid, exc)
                await sync_to_async(reach.record_unreachable)(self.session, exc)
                return False
            for work in self.runner.serving(self.sid):
                await sync_to_async(apply_effects)(work.campaign, self.session, [exc])
            return False
        if reach.was_unreachable(self.session):  # else nothing to write: no trip to the ORM's thread
            await sync_to_async(reach.record_reachable)(self.session)
        return True

    def _unreachable(self, err: TransportError) -> None:
        """The connection failed mid-send: no further request leaves this session in this slice."""
        if self.unreachable is None:
            log.warning("session %s lost its connection: %s", self.sid, err)
            self.unreachable = err
        self.runner.unreachable.add(self.sid)
        self.runner.signal_change()

    async def _close(self) -> None:
        runner, sid = self.runner, self.sid
        runner.done.add(sid)
        runner.ready_at[sid] = float("inf")
        for result in await asyncio.gather(*self.finishers, return_exceptions=True):
            if isinstance(result, BaseException):  # rows stay 'sending': the reaper re-sends them
                runner.storage_failed(result)
                log.error("session %s: recording outcomes failed", sid, exc_info=result)
        if self.unreachable is not None:
            await sync_to_async(reach.record_unreachable)(self.session, self.unreachable)
        try:
            await self.transport.disconnect()
        except Exception:  # disconnecting must never mask the slice's outcome
            log.warning("session %s: disconnect failed", sid, exc_info=True)

    # The loop --------------------------------------------------------------------------------------
    async def _turn(self) -> bool:
        """One step of the loop: wait, or take and start a batch. False: this session is done."""
        runner, session, pace = self.runner, self.session, self.pace
        if runner.halted(session) or session.status != SessionStatus.ACTIVE:
            return False
        now = time.monotonic()
        wait = max(session.flood_wait_left(), pace.wait_for(now))
        runner.ready_at[self.sid] = now + wait
        if pace.capped() or wait > runner.time_left():
            return False
        if session.flood_wait_left() > 0:
            # In a FloodWait with nothing left for it, nobody waits for it.
            return await self._wait_out(wait)
        if wait > CLAIM_AHEAD_SECONDS:
            return await self._wait_out(wait - CLAIM_AHEAD_SECONDS)
        work, later = runner.roster.next_work(session, now)
        if work is None:
            return await self._idle(later)
        await self._take(work, now)
        return True

    async def _idle(self, later: bool) -> bool:
        """Nothing to take now: wait for this session's retries, for rows other sessions hold, or
        for a row pinned to it to fall due; False when nothing is left for it in this slice."""
        runner, sid = self.runner, self.sid
        if self.finishers and not all(f.done() for f in self.finishers):
            await asyncio.wait(self.finishers, timeout=EMPTY_RETRY_SECONDS)  # retries may fall due
            return True
        if later:
            await runner.wait_for_change(min(EMPTY_RETRY_SECONDS, runner.time_left()))
            return True
        due = await runner.pinned_dues.submit((tuple(runner.roster.work), sid))
        if due is None:
            for w in runner.roster.work.values():
                w.pinned.discard(sid)
        if due is None or due > runner.time_left():
            return False
        await runner.nap(max(due, 0.01))
        for w in runner.roster.work.values():
            w.empty_at.pop(sid, None)
        return True

    async def _take(self, work: CampaignWork, now: float) -> None:
        """Claim the session's next batch of ``work`` and start its requests."""
        runner, sid = self.runner, self.sid
        limit = min(
            work.policy.turn(sid, runner.roster.ready(work, now), self.batch_size),
            self.pace.remaining_today(),
        )
        zones = work.open_zones()
        request = claiming.ClaimRequest(
            work.id,
            sid,
            limit,
            sid in work.pinned,
            work.pool_after,
            None if zones is None else tuple(sorted(zones)),
        )
        # The batch's requests and its settling are tasks started here: their lines name its campaign.
        with bound(campaign=work.id):
            batch = await runner.claims.submit(request)
            work.claimed(batch)
            if not batch:
                work.empty_at[sid] = time.monotonic()
                return
            work.policy.took(sid, len(batch))
            work.held[sid] += len(batch)
            runner.signal_change()
            self.finishers.append(await self._send_batch(work, batch))

    async def _wait_out(self, seconds: float) -> bool:
        """Wait for the session's pace or FloodWait. In a FloodWait, False once nothing is left for
        it (:meth:`Roster.anything_left_for`); back from one, it rejoins at the even share."""
        runner = self.runner
        if self.session.flood_wait_left() <= 0:
            await runner.nap(seconds)
            return True
        until = time.monotonic() + seconds
        while (left := until - time.monotonic()) > 0 and not runner.stop.is_set():
            if not runner.roster.anything_left_for(self.sid):
                return False  # it must not keep the slice, and so the campaign's completion, waiting
            await runner.wait_for_change(min(left, EMPTY_RETRY_SECONDS))
        runner.roster.rejoin(self.sid, time.monotonic())
        return True

    # A batch ---------------------------------------------------------------------------------------
    async def _send_batch(self, work: CampaignWork, batch: list[RowWork]) -> asyncio.Task:
        """Start the batch's requests (claimed ``sending``) at the session's pace, up to
        ``TGC_MAX_IN_FLIGHT`` at once (Telegram multiplexes requests on one connection, so a 300 ms
        round trip does not cap a bot at 3 msg/s), and return a task that records the outcomes
        when they are all in. Returns as soon as the last request has left, so the next batch
        overlaps this one."""
        runner, session, pace = self.runner, self.session, self.pace
        delay = max(pace.delay, work.delay)
        tasks: list[asyncio.Task] = []
        for row in batch:
            if runner.blocked(session, pace, work):
                break
            wait = pace.wait_for(time.monotonic())
            if wait > 0:
                # Never past the slice's end (a campaign's hour between sends would hold the worker
                # and the leases that long): the rows left go back to the pool for the next slice.
                await runner.nap(min(wait, runner.time_left()))
                if runner.blocked(session, pace, work):
                    break
            await self.in_flight.acquire()
            if runner.blocked(session, pace, work):
                self.in_flight.release()
                break
            task = asyncio.create_task(self._send_one(work, delay, row))
            task.add_done_callback(lambda _t: self.in_flight.release())
            tasks.append(task)
            await asyncio.sleep(0)  # let the request leave before pacing the next one
        return asyncio.create_task(self._finish_batch(work, batch, tasks))

    async def _send_one(self, work: CampaignWork, delay: float, row: RowWork) -> Outcome | None:
        """One request (``SliceRunner._request``), counted in the session's load while it awaits
        Telegram."""
        load = self.runner.load
        load[self.sid] += 1
        try:
            outcome = await self.runner._request(work, self.session, self.transport, self.pace, delay, row)
        finally:
            load[self.sid] -= 1
        return outcome  # UNREACHABLE: back to the pool with its attempt recorded (the policy's row)

    async def _finish_batch(
        self, work: CampaignWork, batch: list[RowWork], tasks: list[asyncio.Task]
    ) -> None:
        """Settle a batch once its requests are answered: rows and attempts, the rows that go back
        to the pool, retries pinned to this session, and the errors' effects."""
        runner, session = self.runner, self.session
        results = list(await asyncio.gather(*tasks)) if tasks else []
        outcomes: list[Outcome] = [o for o in results if o is not None]
        # Rows whose task found the session blocked before its request left, and rows never started.
        unsent = [row for row, o in zip(batch, results) if o is None] + batch[len(tasks) :]
        await runner.settles.submit(settling.Batch(work.campaign, session, outcomes, unsent))
        refused = [
            o
            for o in outcomes
            if o.kind
            not in ("sent", "duplicate", ErrorKind.RECIPIENT, ErrorKind.TRANSIENT, ErrorKind.SUPPRESSED)
        ]
        back = [r.id for r in unsent if not r.in_doubt] + [o.row.id for o in refused if not o.row.in_doubt]
        work.returned(back)
        if any(
            o.kind == ErrorKind.TRANSIENT and o.row.attempts + 1 < work.campaign.held("max_attempts")
            for o in outcomes
        ):
            work.pinned.add(self.sid)  # its retry stays with this session (it may have arrived)
        runner.settled(work, self.sid, batch, returned=len(back))
        errors = [o.error for o in outcomes if o.error is not None]
        if errors:
            await sync_to_async(apply_effects)(work.campaign, session, errors)
        runner.report.outcomes += len(outcomes)
        sent = sum(o.kind in ("sent", "duplicate") for o in outcomes)
        runner.report.sent += sent
        # Ids and Telegram's error codes only (the campaign and session come from the context).
        codes = sorted({e.code for e in errors})
        log.debug(
            "batch of %d settled: %d sent, %d back to the pool, errors %s", len(batch), sent, len(back), codes
        )
