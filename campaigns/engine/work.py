"""A campaign as one slice serves it: its message, its pull policy over the slice's sessions, the
rows its sessions hold, and a stop event for staff's pause or cancel; the roster of campaigns a
slice serves, and its report."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.db.models import Count, Q

from sessions_app import clock
from sessions_app.models import TelegramSession
from sessions_app.transport import ErrorKind, TransportError
from sessions_app.transport.base import PeerCheck

from ..content.outgoing import message_builder
from ..models import CODE_DUPLICATE, Campaign, CampaignStatus, MessageResult, ResultStatus
from . import claiming, lookups, window
from .balancing import PullPolicy

# A session counts as "ready now" for the pull policy when it could send within this many seconds.
READY_SLACK_SECONDS = 0.05
# How long a session that found a campaign's pool empty waits before asking again (rows may come
# back: another session's FloodWait, a retry falling due, a worker elsewhere releasing its claims).
EMPTY_RETRY_SECONDS = 1.0
# The sessions ready for a campaign, computed once for all the pulls within this many seconds
# (well inside READY_SLACK_SECONDS, so no pull sees a different picture than it would have).
READY_REUSE_SECONDS = 0.01


class Fenced(TransportError):
    """Raised right before a request would leave on a lease that is no longer surely held: the
    request did not leave (the row goes back unsent)."""

    def __init__(self) -> None:
        super().__init__(ErrorKind.TRANSIENT, "LEASE_FENCED", "the session's lease was no longer safe")


@dataclass
class SliceReport:
    """What one slice did: rows sent, outcomes recorded, sessions driven, the campaigns served
    (ids), the status that stopped the first campaign early ("" when it ran to its end), and
    whether a write found the database's disk full (every session stopped then)."""

    sent: int = 0
    outcomes: int = 0
    sessions: int = 0
    campaigns: set[int] = field(default_factory=set)
    stopped_by: str = ""
    disk_full: bool = False
    # Campaign id → seconds from the slice's end until one of its sessions here may send again
    # (their pace and FloodWait as the slice left them; absent: none may, as far as it knows).
    ready_in: dict[int, float] = field(default_factory=dict)


class CampaignWork:
    """One campaign this slice serves: its message, its pull policy over the slice's sessions,
    and a stop event set when staff pause or cancel it."""

    def __init__(
        self, campaign: Campaign, members: list[int], pool: int, taken: dict[int, int], pinned: set[int]
    ):
        self.campaign = campaign
        self.id = campaign.pk
        self.members = set(members)
        self.weight = campaign.held("priority")
        self.build = message_builder(campaign)
        self.policy = PullPolicy(campaign.strategy, session_weights(campaign, members), taken, pool)
        self.policy.start_even()  # every session comes back at a slice's start (balancing "Rejoin")
        self.pinned = set(pinned)  # sessions with rows pinned to them (in doubt)
        self.stop = asyncio.Event()
        self.empty_at: dict[int, float] = {}  # session id → monotonic time its last claim found nothing
        self.held: dict[int, int] = {sid: 0 for sid in members}  # rows claimed and not yet settled
        # Quiet hours: the time zones of its rows still to send (read once per slice: rows keep
        # their zone from launch), so each claim asks only for those whose window is open now.
        self.windowed = window.has_window(campaign.send_window_start, campaign.send_window_end)
        self.zones: set[str] = set()
        if self.windowed:
            self.zones = set(
                campaign.results.filter(status__in=(ResultStatus.PENDING, ResultStatus.HELD))
                .values_list("time_zone", flat=True)
                .distinct()
                .order_by()
            )
        # One person under two keys: a campaign whose rows hold more than one kind of key (@names
        # and phones or user ids) checks each resolved user against the rows that reached them
        # (``peers``: user id → (id, key) of the row of this slice that resolved to it first).
        kinds = campaign.results.exclude(kind="").order_by().values_list("kind", flat=True).distinct()
        self.mixed_kinds = len(kinds[:2]) > 1
        self.peers: dict[int, tuple[int, str]] = {}
        # …and the users the campaign's rows reached before (other slices, other processes), kept
        # up to date by the slice's heartbeat (:meth:`refresh_reached`).
        self.reached: set[int] = lookups.reached_peers(self.id) if self.mixed_kinds else set()
        self.reached_at = clock.now()
        self.same_person: dict[int, str] = {}  # row id → the key of the row that reached them
        # The pool's rows below this id are taken (as far as this slice knows): claims read on from
        # it (:func:`claiming.claim_rows`'s ``after``); lowered when rows go back to the pool.
        self.pool_after = 0

    def peer_check(
        self, row: claiming.RowWork, suppressed: set[int], lease_safe: Callable[[], bool]
    ) -> PeerCheck:
        """The :data:`~sessions_app.transport.base.PeerCheck` for one row, asked with the user id
        its key resolved to right before the send: False for a suppressed user id, and (campaigns
        mixing kinds of key) for a user another row of the campaign reached or is sending to,
        noted for :meth:`same_person_error`. Raises :class:`Fenced` when ``lease_safe()`` is false:
        the session's lease may be gone (a freeze, a failed renewal), so nothing may leave."""

        async def check(peer_id: int) -> bool:
            if not lease_safe():
                raise Fenced()
            if peer_id in suppressed:
                return False
            if not self.mixed_kinds:
                return True
            first_id, first_key = self.peers.setdefault(peer_id, (row.id, row.key))
            other = first_key if first_id != row.id else None
            if other is None and peer_id in self.reached:  # rare: read which row reached them
                other = await sync_to_async(lookups.reached_by_another_row)(self.id, peer_id, row.id)
            if other:
                self.same_person[row.id] = other
            return not other

        return check

    def refresh_reached(self) -> None:
        """Add the users the campaign's rows reached since the last refresh (other processes'
        sends), for :meth:`peer_check`; a few seconds of overlap, so none falls between."""
        if self.mixed_kinds:
            now = clock.now()
            self.reached |= lookups.reached_peers(self.id, since=self.reached_at - timedelta(seconds=5))
            self.reached_at = now

    def same_person_error(self, row_id: int) -> TransportError | None:
        """Why :meth:`peer_check` refused row ``row_id`` when it was the same person as another
        row (``DUPLICATE_RECIPIENT``: skipped, never sent), None when it was not."""
        other = self.same_person.pop(row_id, None)
        if other is None:
            return None
        text = f"the same Telegram user as {other}, who got (or is getting) this campaign"
        return TransportError(ErrorKind.SUPPRESSED, CODE_DUPLICATE, text)

    def open_zones(self) -> set[str] | None:
        """The zones whose send window is open now (None: no window, any row may go)."""
        if not self.windowed:
            return None
        c = self.campaign
        return window.open_zones(c.send_window_start, c.send_window_end, self.zones, clock.now())

    def claimed(self, batch: list[claiming.RowWork]) -> None:
        """Move :attr:`pool_after` past the pool rows of a claimed ``batch``."""
        pooled = [r.id for r in batch if r.pooled]
        # Under a send window a claim skips rows of closed zones, which must be found again when
        # their window opens: claims then always read the pool from its start.
        if pooled and not self.windowed:
            self.pool_after = max(self.pool_after, max(pooled))

    def returned(self, ids: list[int]) -> None:
        """Rows ``ids`` went back to the pool: the next claim reads from the lowest of them."""
        if ids:
            self.pool_after = min(self.pool_after, min(ids) - 1)

    @property
    def delay(self) -> float:
        """The campaign's least seconds between two sends of a session (held to its range)."""
        return self.campaign.held("delay_seconds")


def session_weights(campaign: Campaign, members: list[int]) -> dict[int, int]:
    """Session id → weight, for the campaign's sessions among ``members``."""
    weights = dict(campaign.sessions.filter(pk__in=members).values_list("pk", "weight"))
    return {sid: weights.get(sid, 1) for sid in members}


class Roster:
    """The campaigns one slice serves and how its sessions choose among them: each pull goes to
    the next campaign by smooth weighted round robin over the campaigns' priorities, among those
    whose pull policy lets the session take rows now.

    ``ready_at``, ``done`` and ``lost`` are the slice's own records (monotonic time each session
    may next send; sessions whose loop ended; sessions whose lease was taken over)."""

    def __init__(self, session_ids: list[int], ready_at: dict[int, float], done: set[int], lost: set[int]):
        self.session_ids = session_ids
        self.ready_at = ready_at
        self.done = done
        self.lost = lost
        self.work: dict[int, CampaignWork] = {}
        self._turn_credit: dict[int, dict[int, int]] = {sid: {} for sid in session_ids}
        self._ready: dict[int, tuple[float, set[int]]] = {}  # campaign id → (when, ready sessions)

    def load(self, campaign_ids: list[int]) -> list[CampaignWork]:
        """CampaignWork for the running campaigns among ``campaign_ids`` (database, sync)."""
        found = []
        campaigns = Campaign.objects.filter(pk__in=campaign_ids, status=CampaignStatus.RUNNING)
        for campaign in campaigns:
            members = list(campaign.sessions.filter(pk__in=self.session_ids).values_list("pk", flat=True))
            if not members:
                continue
            results = MessageResult.objects.filter(campaign=campaign)
            pool = results.filter(status=ResultStatus.PENDING, session=None).count()
            taken = dict(
                results.filter(session_id__in=members)
                .exclude(status=ResultStatus.PENDING)
                .values_list("session_id")
                .annotate(n=Count("id"))
                .order_by()
            )
            pinned = {sid for _cid, sid in lookups.pinned_session_ids([campaign.pk], members)}
            found.append(CampaignWork(campaign, members, pool, taken, pinned))
        return found

    def running_ids(self) -> list[tuple[int, str]]:
        """(id, status) of the campaigns served plus running ones the leased sessions belong to.
        Read as the statuses of the campaigns served and of the running others (a handful), then
        the sessions of those others: polled four times a second, an OR over the join of every
        campaign with 500 session ids cost more than the slice's claims."""
        found = list(
            Campaign.objects.filter(Q(pk__in=list(self.work)) | Q(status=CampaignStatus.RUNNING)).values_list(
                "pk", "status"
            )
        )
        others = [pk for pk, _status in found if pk not in self.work]
        if not others:
            return found
        members = Campaign.sessions.through.objects.filter(
            campaign_id__in=others, telegramsession_id__in=self.session_ids
        )
        joined = set(members.values_list("campaign_id", flat=True))
        return [(pk, status) for pk, status in found if pk in self.work or pk in joined]

    def ready(self, work: CampaignWork, now: float) -> set[int]:
        """Sessions of ``work`` that could send now and still find rows in its pool (not to be
        changed by the caller: the same set serves every session pulling within
        :data:`READY_REUSE_SECONDS`, as 500 sessions each pulling once a second would otherwise
        make it 250,000 checks a second)."""
        cached = self._ready.get(work.id)
        if cached is not None and 0 <= now - cached[0] < READY_REUSE_SECONDS:
            return cached[1]
        found = {
            sid
            for sid in work.members
            if sid not in self.done
            and sid not in self.lost
            and self.ready_at.get(sid, 0.0) <= now + READY_SLACK_SECONDS
            and now - work.empty_at.get(sid, -1e9) > EMPTY_RETRY_SECONDS
        }
        self._ready[work.id] = (now, found)
        return found

    def rejoin(self, session_id: int, now: float) -> None:
        """``session_id`` is back from a FloodWait: in every campaign it serves, it starts from
        the current even share of the sessions sending now (:meth:`PullPolicy.rejoin`)."""
        for work in self.work.values():
            if session_id in work.members:
                present = {
                    sid
                    for sid in work.members
                    if sid not in self.done
                    and sid not in self.lost
                    and self.ready_at.get(sid, 0.0) <= now + EMPTY_RETRY_SECONDS
                }
                work.policy.rejoin(session_id, present)

    def anything_left_for(self, session_id: int) -> bool:
        """Whether a campaign this session serves may still have rows for it: rows in its pool,
        rows sessions of this slice hold (they come back on a FloodWait), or rows pinned to it."""
        return any(
            work.policy.pool > 0 or any(work.held.values()) or session_id in work.pinned
            for work in self.work.values()
            if session_id in work.members and not work.stop.is_set()
        )

    def next_work(self, session: TelegramSession, now: float) -> tuple[CampaignWork | None, bool]:
        """The campaign ``session`` pulls from next (smooth weighted round robin over the
        campaigns' priorities), and whether to wait for a change when there is none: the session
        waits its turn, or other sessions of this slice hold rows that may come back to the pool.
        (None, False): nothing is left for it in this slice but its own retries."""
        sid = session.pk
        candidates, later = [], False
        for work in self.work.values():
            if sid not in work.members or work.stop.is_set():
                continue
            if now - work.empty_at.get(sid, -1e9) <= EMPTY_RETRY_SECONDS:
                later = later or any(n for other, n in work.held.items() if other != sid)
                continue
            if not work.policy.may_take(sid, self.ready(work, now)):
                later = True
                continue
            candidates.append(work)
        if not candidates:
            return None, later
        credit = self._turn_credit[sid]
        total = sum(w.weight for w in candidates)
        for w in candidates:
            credit[w.id] = credit.get(w.id, 0) + w.weight
        best = max(candidates, key=lambda w: (credit[w.id], -w.id))
        credit[best.id] -= total
        return best, True
