"""One slice of sending: every leased session sends concurrently in one asyncio loop.

Entered from :func:`campaigns.engine.drive.drive` through ``async_to_sync``; every ORM call goes through
``sync_to_async`` and so runs on the calling thread, serialised, while requests to Telegram
overlap. Sessions pace themselves (:mod:`campaigns.pacing`); a heartbeat renews their leases and a
control poll stops every session when staff pause or cancel.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.db.models import Min
from django.utils import timezone

from sessions_app import leases
from sessions_app.models import SessionStatus, TelegramSession, utc_day_start
from sessions_app.transport import ErrorKind, OutgoingMessage, TransportError
from sessions_app.transport.formatting import parse, utf16_length

from ..content import template
from ..content.media import MediaInfo
from ..models import Campaign, CampaignStatus, MessageResult, ResultStatus
from . import conf, rows
from .effects import apply_error_effects
from .pacing import Pace
from .rows import Outcome, RowWork

log = logging.getLogger(__name__)

CONTROL_POLL_SECONDS = 0.25
# A batch covers about this many seconds of a session's pace: one claim UPDATE per batch, and a
# pause is seen before the next batch (and between sends through the control poll).
BATCH_WINDOW_SECONDS = 2.0
MAX_BATCH = 200


def _message_for(campaign: Campaign):
    """A function fields → OutgoingMessage for this campaign (template compiled once)."""
    media = None
    if campaign.media and campaign.media_info:
        media = MediaInfo.from_json(campaign.media_info).to_spec(campaign.media.path)
    source, mode = campaign.message, campaign.parse_mode
    limit, what = (template.CAPTION_MAX, "caption") if media else (template.TEXT_MAX, "text")

    def build(fields: dict) -> OutgoingMessage:
        """Raises TransportError(RECIPIENT, MESSAGE_TOO_LONG) when personalisation pushes this
        recipient's text past Telegram's limit: only this row fails, the campaign goes on."""
        text = template.render(source, fields or {}, mode)
        # Parsing can only shorten the text, so most messages skip it.
        length = utf16_length(parse(text, mode)[0]) if utf16_length(text) > limit else 0
        if length > limit:
            code = "MEDIA_CAPTION_TOO_LONG" if media else "MESSAGE_TOO_LONG"
            raise TransportError(
                ErrorKind.RECIPIENT,
                code,
                f"the personalised {what} is {length} characters for this recipient; Telegram allows {limit}",
            )
        return OutgoingMessage(text=text, parse_mode=mode, media=media)

    return build


@dataclass
class SliceReport:
    """What one slice did: rows sent, outcomes recorded, sessions driven, and the campaign status
    that stopped it early ("" when it ran to its end)."""

    sent: int = 0
    outcomes: int = 0
    sessions: int = 0
    stopped_by: str = ""


class SliceRunner:
    """One slice: every leased session sends concurrently in one asyncio loop until the deadline,
    a pause/cancel, or nothing is left. All ORM calls go through ``sync_to_async`` and so run on
    the calling thread (the slice is entered with ``async_to_sync``)."""

    def __init__(self, campaign: Campaign, sessions: list[TelegramSession], owner: str, seconds: float):
        self.campaign = campaign
        self.sessions = sessions
        self.owner = owner
        self.deadline = time.monotonic() + seconds
        self.stop = asyncio.Event()
        self.lost: set[int] = set()
        self.build = _message_for(campaign)
        self.report = SliceReport(sessions=len(sessions))
        # Requests awaiting Telegram's answer per session id: +1/-1 around every send (try/finally),
        # written to TelegramSession.current_load by the heartbeat and zeroed with the lease.
        self.load: dict[int, int] = {s.pk: 0 for s in sessions}

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

    async def run(self) -> SliceReport:
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
        return self.report

    async def _heartbeat(self) -> None:
        """Renew the leases (a lost one stops its session at once), the row claims that go with
        them, and publish the sessions' current load."""
        published: dict[int, int] = {}

        async def claims_and_load() -> None:
            await sync_to_async(rows.renew_claims)(self.owner)
            changed = {pk: n for pk, n in self.load.items() if published.get(pk, 0) != n}
            if changed:
                await sync_to_async(_publish_load)(changed, self.owner)
                published.update(changed)

        await leases.heartbeat(
            [s.pk for s in self.sessions], self.owner, self.lost.update, also=claims_and_load
        )

    async def _watch_control(self) -> None:
        get_status = sync_to_async(
            lambda: Campaign.objects.filter(pk=self.campaign.pk).values_list("status", flat=True).first()
        )
        while not self.stop.is_set():
            status = await get_status()
            if status != CampaignStatus.RUNNING:
                self.report.stopped_by = status or "deleted"
                self.stop.set()
            await asyncio.sleep(CONTROL_POLL_SECONDS)

    def blocked(self, session: TelegramSession, pace: Pace) -> bool:
        """No further request may leave this session in this slice (for now)."""
        return (
            self.halted(session)
            or pace.capped()
            or session.status != SessionStatus.ACTIVE
            or session.flood_wait_left() > 0
        )

    async def _session_loop(self, session: TelegramSession) -> None:
        pace = await sync_to_async(_load_pace)(self.campaign, session)
        batch_size = max(1, min(MAX_BATCH, int(BATCH_WINDOW_SECONDS / max(pace.interval, 1e-3))))
        transport = session.transport()
        in_flight = asyncio.Semaphore(conf.max_in_flight())
        finishers: list[asyncio.Task] = []
        try:
            await transport.connect()
        except TransportError as exc:
            await sync_to_async(_apply_effects)(self.campaign, session, [exc])
            return
        claim = sync_to_async(rows.claim_rows)
        prefetched: asyncio.Task | None = None
        try:
            while not self.halted(session) and session.status == SessionStatus.ACTIVE:
                wait = max(session.flood_wait_left(), pace.wait_for(time.monotonic()))
                if pace.capped() or wait > self.time_left():
                    break
                if prefetched is None:
                    limit = min(batch_size, pace.remaining_today())
                    prefetched = asyncio.create_task(claim(self.campaign.pk, session.pk, self.owner, limit))
                if wait > 0:
                    await self.nap(wait)
                    continue
                batch, prefetched = await prefetched, None
                if not batch:  # rows may have come back (FloodWait, pause) since that claim
                    limit = min(batch_size, pace.remaining_today())
                    batch = await claim(self.campaign.pk, session.pk, self.owner, limit)
                if not batch:
                    if finishers and not all(f.done() for f in finishers):
                        await asyncio.wait(finishers)  # their retries may be due soon
                        continue
                    due = await sync_to_async(_next_due)(self.campaign.pk, session.pk)
                    if due is None or due > self.time_left():
                        break
                    await self.nap(due)
                    continue
                # Claim the next batch while this one is sent, so no send waits on the database.
                left = pace.remaining_today() - len(batch)
                if left > 0:
                    limit = min(batch_size, left)
                    prefetched = asyncio.create_task(claim(self.campaign.pk, session.pk, self.owner, limit))
                finishers.append(await self._send_batch(session, transport, pace, in_flight, batch))
        finally:
            if prefetched is not None:
                unused = await prefetched
                if unused:
                    await sync_to_async(rows.release_claims)(self.owner, unused)
            for result in await asyncio.gather(*finishers, return_exceptions=True):
                if isinstance(result, BaseException):  # rows stay 'sending': the reaper re-sends them
                    log.error("session %s: recording outcomes failed", session.pk, exc_info=result)
            try:
                await transport.disconnect()
            except Exception:  # disconnecting must never mask the slice's outcome
                log.warning("session %s: disconnect failed", session.pk, exc_info=True)

    async def _send_batch(
        self,
        session: TelegramSession,
        transport,
        pace: Pace,
        in_flight: asyncio.Semaphore,
        batch: list[RowWork],
    ) -> asyncio.Task:
        """Start the batch's requests at the session's pace, up to ``max_in_flight()`` at once
        (Telegram multiplexes requests on one connection, so a 300 ms round trip does not cap a
        bot at 3 msg/s; ``TGC_MAX_IN_FLIGHT``), and return a task that records the outcomes when
        they are all in.
        Returns as soon as the last request has left, so the next batch overlaps this one."""
        marked_ids = await sync_to_async(rows.mark_sending)(
            self.campaign.pk, session.pk, self.owner, [r.id for r in batch]
        )
        if not marked_ids:
            await sync_to_async(rows.release_claims)(self.owner, batch)
            self.stop.set()
            return asyncio.create_task(asyncio.sleep(0))
        batch = [r for r in batch if r.id in marked_ids]
        tasks: list[asyncio.Task] = []
        for row in batch:
            if self.blocked(session, pace):
                break
            wait = pace.wait_for(time.monotonic())
            if wait > 0:
                await self.nap(wait)
                if self.blocked(session, pace):
                    break
            await in_flight.acquire()
            if self.blocked(session, pace):
                in_flight.release()
                break
            task = asyncio.create_task(self._send_one(session, transport, pace, row))
            task.add_done_callback(lambda _t: in_flight.release())
            tasks.append(task)
            await asyncio.sleep(0)  # let the request leave before pacing the next one
        return asyncio.create_task(self._finish_batch(session, batch, tasks))

    async def _finish_batch(
        self, session: TelegramSession, batch: list[RowWork], tasks: list[asyncio.Task]
    ) -> None:
        results = list(await asyncio.gather(*tasks)) if tasks else []
        outcomes: list[Outcome] = [o for o in results if o is not None]
        # Rows whose task found the session blocked before its request left, and rows never started.
        unsent = [row for row, o in zip(batch, results) if o is None] + batch[len(tasks) :]
        await sync_to_async(rows.apply_outcomes)(self.campaign, session, self.owner, outcomes, unsent)
        errors = [o.error for o in outcomes if o.error is not None]
        if errors:
            await sync_to_async(_apply_effects)(self.campaign, session, errors)
        self.report.outcomes += len(outcomes)
        self.report.sent += sum(o.kind in ("sent", "duplicate") for o in outcomes)

    async def _send_one(
        self, session: TelegramSession, transport, pace: Pace, row: RowWork
    ) -> Outcome | None:
        """:meth:`_request`, counted in the session's load while it awaits Telegram."""
        self.load[session.pk] += 1
        try:
            return await self._request(session, transport, pace, row)
        finally:
            self.load[session.pk] -= 1

    async def _request(self, session: TelegramSession, transport, pace: Pace, row: RowWork) -> Outcome | None:
        """One request; never raises. Marks the session blocked in memory at once on a FloodWait,
        a session or spam-limit error, and stops the slice on a content error. Returns None when
        the session got blocked (another request's FloodWait, a pause) before this one left."""
        started = timezone.now()
        try:
            message = self.build(row.fields)
        except TransportError as exc:  # this recipient's personalised text is too long
            return Outcome(row, exc.kind.value, started, timezone.now(), error=exc)
        except Exception as exc:
            log.exception("session %s: rendering row %s failed", session.pk, row.id)
            err = TransportError(ErrorKind.TRANSIENT, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
            return Outcome(row, err.kind.value, started, timezone.now(), error=err)
        if self.halted(session) or session.status != SessionStatus.ACTIVE or session.flood_wait_left() > 0:
            return None
        started = timezone.now()
        pace.record(time.monotonic())
        try:
            result = await transport.send(row.key, message, row.random_id)
        except TransportError as exc:
            if exc.kind == ErrorKind.DUPLICATE:
                return Outcome(row, "duplicate", started, timezone.now())
            if exc.kind == ErrorKind.FLOOD:
                until = timezone.now() + timedelta(seconds=exc.seconds or 0)
                session.flood_wait_until = max(until, session.flood_wait_until or until)
            elif exc.kind in (ErrorKind.SESSION, ErrorKind.SPAM_LIMITED):
                session.status = SessionStatus.DISABLED
            if exc.kind in (ErrorKind.CONTENT, ErrorKind.SPAM_LIMITED):
                self.stop.set()
            return Outcome(row, exc.kind.value, started, timezone.now(), error=exc)
        except Exception as exc:  # a bug must cost a retry, not the slice and its other rows
            log.exception("session %s: unexpected error sending row %s", session.pk, row.id)
            err = TransportError(ErrorKind.TRANSIENT, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
            return Outcome(row, err.kind.value, started, timezone.now(), error=err)
        kind = "duplicate" if result.duplicate else "sent"
        return Outcome(row, kind, started, timezone.now(), message_id=result.message_id)


def _load_pace(campaign: Campaign, session: TelegramSession) -> Pace:
    """The session's pace, seeded with today's count and its latest sends (across processes)."""
    now = timezone.now()
    today = MessageResult.objects.sent_since(utc_day_start(now)).filter(session=session)
    pace = Pace(
        delay=max(session.send_delay, campaign.delay_seconds),
        per_minute=session.max_per_minute,
        daily_cap=session.daily_cap,
        sent_today=today.count(),
    )
    recent = today.filter(sent_at__gte=now - timedelta(seconds=60)).order_by("-sent_at")
    mono_now = time.monotonic()
    for sent_at in reversed(list(recent.values_list("sent_at", flat=True)[: max(pace.per_minute, 1)])):
        pace.recent.append(mono_now - (now - sent_at).total_seconds())
    if pace.recent:
        pace.next_at = pace.recent[-1] + pace.delay
    return pace


def _next_due(campaign_id: int, session_id: int) -> float | None:
    """Seconds until the session's next retry-scheduled row is due, None when it has none."""
    due = MessageResult.objects.filter(
        campaign_id=campaign_id, session_id=session_id, status=ResultStatus.PENDING
    ).aggregate(m=Min("next_attempt_at"))["m"]
    if due is None:
        return None
    return max(0.0, (due - timezone.now()).total_seconds())


def _apply_effects(campaign: Campaign, session: TelegramSession, errors: list[TransportError]) -> None:
    for err in errors:
        apply_error_effects(campaign, session, err)


def _publish_load(loads: dict[int, int], owner: str) -> None:
    for session_id, n in loads.items():
        TelegramSession.objects.filter(pk=session_id, lease_owner=owner).update(current_load=n)
