"""After the send: read receipts and replies, recorded per ``MessageResult``.

- :func:`record_read` — a peer's read mark (``UpdateReadHistoryOutbox`` live, or a dialog's
  ``read_outbox_max_id`` in the catch-up) sets ``read_at`` on the session's sent rows to that
  peer at or below the mark.
- :func:`record_incoming` — a private message from a peer becomes a :class:`Reply` against the
  newest row the session sent them before it; an opt-out keyword also suppresses every identity
  of the person.
- :func:`catch_up` — the periodic catch-up over recent recipients (``TGC_AFTER_SEND_DAYS``), per
  user session: batched ``messages.getPeerDialogs``, paced by the session's delay, FloodWait
  honoured, the session's lease let go as soon as a running campaign wants it.

Telegram message ids in an account's private chats only grow, so "before the reply" is a
comparison of message ids (no clocks), and a read mark covers every id at or below it. Bots see
no read marks and may not call ``getPeerDialogs``: they are skipped by the catch-up and their
rows keep ``read_at`` empty ("not available for bots", never "unread").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Min, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from sessions_app import leases
from sessions_app.models import ResolvedPeer, SessionKind, TelegramSession
from sessions_app.transport import TransportError
from sessions_app.transport.base import DIALOG_PEERS_PER_REQUEST, ErrorKind, Incoming, PeerRef
from tgcampaigns import conf, webhooks

from ..models import CampaignStatus, MessageResult, RecipientIdentity, Reply, ResultStatus, Suppression
from ..people import optout

log = logging.getLogger(__name__)

# Dialog batches one session answers per catch-up round before it yields to the next session.
BATCHES_PER_ROUND = 10


def after_send_days() -> int:
    """Days after a campaign's launch during which the catch-up looks for its reads and replies
    (``TGC_AFTER_SEND_DAYS``, read at call time)."""
    return conf.after_send_days()


def _sent_to(session_id: int, peer_id: int):
    # Served by result_peer_idx (session, peer_id, telegram_message_id) WHERE status = 'sent'.
    return MessageResult.objects.filter(session_id=session_id, peer_id=peer_id, status=ResultStatus.SENT)


def record_read(session_id: int, peer_id: int, max_id: int, at: datetime | None = None) -> int:
    """The peer ``peer_id`` read ``session_id``'s messages up to Telegram message id ``max_id``:
    ``read_at = at`` (default now) on each sent row to them at or below it that has none yet.
    Returns how many rows changed (0 for a repeated mark)."""
    if max_id <= 0:
        return 0
    return (
        _sent_to(session_id, peer_id)
        .filter(telegram_message_id__lte=max_id, read_at__isnull=True)
        .update(read_at=at or timezone.now())
    )


def _identities(result: MessageResult, incoming: Incoming) -> list[str]:
    """Every key of the person who wrote ``incoming``: the row's key, the recipient row's other
    identities, the sender's @username and user id."""
    keys = {str(incoming.peer_id)}
    if incoming.username:
        keys.add("@" + incoming.username.lstrip("@").lower())
    if result.key:
        keys.add(result.key)
    if result.recipient_id:
        keys |= set(
            RecipientIdentity.objects.filter(recipient_id=result.recipient_id).values_list("key", flat=True)
        )
    return sorted(keys)


def record_incoming(session_id: int, incoming: Incoming) -> Reply | None:
    """Record a private message to session ``session_id``.

    An opt-out keyword (``TGC_OPT_OUT_KEYWORDS``) suppresses the sender's @username and user id
    whether or not it answers a campaign. When the session sent the peer a message before this
    one (a smaller message id), a :class:`Reply` is stored against the newest such row, once
    (``(session, peer_id, message_id)`` is unique: seen live and again by the catch-up, it is
    stored once); the row gets ``reply_count + 1``, ``replied_at`` (first reply), ``read_at`` if
    still empty (a reply implies a read), and an opt-out suppresses every identity of the person.
    Returns the new Reply, or None (no campaign message before it, or already recorded).
    """
    is_opt_out = bool(optout.handle_incoming(incoming.peer_id, incoming.username, incoming.text))
    result = (
        _sent_to(session_id, incoming.peer_id)
        .filter(telegram_message_id__lt=incoming.message_id)
        .order_by("-telegram_message_id")
        .first()
    )
    if result is None:
        return None
    try:
        with transaction.atomic():
            reply = Reply.objects.create(
                campaign_id=result.campaign_id,
                result=result,
                session_id=session_id,
                peer_id=incoming.peer_id,
                message_id=incoming.message_id,
                # A stranger's text: PostgreSQL's text cannot hold NUL (the INSERT raises, and the
                # listener and the catch-up would stop on that message every round).
                text=(incoming.text or "").replace("\x00", ""),
                received_at=incoming.date,
                is_opt_out=is_opt_out,
            )
            MessageResult.objects.filter(pk=result.pk).update(
                reply_count=F("reply_count") + 1,
                replied_at=Coalesce("replied_at", incoming.date),
                read_at=Coalesce("read_at", incoming.date),
            )
            webhooks.emit(webhooks.Event.REPLY_RECEIVED, reply_event(reply, result))
    except IntegrityError:
        return None  # already recorded (live, then the catch-up)
    if is_opt_out:
        keys = [k for k in _identities(result, incoming) if k]
        Suppression.objects.add(keys, source=Suppression.Source.STOP_REPLY, note="Opt-out reply")
    return reply


def reply_event(reply: Reply, result: MessageResult) -> dict:
    """The ``reply.received`` payload: the campaign and result ids, the recipient's key (the
    identity the receiver knows them by) and the reply (id, text, time, whether it opted out).
    No session, peer id or other identity: only what a CRM needs to show the reply."""
    return {
        "campaign": {"id": result.campaign_id},
        "result": {"id": result.pk, "recipient": result.key},
        "reply": {
            "id": reply.pk,
            "text": reply.text,
            "received_at": reply.received_at.isoformat() if reply.received_at else None,
            "is_opt_out": reply.is_opt_out,
        },
    }


# The catch-up ----------------------------------------------------------------------------------
@dataclass
class CatchUpReport:
    """What one session's catch-up did: requests made, rows marked read, replies recorded, and
    why it stopped early ("" when it went through its batches)."""

    requests: int = 0
    read: int = 0
    replies: int = 0
    stopped: str = ""
    peers: list[int] = field(default_factory=list)


# A campaign due to wake within this many seconds counts as sending already.
WAKING_SOON_SECONDS = 60


def sending_sessions():
    """Sessions a running campaign sends with now or within a minute (a QuerySet). A campaign
    asleep for longer — waiting for its send window, a daily cap or a FloodWait (``wake_at``) —
    leaves its sessions to the listener and the catch-up meanwhile: reads, replies and STOPs
    must not wait for a window that opens at 09:00 tomorrow."""
    soon = timezone.now() + timedelta(seconds=WAKING_SOON_SECONDS)
    awake = Q(campaigns__wake_at__isnull=True) | Q(campaigns__wake_at__lte=soon)
    return TelegramSession.objects.filter(Q(campaigns__status=CampaignStatus.RUNNING) & awake)


def catch_up_sessions() -> list[TelegramSession]:
    """Active user sessions (bots see no reads and may not call getPeerDialogs) that sent rows of
    recent campaigns and that no running campaign sends with (:func:`sending_sessions`)."""
    cutoff = timezone.now() - timedelta(days=after_send_days())
    recent = MessageResult.objects.filter(status=ResultStatus.SENT, campaign__launched_at__gte=cutoff)
    busy = sending_sessions().values("pk")
    return list(
        TelegramSession.objects.usable()
        .filter(kind=SessionKind.USER, pk__in=recent.values("session_id"))
        .exclude(pk__in=busy)
    )


def _wanted_by_a_campaign(session_id: int) -> bool:
    return sending_sessions().filter(pk=session_id).exists()


def _flood_wait_left(session_id: int) -> float:
    session = TelegramSession.objects.only("flood_wait_until").get(pk=session_id)
    return session.flood_wait_left()


def _next_peers(session: TelegramSession, cursor: int, cutoff: datetime) -> tuple[list[PeerRef], dict, int]:
    """The next batch after result id ``cursor``: (peers, peer id → (lowest, highest) sent
    message id, the batch's last result id; 0 when the batch reaches the end)."""
    rows = (
        MessageResult.objects.filter(
            session=session,
            status=ResultStatus.SENT,
            campaign__launched_at__gte=cutoff,
            pk__gt=cursor,
            peer_id__isnull=False,
            telegram_message_id__isnull=False,
        )
        .order_by("pk")
        .values_list("pk", "peer_id", "key")
    )
    peers: dict[int, str] = {}
    last = 0
    for pk, peer_id, key in rows.iterator(chunk_size=500):
        if peer_id not in peers and len(peers) == DIALOG_PEERS_PER_REQUEST:
            break
        peers.setdefault(peer_id, key)
        last = pk
    else:
        last = 0  # the end: the next round starts from the beginning
    if not peers:
        return [], {}, 0
    hashes = dict(
        ResolvedPeer.objects.filter(session=session, peer_id__in=list(peers), peer_type="user").values_list(
            "peer_id", "access_hash"
        )
    )
    sent = {
        row["peer_id"]: (row["low"], row["high"])
        for row in MessageResult.objects.filter(
            session=session,
            status=ResultStatus.SENT,
            peer_id__in=list(peers),
            campaign__launched_at__gte=cutoff,
        )
        .values("peer_id")
        .annotate(low=Min("telegram_message_id"), high=Max("telegram_message_id"))
        .order_by()
    }
    refs = [PeerRef(peer_id=p, access_hash=hashes.get(p), key=k) for p, k in peers.items()]
    return refs, sent, last


def _last_reply_id(session_id: int, peer_id: int) -> int:
    return (
        Reply.objects.filter(session_id=session_id, peer_id=peer_id).aggregate(m=Max("message_id"))["m"] or 0
    )


@dataclass
class _Round:
    """One session's catch-up round: the gate before each request (a campaign wanting the
    session, its FloodWait, its pace) and the report."""

    session: TelegramSession
    transport: Any
    sleep: Callable[[float], object]
    report: CatchUpReport = field(default_factory=CatchUpReport)
    first: bool = True

    async def may_request(self) -> bool:
        if await sync_to_async(_wanted_by_a_campaign)(self.session.pk):
            self.report.stopped = "a running campaign wants the session"
            return False
        if await sync_to_async(_flood_wait_left)(self.session.pk) > 0:
            self.report.stopped = "FloodWait"
            return False
        if not self.first and (delay := self.session.held("send_delay")):
            await self.sleep(float(delay))
        self.first = False
        self.report.requests += 1
        return True

    async def ask(self, call: Callable[[], Any]) -> Any:
        """``await call()``; a FloodWait sets the session's and ends the round (None)."""
        try:
            return await call()
        except TransportError as exc:
            if exc.kind is not ErrorKind.FLOOD:
                raise
            await sync_to_async(self.session.set_flood_wait)(exc.seconds or 0)
            self.report.stopped = "FloodWait"
            return None


async def _catch_up_dialog(rnd: _Round, state, by_id: dict, sent: dict) -> bool:
    """One dialog's read mark, and its replies newer than what we know; False ends the batch."""
    session, report = rnd.session, rnd.report
    report.read += await sync_to_async(record_read)(session.pk, state.peer_id, state.read_outbox_max_id)
    low, high = sent.get(state.peer_id, (0, 0))
    known = max(high or 0, await sync_to_async(_last_reply_id)(session.pk, state.peer_id))
    if state.top_message <= known or state.peer_id not in by_id:
        return True
    if not await rnd.may_request():
        return False
    peer = by_id[state.peer_id]
    min_id = max(low or 0, await sync_to_async(_last_reply_id)(session.pk, state.peer_id))
    messages = await rnd.ask(lambda: rnd.transport.history_after(peer, min_id))
    if messages is None:
        return False
    for message in sorted(messages, key=lambda m: m.message_id):
        if await sync_to_async(record_incoming)(session.pk, message) is not None:
            report.replies += 1
            report.peers.append(message.peer_id)
    if messages and session.mark_replies_read and await rnd.may_request():
        await rnd.transport.mark_read(peer, max(m.message_id for m in messages))
    return True


async def catch_up_session(
    session: TelegramSession,
    transport,
    *,
    batches: int = BATCHES_PER_ROUND,
    sleep: Callable[[float], object] = asyncio.sleep,
) -> CatchUpReport:
    """Catch up ``session``'s read marks and missed replies for up to ``batches`` batches of
    DIALOG_PEERS_PER_REQUEST peers, from its ``catch_up_cursor`` on (kept between rounds).

    Every request waits ``session.send_delay`` seconds after the previous one and is not made
    while the session's ``flood_wait_until`` is in the future; a FloodWait sets it and ends the
    round (the cursor stays, so the batch is tried again). A running campaign that wants the
    session ends the round before the next request. Replies mark the chat read only when
    ``session.mark_replies_read``. The caller holds the session's lease.
    """
    rnd = _Round(session, transport, sleep)
    cutoff = timezone.now() - timedelta(days=after_send_days())
    cursor = session.catch_up_cursor
    for _ in range(batches):
        peers, sent, last = await sync_to_async(_next_peers)(session, cursor, cutoff)
        if not peers:
            cursor = 0
            break
        if not await rnd.may_request():
            break
        states = await rnd.ask(lambda peers=peers: transport.dialog_states(peers))
        if states is None:
            break
        by_id = {p.peer_id: p for p in peers}
        for state in states:
            if not await _catch_up_dialog(rnd, state, by_id, sent):
                break
        if rnd.report.stopped:
            break
        cursor = last
        if not last:
            break
    await sync_to_async(TelegramSession.objects.filter(pk=session.pk).update)(catch_up_cursor=cursor)
    session.catch_up_cursor = cursor
    return rnd.report


def catch_up(owner: str | None = None, *, batches: int = BATCHES_PER_ROUND) -> dict[str, CatchUpReport]:
    """One catch-up round (the ``campaigns.tasks.catch_up_after_send`` schedule): lease each
    session of :func:`catch_up_sessions` that is free, catch it up, release it. Returns the
    report per session name; a session whose transport fails is logged and skipped, and so is
    one whose catch-up fails otherwise (logged with its traceback): one session's failure never
    ends the round for the others."""
    owner = owner or leases.owner_name("catchup")
    reports: dict[str, CatchUpReport] = {}
    for session in catch_up_sessions():
        with leases.holding([session], owner, active_only=True) as taken:
            if not taken:
                continue
            try:
                reports[session.name] = async_to_sync(_catch_up_one)(session, batches)
            except Exception:  # noqa: BLE001 - isolate sessions; the traceback is logged
                log.exception("after-send catch-up failed on session %s", session.name)
                reports[session.name] = CatchUpReport(stopped="ERROR")
    return reports


async def _catch_up_one(session: TelegramSession, batches: int) -> CatchUpReport:
    transport = session.transport()
    try:
        await transport.connect()
        return await catch_up_session(session, transport, batches=batches)
    except TransportError as exc:
        log.warning("after-send catch-up: session %s: %s", session.name, exc.code)
        if exc.kind is ErrorKind.FLOOD:
            await sync_to_async(session.set_flood_wait)(exc.seconds or 0)
        return CatchUpReport(stopped=exc.code)
    finally:
        await transport.disconnect()


# Live: what the listener feeds in --------------------------------------------------------------
class Recorder:
    """The callbacks a listener hands a session's ``watch``: read marks and incoming private
    messages recorded for ``session`` (marking a replied chat read only when staff chose to)."""

    def __init__(self, session: TelegramSession, transport) -> None:
        self.session = session
        self.transport = transport

    async def on_read(self, peer_id: int, max_id: int) -> None:
        await sync_to_async(record_read)(self.session.pk, peer_id, max_id)

    async def on_incoming(self, incoming: Incoming) -> None:
        reply = await sync_to_async(record_incoming)(self.session.pk, incoming)
        if reply is not None and self.session.mark_replies_read:
            peer = await sync_to_async(_peer_ref)(self.session.pk, incoming.peer_id)
            try:
                await self.transport.mark_read(peer, incoming.message_id)
            except TransportError as exc:
                log.info("marking a reply read failed on session %s: %s", self.session.name, exc.code)


def _peer_ref(session_id: int, peer_id: int) -> PeerRef:
    access_hash = (
        ResolvedPeer.objects.filter(session_id=session_id, peer_id=peer_id)
        .values_list("access_hash", flat=True)
        .first()
    )
    return PeerRef(peer_id=peer_id, access_hash=access_hash)


__all__ = [
    "CatchUpReport",
    "Recorder",
    "after_send_days",
    "catch_up",
    "catch_up_session",
    "catch_up_sessions",
    "record_incoming",
    "record_read",
]
