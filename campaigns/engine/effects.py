"""What an error does beyond its row: to the session that got it and to the campaign, as the
outcome policy's table says (:data:`campaigns.engine.outcomes.POLICY`, docs/design.md "Error
kinds"). The row itself is settled by :func:`campaigns.engine.settling.apply_outcomes`."""

from __future__ import annotations

import logging

from sessions_app.models import SessionStatus, TelegramSession
from sessions_app.transport import TransportError
from tgcampaigns import webhooks

from ..models import Campaign
from .assignment import active_sessions, recover_stranded_rows
from .control import pause
from .outcomes import CampaignEffect, SessionEffect, policy_of

log = logging.getLogger(__name__)


def apply_error_effects(campaign: Campaign, session: TelegramSession, err: TransportError) -> None:
    """The session effect, then the campaign effect, of ``err``'s kind. FloodWait: the session
    waits exactly ``err.seconds`` (its rows went back to the pool, so the other sessions send them
    meanwhile). Session error: the session is disabled and its rows settled (the campaign pauses
    when no session is left). Spam limit: the session is quarantined and the campaign paused for a
    human. Content error: the campaign is paused (every row would fail alike). Unreachable: the
    session's error is recorded (it backs off; its rows go to the campaign's other sessions)."""
    policy = policy_of(err.kind)
    _apply_to_session(policy.session, session, err)
    _apply_to_campaign(policy.campaign, campaign, session, err)


def _apply_to_session(effect: SessionEffect, session: TelegramSession, err: TransportError) -> None:
    if effect is SessionEffect.FLOOD_WAIT:
        log.info(
            "FloodWait of %.0f s (%s): the session pauses, its rows go to the others",
            err.seconds or 0,
            err.code,
        )
        session.set_flood_wait(err.seconds or 0)
        session.record_error(err.code, f"FloodWait of {err.seconds:.0f} s: {err.text}")
    elif effect is SessionEffect.DISABLE:
        session.record_error(err.code, err.text, status=SessionStatus.DISABLED)
    elif effect is SessionEffect.QUARANTINE:
        quarantine(session, err)
    elif effect is SessionEffect.BACK_OFF:
        # The slice stops using it (outcomes.hold_session); the lasting back-off (next_connect_at)
        # is written once when its sender closes (reach.record_unreachable).
        session.record_error(err.code, err.text)


def _apply_to_campaign(
    effect: CampaignEffect, campaign: Campaign, session: TelegramSession, err: TransportError
) -> None:
    if effect is CampaignEffect.PAUSE_WITHOUT_SESSIONS:
        recover_stranded_rows(campaign)
        if not active_sessions(campaign):
            pause(campaign, f"No usable session left: {session.name} failed with {err.code}.")
    elif effect is CampaignEffect.PAUSE_FOR_REVIEW:
        recover_stranded_rows(campaign)
        pause(
            campaign,
            f"Paused for review: session {session.name} was spam-limited by Telegram ({err.code}). "
            "Check the account (e.g. with @SpamBot) before resuming; its rows move to other sessions.",
        )
    elif effect is CampaignEffect.PAUSE_FOR_MESSAGE:
        pause(
            campaign,
            f"Paused: Telegram refused the message itself ({err.code}: {err.text}). "
            "Every recipient would fail alike: fix the message, then resume.",
        )


def quarantine(session: TelegramSession, err: TransportError) -> None:
    """Quarantine ``session`` for the spam limit ``err`` and, when this quarantined it, announce
    ``session.quarantined`` to webhook subscribers (its id, name, kind and Telegram's error; never
    its credentials)."""
    if session.quarantine(err.code, err.text):
        webhooks.emit(
            webhooks.Event.SESSION_QUARANTINED,
            {
                "session": {"id": session.pk, "name": session.name, "kind": str(session.kind)},
                "error_code": err.code,
                "error_text": err.text,
            },
        )


def apply_effects(campaign: Campaign, session: TelegramSession, errors: list[TransportError]) -> None:
    """:func:`apply_error_effects` for each of a batch's errors, in order."""
    for err in errors:
        apply_error_effects(campaign, session, err)
