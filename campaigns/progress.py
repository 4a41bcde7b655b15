"""A campaign's progress as plain data: counts per status, per session, and bar segments.

Used by the campaign change page (first render) and by the progress JSON view (refreshes), so the
page and its updates can never disagree. Every figure comes from the maintained tallies
(:class:`ResultTally`, :class:`AttemptTally`): a fixed handful of small queries, whatever the
campaign's size.
"""

from __future__ import annotations

from django.db.models import Sum
from django.utils import timezone

from sessions_app.models import TelegramSession

from .models import OPEN_STATUSES, AttemptTally, Campaign, CampaignStatus, ResultStatus, ResultTally

# Bar order and colours: finished outcomes first (left), work still to do last (right).
STATUS_ORDER = [
    ResultStatus.SENT,
    ResultStatus.FAILED,
    ResultStatus.UNKNOWN,
    ResultStatus.SKIPPED,
    ResultStatus.CANCELLED,
    ResultStatus.SENDING,
    ResultStatus.CLAIMED,
    ResultStatus.PENDING,
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
}
ACTIVE_CAMPAIGN_STATUSES = (CampaignStatus.SCHEDULED, CampaignStatus.LAUNCHING, CampaignStatus.RUNNING)


def segments(counts: dict[str, int], total: int) -> list[dict]:
    """Bar segments for ``counts`` (status → rows): label, count, width percent, colour."""
    out = []
    for status in STATUS_ORDER:
        n = counts.get(status, 0)
        out.append(
            {
                "status": str(status),
                "label": ResultStatus(status).label,
                "count": n,
                "percent": round(100.0 * n / total, 2) if total else 0.0,
                "colour": STATUS_COLOURS[status],
            }
        )
    return out


def _session_row(session: TelegramSession | None, counts: dict[str, int], now) -> dict:
    total = sum(counts.values())
    row = {
        "id": session.pk if session else None,
        "name": session.name if session else "(waiting for a session)",
        "simulated": bool(session and session.is_simulated),
        "status": session.get_status_display() if session else "",
        "current_load": session.current_load if session else 0,
        "flood_wait_seconds": round(session.flood_wait_left(now)) if session else 0,
        "last_error": session.last_error_code if session else "",
        "counts": {s: counts.get(s, 0) for s in ResultStatus.values},
        "total": total,
        "segments": segments(counts, total),
    }
    return row


def progress_snapshot(campaign: Campaign) -> dict:
    """Everything the progress block shows. ``counts`` holds every status (zeros included) and
    adds up to ``total``; ``sessions`` lists the campaign's sessions plus any other session that
    holds rows (after re-balancing), and rows not yet assigned as a session of its own.

    ``deliverable``: rows not skipped (invalid, duplicate, suppressed); ``done``: those of them
    settled, i.e. sent, failed, unknown or cancelled; ``percent_done``: done of deliverable.
    ``in_lists`` (a draft or scheduled campaign without rows, else None): the valid recipients of
    its lists (before de-duplication across lists and suppressions)."""
    now = timezone.now()
    counts = campaign.counts()
    total = counts.pop("total")
    per_session: dict[int | None, dict[str, int]] = {}
    for (session_id, status), n in ResultTally.objects.for_campaign(campaign.pk).items():
        per_session.setdefault(session_id, {})[status] = n
    ids = set(campaign.sessions.values_list("pk", flat=True)) | {k for k in per_session if k}
    sessions = [
        _session_row(s, per_session.get(s.pk, {}), now) for s in TelegramSession.objects.filter(pk__in=ids)
    ]
    if per_session.get(None):
        sessions.append(_session_row(None, per_session[None], now))
    deliverable = total - counts[ResultStatus.SKIPPED]
    done = deliverable - sum(counts[s] for s in OPEN_STATUSES)
    in_lists = None
    if not total and campaign.status in (
        CampaignStatus.DRAFT,
        CampaignStatus.SCHEDULED,
        CampaignStatus.LAUNCHING,
    ):
        in_lists = campaign.lists.aggregate(n=Sum("valid_count"))["n"] or 0
    return {
        "campaign": campaign.pk,
        "status": campaign.status,
        "status_display": campaign.get_status_display(),
        "status_reason": campaign.status_reason,
        "active": campaign.status in ACTIVE_CAMPAIGN_STATUSES,
        "counts": counts,
        "total": total,
        "in_lists": in_lists,
        "deliverable": deliverable,
        "done": done,
        "percent_done": round(100.0 * done / deliverable, 1) if deliverable else 0.0,
        "segments": segments(counts, total),
        "sessions": sessions,
        "metrics": metrics(campaign),
        "updated_at": now.isoformat(),
    }


def metrics(campaign: Campaign) -> dict:
    """Operation metrics from the attempt tally:

    ``requests`` (sent to Telegram), ``retries``, ``flood_waits``, ``elapsed_seconds`` (first request
    to last answer), ``sent_per_minute``, and per session ``requests``, ``sent`` and
    ``mean_latency_ms`` (request to answer).
    """
    rows = AttemptTally.per_session(campaign.pk)
    names = dict(
        TelegramSession.objects.filter(pk__in=[r["session_id"] for r in rows]).values_list("pk", "name")
    )
    firsts = [r["first_"] for r in rows if r["first_"]]
    lasts = [r["last_"] for r in rows if r["last_"]]
    elapsed = (max(lasts) - min(firsts)).total_seconds() if firsts and lasts else 0.0
    sent = sum(r["sent_"] for r in rows)
    return {
        "requests": sum(r["requests_"] for r in rows),
        "sent": sent,
        "retries": sum(r["retries_"] for r in rows),
        "flood_waits": sum(r["floods_"] for r in rows),
        "elapsed_seconds": round(elapsed, 3),
        "sent_per_minute": round(60.0 * sent / elapsed, 1) if elapsed > 0 else 0.0,
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
