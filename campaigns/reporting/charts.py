"""The campaign page's charts as data: sends over time (per session), the split by session, and
failures by error code with a plain explanation and a link to those results. Every figure comes
from the maintained tallies (:class:`AttemptTally` by minute, :class:`ResultTally` by session,
status and error code): the charts refresh while a campaign runs and never read its results."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from sessions_app.models import TelegramSession

from ..models import AttemptTally, Campaign, ResultStatus, ResultTally
from .errorcodes import explain

# Bucket sizes (minutes) for sends over time: the smallest that keeps at most MAX_BUCKETS bars.
BUCKET_MINUTES = (1, 5, 15, 60, 360, 1440)
MAX_BUCKETS = 60
# Colours for sessions, in order (the progress bar's green first).
PALETTE = ("#2e7d32", "#1565c0", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457", "#558b2f", "#4e342e")


def chart_data(campaign: Campaign, *, with_links: bool) -> dict:
    """``over_time`` ({labels, datasets: [{label, data, colour}], bucket}), ``per_session``
    ({labels, sent, failed}), ``errors`` ([{code, count, explanation, retry, url}]; ``url`` the
    results filtered to that code, "" without ``with_links``)."""
    names = dict(TelegramSession.objects.values_list("pk", "name"))
    return {
        "over_time": _over_time(campaign, names),
        "per_session": _per_session(campaign, names),
        "errors": _errors(campaign, with_links),
    }


def _bucket(first: datetime, last: datetime) -> int:
    span = (last - first).total_seconds() / 60 + 1
    return next((m for m in BUCKET_MINUTES if span / m <= MAX_BUCKETS), BUCKET_MINUTES[-1])


def _over_time(campaign: Campaign, names: dict[int, str]) -> dict:
    rows = AttemptTally.per_minute(campaign.pk)
    if not rows:
        return {"labels": [], "datasets": [], "bucket": ""}
    first, last = rows[0]["minute"], rows[-1]["minute"]
    minutes = _bucket(first, last)
    size = timedelta(minutes=minutes)
    start = first - timedelta(minutes=first.minute % minutes if minutes < 60 else first.minute)
    count = int((last - start) / size) + 1
    sessions = sorted({r["session_id"] for r in rows}, key=lambda sid: names.get(sid, ""))
    data = {sid: [0] * count for sid in sessions}
    for r in rows:
        data[r["session_id"]][int((r["minute"] - start) / size)] += r["sent"] or 0
    fmt = "%H:%M" if minutes < 1440 else "%Y-%m-%d"
    labels = [timezone.localtime(start + i * size).strftime(fmt) for i in range(count)]
    return {
        "labels": labels,
        "datasets": [
            {"label": names.get(sid, "(deleted)"), "data": data[sid], "colour": PALETTE[i % len(PALETTE)]}
            for i, sid in enumerate(sessions)
        ],
        "bucket": f"{minutes} min" if minutes < 60 else f"{minutes // 60} h",
        "zone": timezone.localtime(start).tzname(),
    }


def _per_session(campaign: Campaign, names: dict[int, str]) -> dict:
    sent: dict[str, int] = {}
    failed: dict[str, int] = {}
    for (session_id, status), n in ResultTally.objects.for_campaign(campaign.pk).items():
        if session_id is None:
            continue
        name = names.get(session_id, "(deleted)")
        if status == ResultStatus.SENT:
            sent[name] = sent.get(name, 0) + n
        elif status == ResultStatus.FAILED:
            failed[name] = failed.get(name, 0) + n
    labels = sorted(set(sent) | set(failed))
    return {
        "labels": labels,
        "sent": [sent.get(n, 0) for n in labels],
        "failed": [failed.get(n, 0) for n in labels],
    }


def _errors(campaign: Campaign, with_links: bool) -> list[dict]:
    base = reverse("admin:campaigns_messageresult_changelist")
    found = []
    for code, n in ResultTally.objects.errors(
        campaign.pk, (ResultStatus.FAILED, ResultStatus.UNKNOWN)
    ).items():
        explained = explain(code)
        query = urlencode({"campaign__id__exact": campaign.pk, "error_code": code})
        found.append(
            {
                "code": code,
                "count": n,
                "explanation": explained.explanation,
                "retry": explained.retry,
                "url": f"{base}?{query}" if with_links else "",
            }
        )
    return found
