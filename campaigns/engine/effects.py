"""What an error does beyond its row (docs/design.md "Error kinds"): to the session that got it and to
the campaign. The row itself is settled by :func:`campaigns.engine.rows.apply_outcomes`."""

from __future__ import annotations

from sessions_app.models import SessionStatus, TelegramSession
from sessions_app.transport import ErrorKind, TransportError

from ..models import Campaign
from .assignment import active_sessions, recover_stranded_rows
from .control import pause


def apply_error_effects(campaign: Campaign, session: TelegramSession, err: TransportError) -> None:
    """FloodWait: the session waits exactly ``err.seconds`` (its rows went back to the pool, so
    the other sessions send them meanwhile). Session error: the session is disabled and its rows
    settled (the campaign pauses when no session is left). Spam limit: the session is quarantined
    and the campaign paused for a human. Content error: the campaign is paused (every row would
    fail alike)."""
    kind = err.kind
    if kind == ErrorKind.FLOOD:
        session.set_flood_wait(err.seconds or 0)
        session.record_error(err.code, f"FloodWait of {err.seconds:.0f} s: {err.text}")
    elif kind == ErrorKind.SESSION:
        session.record_error(err.code, err.text, status=SessionStatus.DISABLED)
        recover_stranded_rows(campaign)
        if not active_sessions(campaign):
            pause(campaign, f"No usable session left: {session.name} failed with {err.code}.")
    elif kind == ErrorKind.SPAM_LIMITED:
        session.record_error(err.code, err.text, status=SessionStatus.QUARANTINED)
        recover_stranded_rows(campaign)
        pause(
            campaign,
            f"Paused for review: session {session.name} was spam-limited by Telegram ({err.code}). "
            "Check the account (e.g. with @SpamBot) before resuming; its rows move to other sessions.",
        )
    elif kind == ErrorKind.CONTENT:
        pause(
            campaign,
            f"Paused: Telegram refused the message itself ({err.code}: {err.text}). "
            "Every recipient would fail alike: fix the message, then resume.",
        )


def apply_effects(campaign: Campaign, session: TelegramSession, errors: list[TransportError]) -> None:
    """:func:`apply_error_effects` for each of a batch's errors, in order."""
    for err in errors:
        apply_error_effects(campaign, session, err)
