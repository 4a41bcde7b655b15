"""The outcome policy: what each answer to a request does to the row, to the attempt recorded for
it, to the session that sent it and to its campaign (docs/design.md "Error kinds").

One table, :data:`POLICY`, read by the three places that act on an answer: the send loop
(:meth:`campaigns.engine.slice.SliceRunner._request`, at once and in memory), settling
(:func:`campaigns.engine.settling.apply_outcomes`, the row and its attempt) and the error effects
(:func:`campaigns.engine.effects.apply_error_effects`, the session and the campaign). A new
:class:`~sessions_app.transport.ErrorKind` needs a row here, and a test fails until it has one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sessions_app import clock
from sessions_app.models import SessionStatus, TelegramSession
from sessions_app.transport import ErrorKind, TransportError

from ..models import CODE_DUPLICATE, DeliveryAttempt

if TYPE_CHECKING:
    from .claiming import RowWork
    from .pacing import Pace
    from .work import CampaignWork

Attempt = DeliveryAttempt.Outcome


class OutcomeKind(str, enum.Enum):
    """What one request did: delivered (``sent``, ``duplicate``) or one of the error kinds.

    The values are :class:`ErrorKind`'s, so ``OutcomeKind.of(err.kind)`` names an error's outcome."""

    SENT = "sent"
    DUPLICATE = "duplicate"  # RANDOM_ID_DUPLICATE: an earlier request of the row had arrived
    FLOOD = "flood"
    TRANSIENT = "transient"
    RECIPIENT = "recipient"
    CONTENT = "content"
    SUPPRESSED = "suppressed"
    SESSION = "session"
    SPAM_LIMITED = "spam_limited"
    UNREACHABLE = "unreachable"

    @classmethod
    def of(cls, kind: ErrorKind) -> OutcomeKind:
        return cls(kind.value)

    @property
    def delivered(self) -> bool:
        """The message is in the recipient's chat (sent now, or by an earlier request)."""
        return self in (OutcomeKind.SENT, OutcomeKind.DUPLICATE)


class Transition(enum.Enum):
    """What settling does to the row (each a :class:`~campaigns.models.results.ResultQuerySet`
    method, one UPDATE per transition per batch)."""

    MARK_SENT = "mark_sent"  # ``sent``, with Telegram's message id
    FAIL = "fail"  # ``failed``: no retry
    SKIP = "skip"  # ``skipped``: nothing was sent, nothing will be
    # ``pending`` again after :func:`~campaigns.engine.settling.retry_delay`, on the same session
    # (the request may have arrived); ``failed`` once the campaign's ``max_attempts`` are spent.
    RETRY = "retry_at"
    # ``pending`` in the campaign's pool (a row already in doubt stays pinned to its session):
    # Telegram refused or never got the request, so another session may send it.
    BACK_TO_POOL = "back_to_pool"


class Doubt(enum.Enum):
    """The row's ``in_doubt`` after the transition."""

    CLEARED = "cleared"  # False: no request of it can have arrived
    KEPT = "kept"  # True: this request may have arrived (a timeout)
    RESTORED = "restored"  # as it was before the claim: this request did not arrive


class SessionEffect(enum.Enum):
    NONE = "none"
    FLOOD_WAIT = "flood_wait"  # no request for exactly the FloodWait's seconds
    DISABLE = "disable"  # the account is unusable (logged out, banned): ``disabled``
    QUARANTINE = "quarantine"  # spam-limited or frozen: ``quarantined`` until a human looks
    # No answer from Telegram at all (connect, auth key, transport): recorded as unable to
    # connect, and it backs off; its rows go to the campaign's other sessions (issue 18).
    BACK_OFF = "back_off"


class CampaignEffect(enum.Enum):
    NONE = "none"
    # The session's rows move to the others; paused when no usable session is left.
    PAUSE_WITHOUT_SESSIONS = "pause_without_sessions"
    PAUSE_FOR_REVIEW = "pause_for_review"  # a spam limit: a human checks the account first
    PAUSE_FOR_MESSAGE = "pause_for_message"  # every row would fail alike: fix the message


@dataclass(frozen=True)
class Policy:
    """One row of :data:`POLICY`. ``counts_attempt``: the row's ``attempts`` grows by one (only
    requests Telegram answered about the recipient count, so a FloodWait costs no attempt);
    ``requested``: the request counts toward the session's per-minute and daily limits (False:
    nothing reached Telegram); ``attempt``: the :class:`DeliveryAttempt` outcome recorded."""

    transition: Transition
    attempt: str
    doubt: Doubt = Doubt.RESTORED
    counts_attempt: bool = False
    requested: bool = True
    session: SessionEffect = SessionEffect.NONE
    campaign: CampaignEffect = CampaignEffect.NONE

    @property
    def blocks_session(self) -> bool:
        """No further request may leave the session in this slice."""
        return self.session is not SessionEffect.NONE

    @property
    def stops_campaign(self) -> bool:
        """The campaign surely pauses: its sends stop at once, before settling records it."""
        return self.campaign in (CampaignEffect.PAUSE_FOR_REVIEW, CampaignEffect.PAUSE_FOR_MESSAGE)

    @property
    def returns_to_pool(self) -> bool:
        return self.transition is Transition.BACK_TO_POOL


_TO_POOL = Transition.BACK_TO_POOL

POLICY: dict[OutcomeKind, Policy] = {
    OutcomeKind.SENT: Policy(Transition.MARK_SENT, Attempt.SENT, Doubt.CLEARED, counts_attempt=True),
    OutcomeKind.DUPLICATE: Policy(
        Transition.MARK_SENT, Attempt.DUPLICATE, Doubt.CLEARED, counts_attempt=True
    ),
    OutcomeKind.TRANSIENT: Policy(Transition.RETRY, Attempt.RETRY, Doubt.KEPT, counts_attempt=True),
    OutcomeKind.RECIPIENT: Policy(Transition.FAIL, Attempt.FAILED, Doubt.CLEARED, counts_attempt=True),
    # The key resolved to a person who opted out, or whom another row of the campaign reached
    # (code DUPLICATE_RECIPIENT: attempt ``same_person``); resolving was not a send.
    OutcomeKind.SUPPRESSED: Policy(Transition.SKIP, Attempt.SUPPRESSED, requested=False),
    OutcomeKind.FLOOD: Policy(_TO_POOL, Attempt.FLOOD, session=SessionEffect.FLOOD_WAIT),
    OutcomeKind.SESSION: Policy(
        _TO_POOL,
        Attempt.SESSION,
        session=SessionEffect.DISABLE,
        campaign=CampaignEffect.PAUSE_WITHOUT_SESSIONS,
    ),
    OutcomeKind.SPAM_LIMITED: Policy(
        _TO_POOL,
        Attempt.SPAM_LIMITED,
        session=SessionEffect.QUARANTINE,
        campaign=CampaignEffect.PAUSE_FOR_REVIEW,
    ),
    OutcomeKind.CONTENT: Policy(_TO_POOL, Attempt.CONTENT, campaign=CampaignEffect.PAUSE_FOR_MESSAGE),
    # Nothing reached Telegram, so nothing counts: not an attempt, not a request of the pace.
    OutcomeKind.UNREACHABLE: Policy(
        _TO_POOL, Attempt.UNREACHABLE, requested=False, session=SessionEffect.BACK_OFF
    ),
}


def policy_of(kind: OutcomeKind | ErrorKind) -> Policy:
    """The :data:`POLICY` row of an outcome or error kind."""
    return POLICY[OutcomeKind(kind.value)]


def hold_session(session: TelegramSession, err: TransportError) -> None:
    """The error's session effect as the send loop applies it at once, in memory, so no further
    request leaves the session in this slice (settling then writes the lasting effect): a
    FloodWait's end, or the session marked unusable for the rest of the slice."""
    effect = policy_of(err.kind).session
    if effect is SessionEffect.FLOOD_WAIT:
        until = clock.now() + timedelta(seconds=err.seconds or 0)
        session.flood_wait_until = max(until, session.flood_wait_until or until)
    elif effect is not SessionEffect.NONE:
        session.status = SessionStatus.DISABLED  # in memory: the slice stops using it


@dataclass
class Outcome:
    """What one request did. ``requested``: False when nothing reached Telegram (the personalised
    text was refused locally, the peer was suppressed, Telegram was unreachable)."""

    row: RowWork
    kind: OutcomeKind
    started_at: datetime
    finished_at: datetime
    message_id: int | None = None
    error: TransportError | None = None
    requested: bool = True
    peer_id: int | None = None
    previous_peer_id: int | None = None

    def __post_init__(self) -> None:
        self.kind = OutcomeKind(self.kind)  # also from a bare value ("sent", an ErrorKind)

    @property
    def policy(self) -> Policy:
        return POLICY[self.kind]

    def in_doubt_after(self) -> bool:
        """The row's ``in_doubt`` once settled (:class:`Doubt`)."""
        doubt = self.policy.doubt
        return self.row.in_doubt if doubt is Doubt.RESTORED else doubt is Doubt.KEPT


def outcome_of_error(
    row: RowWork,
    exc: TransportError,
    started: datetime,
    *,
    session: TelegramSession,
    pace: Pace,
    work: CampaignWork,
) -> Outcome:
    """The outcome of a request that raised ``exc``. Its policy acts first, at once and in
    memory: the session is held (:func:`hold_session`), the campaign's sends stop, and a request
    that sent nothing (a suppressed peer: resolving is no message; an unreachable Telegram) is
    given back to the session's pace."""
    policy = policy_of(exc.kind)
    if policy.transition is Transition.MARK_SENT:  # RANDOM_ID_DUPLICATE: an earlier request arrived
        return Outcome(row, OutcomeKind.of(exc.kind), started, clock.now())
    if not policy.requested:
        pace.requests_today -= 1
    if exc.kind is ErrorKind.SUPPRESSED:
        exc = work.same_person_error(row.id) or exc
    hold_session(session, exc)
    if policy.stops_campaign:
        work.stop.set()
    return Outcome(row, OutcomeKind.of(exc.kind), started, clock.now(), error=exc, requested=policy.requested)


def settle_as(o: Outcome, max_attempts: int) -> tuple[Transition, str]:
    """The row's transition and the attempt's outcome for one answer, by :data:`POLICY`. Two
    refinements: a retry whose attempts are spent (the campaign's ``max_attempts``) fails instead;
    a row skipped because another row reached the same person records ``same_person``."""
    policy = o.policy
    if policy.transition is Transition.RETRY and o.row.attempts + 1 >= max_attempts:
        return Transition.FAIL, Attempt.FAILED
    if o.kind is OutcomeKind.SUPPRESSED and o.error is not None and o.error.code == CODE_DUPLICATE:
        return policy.transition, Attempt.SAME_PERSON
    return policy.transition, policy.attempt
