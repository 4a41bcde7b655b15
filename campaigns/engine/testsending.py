"""Test sends: a campaign's saved message, built as the engine builds it for one recipient's
fields, sent through one chosen session to staff's own account or a small seed list, and recorded
apart from the campaign's results (:class:`~campaigns.models.TestSend`).

docs/design.md "The picture" lets a view call Telegram for an operator's own action on one session:
this is one. So it takes the session's lease like a health check (one process per auth key; a
session a campaign is driving is *in use*, and said so), honours its pace (FloodWait, delay,
per-minute window, daily cap — test sends count as requests,
:func:`campaigns.engine.pacing.load_pace`), sends each message with a fresh ``random_id``, and never
touches a ``MessageResult``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from asgiref.sync import async_to_sync, sync_to_async
from django.utils import timezone

from sessions_app import leases
from sessions_app.models import SessionStatus, TelegramSession
from sessions_app.transport import ErrorKind, TransportError

from ..content.outgoing import message_builder
from ..models import (
    SEED_LIST_MAX,
    Campaign,
    CampaignStatus,
    Recipient,
    Suppression,
    TestSend,
    TestSendStatus,
    new_random_id,
)
from ..models.privacy import is_erased
from ..people.timezones import clock
from .effects import quarantine
from .pacing import next_request_at
from .readiness import STATUS_REASONS

LEASE_PURPOSE = "testsend"
# The longest a test send waits for its session's pace inside the request (seconds); a longer
# wait (a FloodWait, a daily cap, a user account's 20 s delay between a seed list's messages)
# leaves the rest unsent, saying when the session may send again.
MAX_WAIT_SECONDS = 5.0


@dataclass
class TestTarget:
    """Where a test goes and how it is personalised: ``keys`` (normalised identities, at most
    :data:`SEED_LIST_MAX`), ``recipient`` (the row whose fields personalise it; None: empty),
    ``variant`` (which wording of an A/B test)."""

    __test__ = False

    keys: list[str]
    recipient: Recipient | None = None
    variant: str = ""  # an A/B test's wording ("" or "A": the message)


def send_test(campaign: Campaign, session: TelegramSession, target: TestTarget, *, by=None) -> list[TestSend]:
    """Send ``campaign``'s saved message to each of ``target.keys`` through ``session``; returns
    one recorded :class:`TestSend` per key, in order (sent, failed, or not sent with the reason).
    Raises ValueError for no key or more than :data:`SEED_LIST_MAX`."""
    if not target.keys or len(target.keys) > SEED_LIST_MAX:
        raise ValueError(f"a test goes to 1 to {SEED_LIST_MAX} recipients")
    base = {
        "campaign": campaign,
        "session": session,
        "recipient": target.recipient,
        "personalised_as": (
            _where(target.recipient) + (f" · variant {target.variant}" if target.variant else "")
        )[:300],
        "sent_by": by,
    }
    try:
        fields = dict(target.recipient.fields or {}) if target.recipient else {}
        message = message_builder(campaign)(fields, target.variant)
    except TransportError as exc:  # the text is too long for this recipient
        return _not_sent(base, target.keys, f"{exc.code}: {exc.text}")
    base["text"] = message.text
    refusal = _refusal(campaign, session)
    if refusal:
        return _not_sent(base, target.keys, refusal)
    blocked = set(Suppression.objects.filter(key__in=target.keys).values_list("key", flat=True))
    blocked |= is_erased(target.keys)
    owner = leases.owner_name(LEASE_PURPOSE)
    with leases.holding([session], owner) as taken:
        if not taken:
            return _not_sent(base, target.keys, in_use(session))
        return async_to_sync(_send_all)(session, message, target.keys, blocked, base)


def _where(recipient: Recipient | None) -> str:
    if recipient is None:
        return "no recipient (empty fields)"
    return f"row {recipient.row_number} of “{recipient.recipient_list}”"


def _refusal(campaign: Campaign, session: TelegramSession) -> str:
    """Why nothing can be sent now ("" when it can)."""
    if campaign.status == CampaignStatus.CANCELLED:
        return "the campaign is cancelled"
    if session.status != SessionStatus.ACTIVE:
        return f"{session.name} {STATUS_REASONS.get(session.status, session.get_status_display().lower())}"
    return ""


def in_use(session: TelegramSession) -> str:
    """Who holds ``session``'s lease, for staff: the running campaigns it is sending, or what else."""
    session.refresh_from_db(fields=["lease_owner", "lease_expires_at"])
    purpose = session.lease_owner.split(":", 1)[0]
    if purpose == "drive":
        names = ", ".join(
            f"“{c}”" for c in session.campaigns.filter(status=CampaignStatus.RUNNING).order_by("name")
        )
        return (
            f"{session.name} is in use: it is sending campaign {names or '(another campaign)'} right now. "
            "Choose another session, or try again once that campaign is done or paused."
        )
    return f"{session.name} is in use by another process ({purpose or 'unknown'}); try again in a minute."


def _not_sent(base: dict, keys: list[str], reason: str) -> list[TestSend]:
    return [
        TestSend.objects.create(**base, to_key=key, status=TestSendStatus.NOT_SENT, error_text=reason)
        for key in keys
    ]


async def _send_all(
    session: TelegramSession, message, keys: list[str], blocked: set[str], base: dict
) -> list[TestSend]:
    record = sync_to_async(lambda **fields: TestSend.objects.create(**base, **fields))
    done: list[TestSend] = []
    transport = session.transport()
    try:
        await transport.connect()
    except TransportError as exc:
        return [
            await record(to_key=k, status=TestSendStatus.FAILED, error_code=exc.code, error_text=exc.text)
            for k in keys
        ]
    try:
        for key in keys:
            if key in blocked:
                done.append(
                    await record(
                        to_key=key,
                        status=TestSendStatus.NOT_SENT,
                        error_text="on the suppression list (opted out)",
                    )
                )
                continue
            due = await sync_to_async(next_request_at)(session)
            wait = (due - timezone.now()).total_seconds()
            if wait > MAX_WAIT_SECONDS:
                reason = (
                    f"{session.name} may send again at {clock(due)} (FloodWait, its daily cap or its pace)"
                )
                done.append(await record(to_key=key, status=TestSendStatus.NOT_SENT, error_text=reason))
                continue
            if wait > 0:
                await asyncio.sleep(wait)
            done.append(await _send_one(session, transport, message, key, record))
    finally:
        await transport.disconnect()
    return done


async def _send_one(session: TelegramSession, transport, message, key: str, record) -> TestSend:
    random_id = new_random_id()  # fresh: a test is never the campaign's row
    try:
        sent = await transport.send(key, message, random_id)
    except TransportError as err:
        await sync_to_async(_session_effects)(session, err)
        return await record(
            to_key=key,
            random_id=random_id,
            status=TestSendStatus.FAILED,
            requested=err.kind != ErrorKind.SUPPRESSED,
            error_code=err.code,
            error_text=err.text,
        )
    return await record(
        to_key=key,
        random_id=random_id,
        status=TestSendStatus.SENT,
        requested=True,
        telegram_message_id=sent.message_id,
    )


def _session_effects(session: TelegramSession, err: TransportError) -> None:
    """What a test's error says about the session, kept as the engine keeps it (docs/design.md "Error
    kinds"): a FloodWait is waited out by every sender, a dead or spam-limited account stops."""
    if err.kind == ErrorKind.FLOOD:
        session.set_flood_wait(err.seconds or 0)
        session.record_error(err.code, f"FloodWait of {err.seconds or 0:.0f} s (test send): {err.text}")
    elif err.kind == ErrorKind.SESSION:
        session.record_error(err.code, err.text, status=SessionStatus.DISABLED)
    elif err.kind == ErrorKind.SPAM_LIMITED:
        quarantine(session, err)
