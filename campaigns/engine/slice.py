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

from asgiref.sync import sync_to_async

from sessions_app import clock, leases
from sessions_app.models import SessionStatus, TelegramSession
from sessions_app.transport import ErrorKind, TransportError

from ..models import CampaignStatus
from . import claiming, lookups, settling
from .claiming import RowWork
from .coalesce import Coalescer
from .outcomes import Outcome, OutcomeKind, outcome_of_error
from .pacing import Pace, load_paces
from .sender import SessionSender
from .storage import is_disk_full
from .work import CampaignWork, Fenced, Roster, SliceReport

log = logging.getLogger(__name__)

CONTROL_POLL_SECONDS = 0.25


class SliceRunner:
    """One slice: every leased session sends concurrently in one asyncio loop until the deadline,
    or until nothing is left for it. All ORM calls go through ``sync_to_async`` and so run on the
    calling thread (the slice is entered with ``async_to_sync``).

    ``campaign_ids``: the campaigns to serve at first (more are picked up while it runs: every
    running campaign a leased session belongs to); ``leased_at``: the ``time.monotonic()`` at
    which taking the leases started (default: now). The slice starts requests only until
    :func:`sessions_app.leases.safe_until` of its last successful renewal (self-fencing: a frozen
    or cut-off worker stops by its own clock before anyone may take its sessions over)."""

    def __init__(
        self,
        campaign_ids: list[int],
        sessions: list[TelegramSession],
        owner: str,
        seconds: float,
        *,
        leased_at: float | None = None,
    ):
        self.sessions = sessions
        self.safe_until = leases.safe_until(time.monotonic() if leased_at is None else leased_at)
        self.session_ids = [s.pk for s in sessions]
        self.owner = owner
        self.deadline = time.monotonic() + seconds
        self.first_campaign_id = campaign_ids[0] if campaign_ids else None
        self.initial_ids = list(campaign_ids)
        self.stop = asyncio.Event()
        self.lost: set[int] = set()
        self.unreachable: set[int] = set()  # sessions whose connection failed mid-slice
        self.done: set[int] = set()
        self.report = SliceReport(sessions=len(sessions))
        # Requests awaiting Telegram's answer per session id: +1/-1 around every send (try/finally),
        # written to TelegramSession.current_load by the heartbeat and zeroed with the lease.
        self.load: dict[int, int] = {s.pk: 0 for s in sessions}
        self.ready_at: dict[int, float] = {s.pk: 0.0 for s in sessions}
        self.changed = asyncio.Event()  # set whenever rows are claimed or come back to a pool
        self.roster = Roster(self.session_ids, self.ready_at, self.done, self.lost)
        self._suppressed_ids: set[int] = set()
        self.paces: dict[int, Pace] = {}  # each session's pace as the slice starts (one read for all)
        # The sessions' claims and settles, gathered into one transaction each (:mod:`.coalesce`).
        self.claims = Coalescer(lambda requests: claiming.claim_many(owner, requests))
        self.settles = Coalescer(lambda batches: settling.apply_batches(owner, batches), after=self.claims)
        self.pinned_dues = Coalescer(lookups.next_pinned_dues)

    # Time and stopping ---------------------------------------------------------------------------
    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    def lease_safe(self) -> bool:
        """Whether the leases surely still hold by this process's monotonic clock."""
        return time.monotonic() < self.safe_until

    def halted(self, session: TelegramSession) -> bool:
        return (
            self.stop.is_set()
            or session.pk in self.lost
            or session.pk in self.unreachable
            or self.time_left() <= 0
            or not self.lease_safe()
        )

    def _lose(self, session_ids: set[int]) -> None:
        """Leases taken over, or a renewal that failed: those sessions stop sending now."""
        self.lost.update(session_ids)
        self.signal_change()

    def storage_failed(self, exc: BaseException) -> bool:
        """A write failed: on a full disk every session stops now (True); other errors are the
        caller's to log (False)."""
        if not is_disk_full(exc):
            return False
        self.report.disk_full = True
        self.stop.set()
        self.signal_change()
        return True

    def _renewed(self, started: float) -> None:
        self.safe_until = leases.safe_until(started)

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
        self.paces = await sync_to_async(load_paces)(self.sessions)
        aux = [asyncio.create_task(self._heartbeat()), asyncio.create_task(self._watch_control())]
        try:
            results = await asyncio.gather(
                *(SessionSender(self, s).run() for s in self.sessions), return_exceptions=True
            )
        finally:
            for task in aux:
                task.cancel()
            for task, result in zip(aux, await asyncio.gather(*aux, return_exceptions=True)):
                if isinstance(result, Exception):  # never a silent death (issue 18, item 7)
                    log.error("slice %s: %s failed", self.owner, task.get_coro().__name__, exc_info=result)
        for session, result in zip(self.sessions, results):
            if isinstance(result, BaseException) and not self.storage_failed(result):
                log.error("session %s loop crashed", session.pk, exc_info=result)
        self.report.campaigns = set(self.roster.work)
        self.report.ready_in = self._ready_in()
        return self.report

    def _ready_in(self) -> dict[int, float]:
        """Campaign id → seconds until one of its sessions of this slice may send again, from the
        paces and FloodWaits in memory (sessions lost, unreachable, capped or no longer active
        left out): what :func:`campaigns.engine.driver.next_wake` would read back, for free."""
        now, soonest, gone = time.monotonic(), {}, self.lost | self.unreachable
        for session in self.sessions:
            pace = self.paces.get(session.pk)
            usable = session.status == SessionStatus.ACTIVE and session.pk not in gone
            if pace is None or pace.capped() or not usable:
                continue
            wait = max(pace.wait_for(now), session.flood_wait_left())
            for work in self.serving(session.pk):
                soonest[work.id] = min(soonest.get(work.id, wait), wait)
        return soonest

    async def _heartbeat(self) -> None:
        """Renew the leases (a lost one stops its session at once), the row claims that go with
        them, the suppressed user ids, and publish the sessions' current load."""
        published: dict[int, int] = {}

        async def claims_load_and_suppressions() -> None:
            await sync_to_async(claiming.renew_claims)(self.owner)
            await sync_to_async(clock.offset_seconds)()  # re-measured from a thread, not the loop
            await sync_to_async(self._refresh_suppressed_ids)()
            for work in list(self.roster.work.values()):
                await sync_to_async(work.refresh_reached)()
            changed = {pk: n for pk, n in self.load.items() if published.get(pk, 0) != n}
            if changed:
                await sync_to_async(leases.publish_load)(changed, self.owner)
                published.update(changed)

        await leases.heartbeat(
            self.session_ids,
            self.owner,
            self._lose,
            also=claims_load_and_suppressions,
            on_renewed=self._renewed,
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

    # Whether a request may leave, and what its answer does (each session's loop: .sender) ----------
    def blocked(self, session: TelegramSession, pace: Pace, work: CampaignWork) -> bool:
        """No further request of ``work`` may leave this session in this slice (for now)."""
        return (
            self.halted(session)
            or work.stop.is_set()
            or pace.capped()
            or session.status != SessionStatus.ACTIVE
            or session.flood_wait_left() > 0
        )

    def serving(self, session_id: int) -> list[CampaignWork]:
        """The campaigns of this slice ``session_id`` belongs to."""
        return [w for w in self.roster.work.values() if session_id in w.members]

    def settled(self, work: CampaignWork, session_id: int, batch: list[RowWork], *, returned: int) -> None:
        """Book a batch's rows as settled; ``returned`` of them went back to the pool unsent."""
        work.held[session_id] = max(0, work.held.get(session_id, 0) - len(batch))
        if returned:
            work.policy.returned(session_id, returned)
            for w in self.roster.work.values():
                w.empty_at.clear()  # rows are back: every session may look again
            self.signal_change()

    async def _request(
        self, work: CampaignWork, session: TelegramSession, transport, pace: Pace, delay: float, row: RowWork
    ) -> Outcome | None:
        """One request; never raises. An error acts at once in memory as the outcome policy says
        (:mod:`.outcomes`): the session is held (FloodWait, session, spam-limit, unreachable), the
        campaign's sends stop (content, spam limit). Returns None when the session got blocked
        (another request's FloodWait, a pause, a lease no longer safe) before this one left."""
        started = clock.now()
        try:
            message = work.build(row.fields, row.variant)
        except TransportError as exc:  # this recipient's personalised text is too long
            return Outcome(row, OutcomeKind.of(exc.kind), started, clock.now(), error=exc, requested=False)
        except Exception as exc:
            log.exception("session %s: rendering row %s failed", session.pk, row.id)
            err = TransportError(ErrorKind.TRANSIENT, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
            return Outcome(row, OutcomeKind.TRANSIENT, started, clock.now(), error=err, requested=False)
        if self.blocked(session, pace, work):
            return None
        started = clock.now()
        pace.record(time.monotonic(), delay)
        try:
            result = await transport.send(
                row.key,
                message,
                row.random_id,
                check_peer=work.peer_check(row, self._suppressed_ids, self.lease_safe),
            )
        except Fenced:  # the lease was no longer safe when the request was about to leave: unsent
            return None
        except TransportError as exc:
            return outcome_of_error(row, exc, started, session=session, pace=pace, work=work)
        except Exception as exc:  # a bug must cost a retry, not the slice and its other rows
            log.exception("session %s: unexpected error sending row %s", session.pk, row.id)
            err = TransportError(ErrorKind.TRANSIENT, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
            return Outcome(row, OutcomeKind.TRANSIENT, started, clock.now(), error=err)
        return Outcome(
            row,
            OutcomeKind.DUPLICATE if result.duplicate else OutcomeKind.SENT,
            started,
            clock.now(),
            message_id=result.message_id,
            peer_id=result.peer_id,
            previous_peer_id=result.previous_peer_id,
        )
