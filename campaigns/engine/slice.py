"""One slice of sending: every leased session sends concurrently in one asyncio loop.

Entered from :func:`campaigns.engine.driver.drive` through ``async_to_sync``; every ORM call goes
through ``sync_to_async`` and so runs on the calling thread, serialised, while requests to
Telegram overlap.

A session serves every running campaign it belongs to, in turn: each pull goes to the next
campaign by smooth weighted round robin over the campaigns' priorities, so a campaign launched
later on shared sessions makes progress at once instead of waiting for the first to finish. Within
a campaign, sessions pull rows from its pool by the campaign's strategy (:mod:`.balancing`).
Sessions pace themselves (:mod:`.pacing`, shared by all campaigns: Telegram's limits are per
account); a heartbeat renews their leases; a control poll stops a campaign's sends when staff
pause or cancel it, and picks up campaigns launched meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.utils import timezone

from sessions_app import leases
from sessions_app.models import SessionStatus, TelegramSession
from sessions_app.transport import RETRIED_ON_SESSION, ErrorKind, TransportError
from tgcampaigns import conf

from ..models import CampaignStatus
from . import lookups, rows
from .effects import apply_effects
from .pacing import Pace, load_pace
from .rows import Outcome, RowWork
from .work import EMPTY_RETRY_SECONDS, CampaignWork, Roster, SliceReport

log = logging.getLogger(__name__)

CONTROL_POLL_SECONDS = 0.25
# A batch covers about this many seconds of a session's pace: one claim UPDATE per batch, and a
# pause is seen before the next batch (and between sends through the control poll).
BATCH_WINDOW_SECONDS = 0.5
MAX_BATCH = 200


class SliceRunner:
    """One slice: every leased session sends concurrently in one asyncio loop until the deadline,
    or until nothing is left for it. All ORM calls go through ``sync_to_async`` and so run on the
    calling thread (the slice is entered with ``async_to_sync``).

    ``campaign_ids``: the campaigns to serve at first (more are picked up while it runs: every
    running campaign a leased session belongs to)."""

    def __init__(self, campaign_ids: list[int], sessions: list[TelegramSession], owner: str, seconds: float):
        self.sessions = sessions
        self.session_ids = [s.pk for s in sessions]
        self.owner = owner
        self.deadline = time.monotonic() + seconds
        self.first_campaign_id = campaign_ids[0] if campaign_ids else None
        self.initial_ids = list(campaign_ids)
        self.stop = asyncio.Event()
        self.lost: set[int] = set()
        self.done: set[int] = set()
        self.report = SliceReport(sessions=len(sessions))
        # Requests awaiting Telegram's answer per session id: +1/-1 around every send (try/finally),
        # written to TelegramSession.current_load by the heartbeat and zeroed with the lease.
        self.load: dict[int, int] = {s.pk: 0 for s in sessions}
        self.ready_at: dict[int, float] = {s.pk: 0.0 for s in sessions}
        self.changed = asyncio.Event()  # set whenever rows are claimed or come back to a pool
        self.roster = Roster(self.session_ids, self.ready_at, self.done, self.lost)
        self._suppressed_ids: set[int] = set()

    # Time and stopping ---------------------------------------------------------------------------
    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    def halted(self, session: TelegramSession) -> bool:
        return self.stop.is_set() or session.pk in self.lost or self.time_left() <= 0

    async def nap(self, seconds: float) -> None:
        """Sleep up to ``seconds``, waking early on a stop."""
        try:
            await asyncio.wait_for(self.stop.wait(), timeout=max(0.0, seconds))
        except TimeoutError:
            pass

    async def wait_for_change(self, seconds: float) -> None:
        """Sleep until rows are claimed or returned somewhere in this slice, at most ``seconds``."""
        event = self.changed
        try:
            await asyncio.wait_for(event.wait(), timeout=max(0.0, seconds))
        except TimeoutError:
            pass

    def signal_change(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    # The campaigns served ------------------------------------------------------------------------
    def _refresh_suppressed_ids(self) -> None:
        self._suppressed_ids = lookups.suppressed_user_ids()

    async def run(self) -> SliceReport:
        others = [
            pk
            for pk, status in await sync_to_async(self.roster.running_ids)()
            if status == CampaignStatus.RUNNING
        ]
        for work in await sync_to_async(self.roster.load)(list(dict.fromkeys(self.initial_ids + others))):
            self.roster.work[work.id] = work
        await sync_to_async(self._refresh_suppressed_ids)()
        aux = [asyncio.create_task(self._heartbeat()), asyncio.create_task(self._watch_control())]
        try:
            results = await asyncio.gather(
                *(self._session_loop(s) for s in self.sessions), return_exceptions=True
            )
        finally:
            for task in aux:
                task.cancel()
        for session, result in zip(self.sessions, results):
            if isinstance(result, BaseException):
                log.error("session %s loop crashed", session.pk, exc_info=result)
        self.report.campaigns = set(self.roster.work)
        return self.report

    async def _heartbeat(self) -> None:
        """Renew the leases (a lost one stops its session at once), the row claims that go with
        them, the suppressed user ids, and publish the sessions' current load."""
        published: dict[int, int] = {}

        async def claims_load_and_suppressions() -> None:
            await sync_to_async(rows.renew_claims)(self.owner)
            await sync_to_async(self._refresh_suppressed_ids)()
            for work in list(self.roster.work.values()):
                await sync_to_async(work.refresh_reached)()
            changed = {pk: n for pk, n in self.load.items() if published.get(pk, 0) != n}
            if changed:
                await sync_to_async(leases.publish_load)(changed, self.owner)
                published.update(changed)

        await leases.heartbeat(
            self.session_ids, self.owner, self.lost.update, also=claims_load_and_suppressions
        )

    async def _watch_control(self) -> None:
        """Stop a campaign's sends as soon as it is no longer running; serve campaigns launched
        meanwhile on the leased sessions."""
        running_ids = sync_to_async(self.roster.running_ids)
        load = sync_to_async(self.roster.load)
        while not self.stop.is_set():
            new = []
            for pk, status in await running_ids():
                work = self.roster.work.get(pk)
                if work is None:
                    if status == CampaignStatus.RUNNING:
                        new.append(pk)
                elif status != CampaignStatus.RUNNING and not work.stop.is_set():
                    if pk == self.first_campaign_id and not self.report.stopped_by:
                        self.report.stopped_by = status
                    work.stop.set()
                    self.signal_change()
            if new:
                for work in await load(new):
                    self.roster.work.setdefault(work.id, work)
                self.signal_change()
            if not self.roster.work or all(w.stop.is_set() for w in self.roster.work.values()):
                self.stop.set()
            await asyncio.sleep(CONTROL_POLL_SECONDS)

    # A session's loop ------------------------------------------------------------------------------
    def blocked(self, session: TelegramSession, pace: Pace, work: CampaignWork) -> bool:
        """No further request of ``work`` may leave this session in this slice (for now)."""
        return (
            self.halted(session)
            or work.stop.is_set()
            or pace.capped()
            or session.status != SessionStatus.ACTIVE
            or session.flood_wait_left() > 0
        )

    async def _session_loop(self, session: TelegramSession) -> None:
        sid = session.pk
        pace = await sync_to_async(load_pace)(session)
        batch_size = max(1, min(MAX_BATCH, int(BATCH_WINDOW_SECONDS / max(pace.interval, 1e-3))))
        transport = session.transport()
        in_flight = asyncio.Semaphore(conf.max_in_flight())
        finishers: list[asyncio.Task] = []
        try:
            await transport.connect()
        except TransportError as exc:
            self.done.add(sid)
            for work in [w for w in self.roster.work.values() if sid in w.members]:
                await sync_to_async(apply_effects)(work.campaign, session, [exc])
            return
        claim = sync_to_async(rows.claim_rows)
        try:
            while not self.halted(session) and session.status == SessionStatus.ACTIVE:
                now = time.monotonic()
                wait = max(session.flood_wait_left(), pace.wait_for(now))
                self.ready_at[sid] = now + wait
                if pace.capped() or wait > self.time_left():
                    break
                if wait > 0:
                    if not await self._wait_out(session, wait):
                        break  # in a FloodWait with nothing left for it: nobody waits for it
                    continue
                work, later = self.roster.next_work(session, now)
                if work is None:
                    if finishers and not all(f.done() for f in finishers):
                        await asyncio.wait(finishers, timeout=EMPTY_RETRY_SECONDS)  # retries may fall due
                        continue
                    if later:
                        await self.wait_for_change(min(EMPTY_RETRY_SECONDS, self.time_left()))
                        continue
                    due = await sync_to_async(lookups.next_pinned_due)(list(self.roster.work), sid)
                    if due is None:
                        for w in self.roster.work.values():
                            w.pinned.discard(sid)
                    if due is None or due > self.time_left():
                        break
                    await self.nap(max(due, 0.01))
                    for w in self.roster.work.values():
                        w.empty_at.pop(sid, None)
                    continue
                limit = min(
                    work.policy.turn(sid, self.roster.ready(work, now), batch_size), pace.remaining_today()
                )
                pinned, after, zones = sid in work.pinned, work.pool_after, work.open_zones()
                batch = await claim(work.id, sid, self.owner, limit, pinned=pinned, after=after, zones=zones)
                work.claimed(batch)
                if not batch:
                    work.empty_at[sid] = time.monotonic()
                    continue
                work.policy.took(sid, len(batch))
                work.held[sid] += len(batch)
                self.signal_change()
                finishers.append(await self._send_batch(work, session, transport, pace, in_flight, batch))
        finally:
            self.done.add(sid)
            self.ready_at[sid] = float("inf")
            for result in await asyncio.gather(*finishers, return_exceptions=True):
                if isinstance(result, BaseException):  # rows stay 'sending': the reaper re-sends them
                    log.error("session %s: recording outcomes failed", sid, exc_info=result)
            try:
                await transport.disconnect()
            except Exception:  # disconnecting must never mask the slice's outcome
                log.warning("session %s: disconnect failed", sid, exc_info=True)

    async def _wait_out(self, session: TelegramSession, seconds: float) -> bool:
        """Wait for the session's pace or FloodWait. In a FloodWait, False once nothing is left for
        it (:meth:`Roster.anything_left_for`); back from one, it rejoins at the even share."""
        if session.flood_wait_left() <= 0:
            await self.nap(seconds)
            return True
        until = time.monotonic() + seconds
        while (left := until - time.monotonic()) > 0 and not self.stop.is_set():
            if not self.roster.anything_left_for(session.pk):
                return False  # it must not keep the slice, and so the campaign's completion, waiting
            await self.wait_for_change(min(left, EMPTY_RETRY_SECONDS))
        self.roster.rejoin(session.pk, time.monotonic())
        return True

    async def _send_batch(
        self,
        work: CampaignWork,
        session: TelegramSession,
        transport,
        pace: Pace,
        in_flight: asyncio.Semaphore,
        batch: list[RowWork],
    ) -> asyncio.Task:
        """Start the batch's requests (claimed ``sending``) at the session's pace, up to ``TGC_MAX_IN_FLIGHT`` at once
        (Telegram multiplexes requests on one connection, so a 300 ms round trip does not cap a
        bot at 3 msg/s), and return a task that records the outcomes when they are all in.
        Returns as soon as the last request has left, so the next batch overlaps this one."""
        delay = max(pace.delay, work.delay)
        tasks: list[asyncio.Task] = []
        for row in batch:
            if self.blocked(session, pace, work):
                break
            wait = pace.wait_for(time.monotonic())
            if wait > 0:
                await self.nap(wait)
                if self.blocked(session, pace, work):
                    break
            await in_flight.acquire()
            if self.blocked(session, pace, work):
                in_flight.release()
                break
            task = asyncio.create_task(self._send_one(work, session, transport, pace, delay, row))
            task.add_done_callback(lambda _t: in_flight.release())
            tasks.append(task)
            await asyncio.sleep(0)  # let the request leave before pacing the next one
        return asyncio.create_task(self._finish_batch(work, session, batch, tasks))

    def _settled(self, work: CampaignWork, session_id: int, batch: list[RowWork], *, returned: int) -> None:
        """Book a batch's rows as settled; ``returned`` of them went back to the pool unsent."""
        work.held[session_id] = max(0, work.held.get(session_id, 0) - len(batch))
        if returned:
            work.policy.returned(session_id, returned)
            for w in self.roster.work.values():
                w.empty_at.clear()  # rows are back: every session may look again
            self.signal_change()

    async def _finish_batch(
        self, work: CampaignWork, session: TelegramSession, batch: list[RowWork], tasks: list[asyncio.Task]
    ) -> None:
        results = list(await asyncio.gather(*tasks)) if tasks else []
        outcomes: list[Outcome] = [o for o in results if o is not None]
        # Rows whose task found the session blocked before its request left, and rows never started.
        unsent = [row for row, o in zip(batch, results) if o is None] + batch[len(tasks) :]
        await sync_to_async(rows.apply_outcomes)(work.campaign, session, self.owner, outcomes, unsent)
        refused = [
            o
            for o in outcomes
            if o.kind
            not in ("sent", "duplicate", ErrorKind.RECIPIENT, *RETRIED_ON_SESSION, ErrorKind.SUPPRESSED)
        ]
        back = [r.id for r in unsent if not r.in_doubt] + [o.row.id for o in refused if not o.row.in_doubt]
        work.returned(back)
        if any(
            o.kind in RETRIED_ON_SESSION and o.row.attempts + 1 < work.campaign.max_attempts for o in outcomes
        ):
            work.pinned.add(session.pk)  # its retry stays with this session (it may have arrived)
        self._settled(work, session.pk, batch, returned=len(back))
        errors = [o.error for o in outcomes if o.error is not None]
        if errors:
            await sync_to_async(apply_effects)(work.campaign, session, errors)
        self.report.outcomes += len(outcomes)
        self.report.sent += sum(o.kind in ("sent", "duplicate") for o in outcomes)

    async def _send_one(
        self, work: CampaignWork, session: TelegramSession, transport, pace: Pace, delay: float, row: RowWork
    ) -> Outcome | None:
        """:meth:`_request`, counted in the session's load while it awaits Telegram."""
        self.load[session.pk] += 1
        try:
            return await self._request(work, session, transport, pace, delay, row)
        finally:
            self.load[session.pk] -= 1

    async def _request(
        self, work: CampaignWork, session: TelegramSession, transport, pace: Pace, delay: float, row: RowWork
    ) -> Outcome | None:
        """One request; never raises. Marks the session blocked in memory at once on a FloodWait,
        a session or spam-limit error, and stops the campaign's sends on a content error. Returns
        None when the session got blocked (another request's FloodWait, a pause) before this one
        left."""
        started = timezone.now()
        try:
            message = work.build(row.fields, row.variant)
        except TransportError as exc:  # this recipient's personalised text is too long
            return Outcome(row, exc.kind.value, started, timezone.now(), error=exc, requested=False)
        except Exception as exc:
            log.exception("session %s: rendering row %s failed", session.pk, row.id)
            err = TransportError(ErrorKind.TRANSIENT, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
            return Outcome(row, err.kind.value, started, timezone.now(), error=err, requested=False)
        if self.blocked(session, pace, work):
            return None
        started = timezone.now()
        pace.record(time.monotonic(), delay)
        try:
            result = await transport.send(
                row.key, message, row.random_id, check_peer=work.peer_check(row, self._suppressed_ids)
            )
        except TransportError as exc:
            if exc.kind == ErrorKind.DUPLICATE:
                return Outcome(row, "duplicate", started, timezone.now())
            if exc.kind == ErrorKind.SUPPRESSED:
                pace.requests_today -= 1  # resolving is a request, but no message left
                exc = work.same_person_error(row.id) or exc
                return Outcome(row, exc.kind.value, started, timezone.now(), error=exc, requested=False)
            if exc.kind == ErrorKind.FLOOD:
                until = timezone.now() + timedelta(seconds=exc.seconds or 0)
                session.flood_wait_until = max(until, session.flood_wait_until or until)
            elif exc.kind in (ErrorKind.SESSION, ErrorKind.SPAM_LIMITED):
                session.status = SessionStatus.DISABLED
            if exc.kind in (ErrorKind.CONTENT, ErrorKind.SPAM_LIMITED):
                work.stop.set()
            return Outcome(row, exc.kind.value, started, timezone.now(), error=exc)
        except Exception as exc:  # a bug must cost a retry, not the slice and its other rows
            log.exception("session %s: unexpected error sending row %s", session.pk, row.id)
            err = TransportError(ErrorKind.TRANSIENT, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
            return Outcome(row, err.kind.value, started, timezone.now(), error=err)
        kind = "duplicate" if result.duplicate else "sent"
        return Outcome(
            row,
            kind,
            started,
            timezone.now(),
            message_id=result.message_id,
            peer_id=result.peer_id,
            previous_peer_id=result.previous_peer_id,
        )
