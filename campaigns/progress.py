"""A campaign's progress as plain data: counts per status, per session, and bar segments.

Used by the campaign change page (first render) and by the progress JSON view (refreshes), so the
page and its updates can never disagree. Two grouped queries per call, whatever the campaign size.
"""

from __future__ import annotations

from django.db.models import Avg, Count, F, Max, Min, Q
from django.utils import timezone

from sessions_app.models import TelegramSession

from .models import OPEN_STATUSES, Campaign, CampaignStatus, DeliveryAttempt, Recipient, ResultStatus

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
ACTIVE_CAMPAIGN_STATUSES = (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING)


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
        "name": session.name if session else "(not assigned)",
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
    ``in_lists`` (a draft or scheduled campaign without rows, else None): the distinct valid
    recipients of its lists, what a launch would send to before suppressions."""
    now = timezone.now()
    counts = campaign.counts()
    total = counts.pop("total")
    per_session: dict[int | None, dict[str, int]] = {}
    grouped = campaign.results.values_list("session_id", "status").annotate(n=Count("id")).order_by()
    for session_id, status, n in grouped:
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
    if not total and campaign.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        valid = Recipient.objects.filter(recipient_list__campaigns=campaign, status=Recipient.Status.VALID)
        in_lists = valid.values("key").distinct().count()
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
    """Operation metrics from the DeliveryAttempt log (one grouped query, one aggregate):

    ``requests`` (sent to Telegram), ``retries``, ``flood_waits``, ``elapsed_seconds`` (first request
    to last answer), ``sent_per_minute``, and per session ``requests``, ``sent`` and
    ``mean_latency_ms`` (request to answer).
    """
    attempts = DeliveryAttempt.objects.filter(result__campaign=campaign)
    span = attempts.aggregate(first=Min("started_at"), last=Max("finished_at"))
    per_session = (
        attempts.values("session__name")
        .annotate(
            requests=Count("id"),
            sent=Count("id", filter=Q(outcome__in=("sent", "duplicate"))),
            retries=Count("id", filter=Q(outcome="retry")),
            floods=Count("id", filter=Q(outcome="flood")),
            latency=Avg(F("finished_at") - F("started_at")),
        )
        .order_by("session__name")
    )
    rows = list(per_session)
    elapsed = (span["last"] - span["first"]).total_seconds() if span["first"] else 0.0
    sent = sum(r["sent"] for r in rows)
    return {
        "requests": sum(r["requests"] for r in rows),
        "sent": sent,
        "retries": sum(r["retries"] for r in rows),
        "flood_waits": sum(r["floods"] for r in rows),
        "elapsed_seconds": round(elapsed, 3),
        "sent_per_minute": round(60.0 * sent / elapsed, 1) if elapsed > 0 else 0.0,
        "sessions": [
            {
                "name": r["session__name"] or "(deleted)",
                "requests": r["requests"],
                "sent": r["sent"],
                "mean_latency_ms": round(r["latency"].total_seconds() * 1000, 1) if r["latency"] else None,
            }
            for r in rows
        ],
    }
