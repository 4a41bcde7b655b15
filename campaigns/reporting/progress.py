"""A campaign's progress as plain data: counts per status, per session, and bar segments.

Used by the campaign change page (first render) and by the progress JSON view (refreshes), so the
page and its updates can never disagree. Every figure comes from the maintained tallies
(:class:`ResultTally`, :class:`AttemptTally`): a fixed handful of small queries, whatever the
campaign's size.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Max, Min, Sum
from django.utils import timezone

from sessions_app.models import TelegramSession
from tgcampaigns.audit import AuditAction
from tgcampaigns.audit.models import AuditEvent

from ..engine import window, zones
from ..models import (
    OPEN_STATUSES,
    AttemptTally,
    Campaign,
    CampaignStatus,
    ResultStatus,
    ResultTally,
)
from ..models.segment_rules import SegmentInvalid
from ..people.timezones import about, clock, duration
from . import forecast, page_cache
from .summary import as_sentence

# Bar order and colours: finished outcomes first (left), work still to do last (right). Rows a
# session has taken but not sent yet ("claimed") are waiting like pending ones, for staff.
STATUS_ORDER = [
    ResultStatus.SENT,
    ResultStatus.FAILED,
    ResultStatus.UNKNOWN,
    ResultStatus.SKIPPED,
    ResultStatus.CANCELLED,
    ResultStatus.SENDING,
    ResultStatus.PENDING,
    ResultStatus.HELD,
]
STATUS_COLOURS = {
    "sent": "#2e7d32",
    "failed": "#c62828",
    "unknown": "#ef6c00",
    "skipped": "#9e9e9e",
    "cancelled": "#616161",
    "sending": "#1565c0",
    "claimed": "#42a5f5",
    "pending": "#bbdefb",
    "held": "#ce93d8",
}
# Labels in staff's words where the status name is the engine's.
STATUS_LABELS = {
    "pending": "Waiting",
    "sending": "Sending now",
    "unknown": "Unknown (needs review)",
    "held": "Held for the winner",
}
ACTIVE_CAMPAIGN_STATUSES = (CampaignStatus.SCHEDULED, CampaignStatus.LAUNCHING, CampaignStatus.RUNNING)


def segments(counts: dict[str, int], scale: int) -> list[dict]:
    """Bar segments for ``counts`` (status → rows): label, count, width percent of ``scale`` rows
    (the deliverable rows of what the bar stands for: the campaign, or one session's own), colour.
    Claimed rows count as waiting. Skipped rows keep their count but get no width: they were never to be
    sent, so a bar full of what was sent is "100% done" (the key beside it says how many)."""
    shown = dict(counts)
    shown[ResultStatus.PENDING] = counts.get(ResultStatus.PENDING, 0) + counts.get(ResultStatus.CLAIMED, 0)
    out = []
    for status in STATUS_ORDER:
        n = shown.get(status, 0)
        width = n if status != ResultStatus.SKIPPED else 0
        out.append(
            {
                "status": str(status),
                "label": STATUS_LABELS.get(status, ResultStatus(status).label),
                "count": n,
                "percent": round(100.0 * width / scale, 2) if scale else 0.0,
                "colour": STATUS_COLOURS[status],
            }
        )
    return out


# The progress table's rows that are no session: open rows in the pool, an A/B test's hold-out,
# and rows no session was ever to send (skipped at the launch, cancelled before one took them).
NO_SESSION = "(waiting for a session)"
WINDOW_ROW = "(waiting for their send window)"
HELD_ROW = "Held for the winner"
NOT_SENT_ROW = "(not for sending: skipped or cancelled)"


def _session_row(
    session: TelegramSession | None, counts: dict[str, int], now, scale: int, name: str = NO_SESSION
) -> dict:
    """One row of the progress table. A session's bar is on the scale of its own deliverable rows
    (those it took, skipped ones aside: with ten sessions, the campaign's scale drew each bar a
    tenth full at best), with ``words`` "412 of 1,000 sent · 3 failed"; a row of no session
    (waiting for one, for a window, for the winner) is on the campaign's ``scale``, with ``words``
    "2,000 of the campaign's 12,000"."""
    total = sum(counts.values())
    if session is not None:
        own = total - counts.get(ResultStatus.SKIPPED, 0)
        scale = own
        failed = counts.get(ResultStatus.FAILED, 0)
        words = f"{counts.get(ResultStatus.SENT, 0):,} of {own:,} sent" if own else "none taken yet"
        words += f" · {failed:,} failed" if failed else ""
    else:
        shown = total - counts.get(ResultStatus.SKIPPED, 0)
        words = f"{shown:,} of the campaign's {scale:,}" if shown else ""
    row = {
        "id": session.pk if session else None,
        "name": session.name if session else name,
        "simulated": bool(session and session.is_simulated),
        "status": session.get_status_display() if session else "",
        "current_load": session.current_load if session else 0,
        "flood_wait_seconds": round(session.flood_wait_left(now)) if session else 0,
        "last_error": session.last_error_code if session else "",
        "counts": {s: counts.get(s, 0) for s in ResultStatus.values},
        "total": total,
        "segments": segments(counts, scale),
        "words": words,
    }
    row["bar"] = any(s["percent"] for s in row["segments"])  # none for rows never to be sent
    return row


def progress_snapshot(campaign: Campaign) -> dict:
    """Everything the progress block shows. ``counts`` holds every status (zeros included) and
    adds up to ``total``; ``sessions`` lists the campaign's sessions plus any other session that
    holds rows (after re-balancing), rows not yet assigned that a session could send now as a
    session of its own (:data:`NO_SESSION`), those whose send window is shut as another
    (:data:`WINDOW_ROW`) and an A/B test's hold-out as another (:data:`HELD_ROW`).

    ``deliverable``: rows not skipped (invalid, duplicate, suppressed); ``done``: those of them
    settled, i.e. sent, failed, unknown or cancelled (not ``held``: an A/B test's hold-out, "held
    for the winner", waits for staff); ``percent_done``: done of deliverable (None
    for a cancelled campaign: it stopped, it is not done). ``waiting``: rows not sent yet
    (pending, taken by a session, or being sent). ``in_lists`` (a draft or scheduled campaign
    without rows, else None): the valid recipients of its lists (before de-duplication across
    lists and suppressions); ``in_segments`` (the same, with segments): the people its segments
    choose now, else None. ``pace``: rate and ETA from the sessions' pace, and why it waits
    (:func:`pace_snapshot`)."""
    now = timezone.now()
    counts = campaign.counts()
    total = counts.pop("total")
    deliverable = total - counts[ResultStatus.SKIPPED]
    sessions = _session_rows(campaign, now, deliverable)
    waiting = sum(counts[s] for s in OPEN_STATUSES)
    # An A/B test's hold-out is neither done nor being sent: it waits for staff to choose the winner.
    held = counts[ResultStatus.HELD]
    done = deliverable - waiting - held
    cancelled = campaign.status == CampaignStatus.CANCELLED
    in_lists = _in_lists(campaign) if not total else None
    in_segments = _in_segments(campaign) if in_lists is not None else None
    pace = pace_snapshot(campaign, waiting or (in_lists or 0) + (in_segments or 0), now)
    return {
        "campaign": campaign.pk,
        "status": campaign.status,
        "status_display": campaign.get_status_display(),
        "status_reason": campaign.status_reason,
        "active": campaign.status in ACTIVE_CAMPAIGN_STATUSES,
        "counts": counts,
        "total": total,
        "in_lists": in_lists,
        "in_segments": in_segments,
        "deliverable": deliverable,
        "done": done,
        "waiting": waiting,
        "held": held,
        "cancelled": cancelled,
        "percent_done": None if cancelled else (round(100.0 * done / deliverable, 1) if deliverable else 0.0),
        "segments": segments(counts, deliverable),
        "sessions": sessions,
        "metrics": _with_pace_note(metrics(campaign), pace),
        "pace": pace,
        "updated_at": now.isoformat(),
        "updated_display": clock(now, now),
    }


def live_progress(campaign: Campaign) -> dict:
    """:func:`progress_snapshot` for a page or its poll: reused while the campaign and its counts
    stand still, for at most ``TGC_PAGE_CACHE_SECONDS`` (:mod:`.page_cache`)."""
    state = page_cache.campaign_state(campaign)
    return page_cache.reused("progress", (campaign.pk, state), lambda: progress_snapshot(campaign))


def _with_pace_note(measured: dict, pace: dict) -> dict:
    """``measured`` (:func:`metrics`) with ``above_pace`` set when its rate is above the pace its
    sessions allow now: why, so a rate above the pace shown beside it is never left unexplained."""
    rate, allowed = measured["sent_per_minute"], pace.get("allowed_per_minute")
    if rate is not None and allowed and rate > allowed:
        measured["above_pace"] = (
            f"above the {allowed:.10g}/min its sessions allow now: their pace was faster while it sent, "
            "or their first requests went out together"
        )
    return measured


def _session_rows(campaign: Campaign, now, scale: int) -> list[dict]:
    """The progress block's rows per session, from the tally: the campaign's sessions plus any
    other session holding rows, then open rows not yet assigned that a session could send now
    (:data:`NO_SESSION`), those waiting for their send window to open (:data:`WINDOW_ROW`), an A/B
    test's hold-out (:data:`HELD_ROW`) and rows never to be sent by a session
    (:data:`NOT_SENT_ROW`), each only when it holds rows. A session's bar is on the scale of its
    own rows, the others' on the campaign's ``scale`` (:func:`_session_row`)."""
    per_session: dict[int | None, dict[str, int]] = {}
    for (session_id, status), n in ResultTally.objects.for_campaign(campaign.pk).items():
        per_session.setdefault(session_id, {})[status] = n
    ids = set(campaign.sessions.values_list("pk", flat=True)) | {k for k in per_session if k}
    sessions = [
        _session_row(s, per_session.get(s.pk, {}), now, scale)
        for s in TelegramSession.objects.filter(pk__in=ids)
    ]
    pool = per_session.get(None, {})
    # Rows of no session: those that wait for one, those that wait for staff (the winner), and
    # those no session was ever to send: a row each, so none is said to wait for what it does not.
    waiting = {s: n for s, n in pool.items() if s in OPEN_STATUSES}
    shut = {ResultStatus.PENDING: _shut_out(campaign, waiting.get(ResultStatus.PENDING, 0), now)}
    waiting[ResultStatus.PENDING] = waiting.get(ResultStatus.PENDING, 0) - shut[ResultStatus.PENDING]
    held = {s: n for s, n in pool.items() if s == ResultStatus.HELD}
    rest = {s: n for s, n in pool.items() if s not in waiting and s not in held}
    rows = ((waiting, NO_SESSION), (shut, WINDOW_ROW), (held, HELD_ROW), (rest, NOT_SENT_ROW))
    for counts, name in rows:
        if any(counts.values()):
            sessions.append(_session_row(None, counts, now, scale, name))
    return sessions


def _shut_out(campaign: Campaign, pooled: int, now) -> int:
    """Of the ``pooled`` pending rows no session has taken, those whose recipient's send window is
    shut now (:data:`WINDOW_ROW`: they wait for their window, not for a session). One grouped read
    by zone, only under a send window with such rows."""
    if not pooled or not zones.campaign_has_window(campaign):
        return 0
    by_zone = dict(
        campaign.results.filter(status=ResultStatus.PENDING, session__isnull=True)
        .values_list("time_zone")
        .annotate(n=Count("id"))
        .order_by()
    )
    shown = window.open_zones(campaign.send_window_start, campaign.send_window_end, by_zone, now)
    return min(pooled, sum(n for zone, n in by_zone.items() if zone not in shown))


def _in_lists(campaign: Campaign) -> int | None:
    """The valid recipients of the lists of a campaign without rows that has not launched yet
    (before de-duplication across lists and suppressions); None once it could have rows."""
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.LAUNCHING):
        return None
    return campaign.lists.aggregate(n=Sum("valid_count"))["n"] or 0


def _in_segments(campaign: Campaign) -> int | None:
    """The people the segments of a campaign that has not launched yet choose now (a follow-up's
    draft has no list, only its segment); None without segments. A segment whose definition no
    longer holds counts nobody: the launch summary says why."""
    total = None
    for segment in campaign.segments.all():
        try:
            total = (total or 0) + segment.count()
        except SegmentInvalid:
            total = total or 0
    return total


def pace_snapshot(campaign: Campaign, remaining: int, now) -> dict:
    """Rate and ETA for a campaign that may still send: ``rate_per_minute`` (measured over the time
    it was sending lately, :func:`recent_rate`), ``not_sending`` ("not sending now: <why>", ""
    while it sends, :func:`not_sending`), ``allowed_per_minute`` (what its sessions' pace allows
    it now), ``finish_at`` (ISO) and ``eta`` ("about 6 min, 10:47 CET") for the ``remaining``
    messages, ``waits`` (sentences: what holds it back; before the launch, what refuses it too).
    Empty values for a finished campaign."""
    empty = {
        "rate_per_minute": None,
        "not_sending": "",
        "allowed_per_minute": None,
        "finish_at": None,
        "eta": "",
        "waits": [],
    }
    if campaign.status not in ACTIVE_CAMPAIGN_STATUSES + (CampaignStatus.PAUSED, CampaignStatus.DRAFT):
        return empty
    paces = forecast.session_paces(campaign, now)
    if campaign.status == CampaignStatus.DRAFT:
        return empty | _draft_pace(campaign, remaining, paces, now)
    finish = forecast.finish_at(remaining, paces, now) if remaining else None
    start = max(now, campaign.scheduled_at) if campaign.status == CampaignStatus.SCHEDULED else now
    if finish and start > now:
        finish = forecast.finish_at(remaining, paces, start)
    openings = []
    if campaign.status == CampaignStatus.RUNNING and zones.campaign_has_window(campaign):
        openings = forecast.window_openings(campaign, zones.waiting_by_zone(campaign), now)
        finish = forecast.finish_in_windows(openings, paces, now) if finish and openings else finish
    waits = forecast.waits(campaign, paces, now)
    rate = recent_rate(campaign, now)
    paused = campaign.status == CampaignStatus.PAUSED
    # Paused, it sends nothing whatever is left (a hold-out is no open row): never "Sending at".
    idle = not_sending(campaign, paces, openings, waits, now) if remaining or paused else ""
    allowed = _per_minute(paces, now)
    if paused and allowed:
        then = "once the winner is chosen" if "choose the winner" in idle else "once resumed"
        idle += f" (its sessions' pace allows {allowed:.10g}/min {then})"
    return {
        "rate_per_minute": None if idle else rate,
        "not_sending": idle,
        "allowed_per_minute": allowed,
        "finish_at": finish.isoformat() if finish else None,
        "eta": _eta(campaign, remaining, finish, now),
        "waits": waits,
    }


def _eta(campaign: Campaign, remaining: int, finish, now) -> str:
    """The ETA line of a launched campaign, for people."""
    if campaign.status == CampaignStatus.PAUSED and campaign.waits_for_winner(campaign.counts()):
        return "waiting for you to choose the winner of the A/B test: the held messages are sent after you choose it"
    if campaign.status == CampaignStatus.PAUSED:
        return "paused: no estimate until it is resumed"
    if remaining and finish is None:
        return "no estimate: no session can send"
    if finish is not None and remaining:
        messages = f"{remaining} message{'s' if remaining != 1 else ''} to go"
        if held := (campaign.counts().get(ResultStatus.HELD, 0) if not campaign.winner else 0):
            messages += f", then {held} held for the winner"
        return f"{messages}: {about((finish - now).total_seconds())}, done by {clock(finish, now)}"
    return ""


def _draft_pace(campaign: Campaign, in_lists: int, paces: list[forecast.SessionPace], now) -> dict:
    """Before the launch: how long it would take (:func:`.forecast.launch_estimate`, as the launch
    summary says it, the send window named when it makes most of the time) and what would hold it
    back or refuse it (a list whose zones are unknown under a send window, linked to its page)."""
    estimate = forecast.launch_estimate(campaign, in_lists, paces, now, forecast.launch_zones(campaign))
    eta = ""
    if estimate.finish_at and estimate.sent:
        took = about((estimate.finish_at - now).total_seconds())
        paced = about((estimate.paced_finish_at - now).total_seconds())
        start, end = campaign.send_window_start, campaign.send_window_end
        quiet = (
            f"the send window (quiet hours: {start:%H:%M}–{end:%H:%M} in each recipient's time zone)"
            if estimate.window_delay
            else ""
        )
        sending = (estimate.paced_finish_at - now).total_seconds()
        if estimate.window_delay > sending:  # the window, not the pace, makes it long
            eta = f"once launched, {took}, most of it waiting for {quiet}; the sending itself takes {paced} at its sessions' pace"
        elif estimate.window_delay:
            eta = f"once launched, {took} at its sessions' pace, {about(estimate.window_delay)} of it waiting for {quiet}"
        else:
            eta = f"once launched, {took} at its sessions' pace"
        if estimate.held:
            eta += f" (not counted: the {estimate.held} held for the winner of the A/B test)"
    blockers = [as_sentence(p) for p in zones.zone_problems(campaign)]
    return {
        "allowed_per_minute": _per_minute(paces, now),
        "eta": eta,
        "waits": blockers + forecast.waits(campaign, paces, now),
    }


def _per_minute(paces: list[forecast.SessionPace], now) -> float:
    """Messages a minute the sessions that may send now allow the campaign."""
    return round(sum(60 * p.per_second for p in paces if p.available_at <= now), 1)


# Minutes over which the sending rate is measured, and the least time it is measured over.
RATE_WINDOW_MINUTES = 5
RATE_MIN_SECONDS = 30
# A campaign that sent nothing for this long (or for three of its slowest session's intervals,
# when longer) is "not sending now".
IDLE_AFTER_SECONDS = 60


def recent_rate(campaign: Campaign, now) -> float | None:
    """Messages sent per minute while the campaign was sending lately: the sends of batches begun
    in the last :data:`RATE_WINDOW_MINUTES`, over the span from the first request to the last
    answer among them (from the attempt tally). Time after the last answer does not count, so the
    rate does not fall second by second while nothing is sent (:func:`not_sending` says so). None
    with nothing sent lately, or under :data:`RATE_MIN_SECONDS` of sending to measure."""
    since = now - timedelta(minutes=RATE_WINDOW_MINUTES)
    recent = AttemptTally.objects.filter(campaign_id=campaign.pk, first_started_at__gte=since).aggregate(
        sent=Sum("sent"), first=Min("first_started_at"), last=Max("last_finished_at")
    )
    if not recent["sent"] or recent["last"] is None:
        return None
    span = (min(recent["last"], now) - recent["first"]).total_seconds()
    if span < RATE_MIN_SECONDS:
        return None  # too early to measure: the pace allowed is shown instead
    return round(60.0 * recent["sent"] / span, 1)


def not_sending(
    campaign: Campaign,
    paces: list[forecast.SessionPace],
    openings: list[tuple],
    waits: list[str],
    now,
) -> str:
    """ "not sending now: <why>" for a campaign with messages left that sends nothing now, else "".
    It sends nothing when it is paused, when every message left waits for its send window to open
    (``openings``: :func:`.forecast.window_openings` of its waiting rows), or when nothing was sent
    for :data:`IDLE_AFTER_SECONDS` (or three of its slowest session's intervals); the reason is
    the window's next opening, else the first of ``waits``, else how long nothing was sent."""
    if campaign.status == CampaignStatus.PAUSED:
        if campaign.waits_for_winner(campaign.counts()):  # no Resume is offered: only the choice
            return "not sending now: waiting for you to choose the winner of the A/B test"
        return "not sending now: the campaign is paused"
    if campaign.status != CampaignStatus.RUNNING:
        return ""
    if openings and all(opens > now for opens, *_ in openings):
        return (
            "not sending now: every message left waits for its recipient's send window "
            f"(quiet hours); the next opens at {clock(openings[0][0], now)}"
        )
    last = AttemptTally.objects.filter(campaign_id=campaign.pk).aggregate(at=Max("last_finished_at"))["at"]
    since = last or campaign.launched_at
    slowest = max((p.interval for p in paces if p.usable), default=0.0)
    if since is None or (now - since).total_seconds() < max(IDLE_AFTER_SECONDS, 3 * slowest):
        return ""
    if waits:
        return f"not sending now: {waits[0][:1].lower()}{waits[0][1:].rstrip('.')}"
    return f"not sending now: nothing sent for {duration((now - since).total_seconds())}"


def winner_wait_seconds(campaign: Campaign) -> float:
    """Seconds an A/B test sent nothing while it waited for staff to choose its winner: from the
    test's last answer before the choice (its audit event, :data:`AuditAction.CAMPAIGN_WINNER`) to
    the first request after it. 0 without a winner, or one chosen by no recorded staff action. Two
    or three small aggregates, only once a winner is chosen."""
    if not campaign.winner:
        return 0.0
    chosen = AuditEvent.objects.filter(
        action=AuditAction.CAMPAIGN_WINNER, object_id=str(campaign.pk)
    ).aggregate(at=Min("at"))["at"]
    if chosen is None:
        return 0.0
    rows = AttemptTally.objects.filter(campaign_id=campaign.pk)
    before = rows.filter(last_finished_at__lte=chosen).aggregate(at=Max("last_finished_at"))["at"]
    after = rows.filter(first_started_at__gte=chosen).aggregate(at=Min("first_started_at"))["at"]
    if before is None or after is None:
        return 0.0
    return max(0.0, (after - before).total_seconds())


def metrics(campaign: Campaign) -> dict:
    """Operation metrics from the attempt tally:

    ``requests`` (sent to Telegram), ``retries``, ``flood_waits``, ``elapsed_seconds`` (first
    request to last answer, less ``winner_wait_seconds``: an A/B test's pause for its winner, see
    :func:`winner_wait_seconds`), ``sent_per_minute`` (over ``elapsed_seconds``), and per session
    ``requests``, ``sent`` and ``mean_latency_ms`` (request to answer).
    """
    rows = AttemptTally.per_session(campaign.pk)
    names = dict(
        TelegramSession.objects.filter(pk__in=[r["session_id"] for r in rows]).values_list("pk", "name")
    )
    firsts = [r["first_"] for r in rows if r["first_"]]
    lasts = [r["last_"] for r in rows if r["last_"]]
    elapsed = (max(lasts) - min(firsts)).total_seconds() if firsts and lasts else 0.0
    waited = winner_wait_seconds(campaign) if elapsed else 0.0
    elapsed = max(0.0, elapsed - waited)
    sent = sum(r["sent_"] for r in rows)
    return {
        "requests": sum(r["requests_"] for r in rows),
        "sent": sent,
        "retries": sum(r["retries_"] for r in rows),
        "flood_waits": sum(r["floods_"] for r in rows),
        "elapsed_seconds": round(elapsed, 3),
        "winner_wait_seconds": round(waited, 3),
        # Extrapolated from a few seconds, a rate is noise: a session's first request goes out at
        # once, so 5 sends in 2 s read 150/min beside a pace of 90/min. Under RATE_MIN_SECONDS
        # (30 s: several intervals of a session at a typical 1–5 s delay) the count sent is shown.
        "sent_per_minute": round(60.0 * sent / elapsed, 1) if elapsed >= RATE_MIN_SECONDS else None,
        "above_pace": "",
        "sessions": [
            {
                "name": names.get(r["session_id"], "(deleted)"),
                "requests": r["requests_"],
                "sent": r["sent_"],
                "mean_latency_ms": round(r["latency_"] / r["requests_"], 1) if r["requests_"] else None,
            }
            for r in sorted(rows, key=lambda r: names.get(r["session_id"], ""))
        ],
    }
