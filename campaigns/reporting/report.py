"""After the send: what became of a campaign's messages — read, replied, opted out — overall, by
A/B variant, by session, by recipient list and over time, as plain data for the campaign page
and its ``report.json``.

Wording the figures keep (issue 12):

- **Reads** are known only for messages sent by user accounts: Telegram tells a bot nothing about
  reads. A read rate's denominator is the messages *user sessions* sent; a bot session's read rate
  is "not available for bots", never 0%.
- A message without a read mark is "read status hidden or not yet read" (people may hide their read
  status), never "unread".
- A variant's rates on fewer than :data:`MIN_SAMPLE` sent messages are shown with "too few to
  compare" and the sample size, not hidden: nobody crowns a winner on 12 recipients.

Cost: a handful of set-based aggregate queries, whatever the campaign's size — one GROUP BY over
the campaign's results by (session, variant) for the overall, variant and session figures (and the
list's, for a campaign of one list), one by (list, session) joined to the recipients for a
campaign of several lists, and one per series of the chart over time — each reading
the campaign's rows through ``result_campaign_idx``/``result_status_idx``; opt-outs are matched
with uncorrelated sub-queries (hashed once, not probed per row). The report is cached for
:data:`CACHE_SECONDS` per campaign and time zone, so the page's refresh is cheap.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.db.models import Case, Count, F, Max, Min, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Mod, TruncDay, TruncHour
from django.db.models.lookups import GreaterThanOrEqual, LessThan
from django.utils import timezone

from sessions_app.models import SessionKind, TelegramSession

from ..content.variants import hold_range
from ..models import Campaign, CampaignStatus, MessageResult, RecipientList, Reply, ResultStatus, Suppression

# A variant's rates on fewer sent messages than this are labelled "too few to compare".
MIN_SAMPLE = 100
# How long a report is reused (seconds): the page refreshes every few seconds while sending.
CACHE_SECONDS = 20
# Over time: hourly buckets while everything happened within this span, else daily.
HOURLY_SPAN = timedelta(hours=72)

NOT_FOR_BOTS = "not available for bots"
HIDDEN_OR_NOT_YET = "read status hidden or not yet read"
TOO_FEW = "too few to compare"
NOTHING_SENT = "—"

# Results counted: sent and failed (held rows wait for the winner and are not sent).
COUNTED = (ResultStatus.SENT, ResultStatus.FAILED, ResultStatus.HELD)


def cache_key(campaign: Campaign) -> str:
    """The report's cache entry: per campaign and viewer's time zone (the chart's buckets are cut
    in it), and per state of the campaign — its status and winner, its rows per status (the
    maintained tally, no COUNT over the rows) and its replies (an index-only count) — so a row sent,
    failed or released, or a reply, makes a new report at once. Read marks change none of these:
    they show within :data:`CACHE_SECONDS`. Two small queries."""
    campaign.refresh_from_db(fields=["status", "winner"])
    counts = campaign.counts()
    tally = ".".join(str(counts[s]) for s in ResultStatus.values)
    replies = Reply.objects.filter(campaign_id=campaign.pk).count()
    zone = timezone.get_current_timezone_name()
    return f"tgc:report:{campaign.pk}:{zone}:{campaign.status}:{campaign.winner}:{tally}:{replies}"


def polling(campaign: Campaign, now: datetime | None = None) -> str:
    """How the campaign page refreshes its report: "live" while the campaign may still send,
    "after" once it finished within ``TGC_AFTER_SEND_DAYS`` (reads and replies are still caught up
    then: :func:`campaigns.engine.engagement.after_send_days`), "" after that (nothing changes)."""
    from ..engine.engagement import after_send_days

    if campaign.is_live or campaign.status == CampaignStatus.LAUNCHING:
        return "live"
    if campaign.status not in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
        return ""
    now = now or timezone.now()
    if campaign.finished_at is None or campaign.finished_at >= now - timedelta(days=after_send_days()):
        return "after"
    return ""


def after_send_report(campaign: Campaign, *, fresh: bool = False) -> dict:
    """What became of ``campaign``'s messages, cached for :data:`CACHE_SECONDS` while nothing is
    sent, settled or replied (:func:`cache_key`; ``fresh``: build it anew and cache that).

    Returns ``{"campaign", "overall", "by_variant", "by_session", "by_list", "over_time",
    "min_sample", "updated_at"}``:

    - ``overall``: :func:`figures` (sent, failed, read, replied, opted out with rates) plus
      ``held`` (A/B hold-out rows waiting for the winner; never counted as sent) and
      ``replies`` (every reply, a person may send several).
    - ``by_variant``: one :func:`figures` per variant label ("A"–"D") with ``variant``, ``n``
      (the sample: messages sent) and ``too_few`` / ``note`` when ``n`` < :data:`MIN_SAMPLE`;
      empty when the campaign has no variants. The test only: rows of the hold-out that the
      winner was sent to afterwards are in ``winner_release``, not in their variant's row.
    - ``winner_release``: :func:`figures` of the hold-out's rows once the winner went to them,
      with ``variant`` (the winner) and ``n``; None before (or without a hold-out).
    - ``by_session``: per session, ``name``, ``kind`` ("user" | "bot" | "" when deleted) and
      :func:`figures`; a bot's read rate says :data:`NOT_FOR_BOTS`.
    - ``by_list``: per recipient list, ``name`` and :func:`figures`.
    - ``over_time``: ``{"bucket": "hour" | "day", "zone", "labels", "sent", "read", "replied"}``,
      counts per bucket (sent by ``sent_at``, read by ``read_at``, first replies by
      ``replied_at``), in the current time zone.
    """
    key = cache_key(campaign)
    if not fresh:
        cached = cache.get(key)
        if cached is not None:
            return cached
    report = build_report(campaign)
    cache.set(key, report, CACHE_SECONDS)
    return report


def build_report(campaign: Campaign) -> dict:
    """:func:`after_send_report` without the cache."""
    results = MessageResult.objects.filter(campaign_id=campaign.pk)
    tallies = _tally(
        results.annotate(listed=_LISTED, released=_released(campaign)),
        ("session_id", "variant", "listed", "released"),
        _opted_out(campaign),
    )
    sessions = {
        s["pk"]: s
        for s in TelegramSession.objects.filter(pk__in={t["session_id"] for t in tallies}).values(
            "pk", "name", "kind"
        )
    }
    for t in tallies:
        t["kind"] = sessions.get(t["session_id"], {}).get("kind", "")

    overall = figures(_sum(tallies))
    overall["held"] = sum(t["held"] for t in tallies)
    overall["replies"] = sum(t["replies"] or 0 for t in tallies)

    by_variant = _by_variant(campaign, tallies)

    winner_release = None
    released = [t for t in tallies if t["released"]]
    if released:
        winner_release = figures(_sum(released))
        winner_release["variant"] = campaign.winner
        winner_release["n"] = winner_release["sent"]

    return {
        "campaign": campaign.pk,
        "overall": overall,
        "by_variant": by_variant,
        "winner_release": winner_release,
        "by_session": _by_session(sessions, tallies),
        "by_list": _by_list(results, campaign, sessions, tallies),
        "over_time": _over_time(results, tallies),
        "min_sample": MIN_SAMPLE,
        "updated_at": timezone.now().isoformat(),
    }


def _by_variant(campaign: Campaign, tallies: list[dict]) -> list[dict]:
    """The A/B test's figures per variant that sent or failed, before the winner's release; a
    variant with fewer than :data:`MIN_SAMPLE` sent says so (``too_few``, ``note``)."""
    by_variant = []
    if campaign.variants or any(t["variant"] for t in tallies):
        tested = [t for t in tallies if not t["released"]]
        for label in sorted({t["variant"] for t in tested if t["variant"] and (t["sent"] or t["failed"])}):
            row = figures(_sum(t for t in tested if t["variant"] == label))
            row["variant"] = label
            row["n"] = row["sent"]
            row["too_few"] = row["n"] < MIN_SAMPLE
            row["note"] = (
                f"{TOO_FEW} (n = {row['n']}, fewer than {MIN_SAMPLE} sent)" if row["too_few"] else ""
            )
            by_variant.append(row)
    return by_variant


def _by_session(sessions: dict[int, dict], tallies: list[dict]) -> list[dict]:
    """The figures per session that sent or failed, by name ("(deleted session)" for one gone)."""
    by_session = []
    for session_id in {t["session_id"] for t in tallies if t["sent"] or t["failed"]}:
        row = figures(_sum(t for t in tallies if t["session_id"] == session_id))
        info = sessions.get(session_id)
        row["name"] = info["name"] if info else "(deleted session)"
        row["kind"] = info["kind"] if info else ""
        by_session.append(row)
    by_session.sort(key=lambda r: r["name"])
    return by_session


def _released(campaign: Campaign):
    """Whether a row is one of the hold-out the winner was sent to: a row of the winner's variant
    whose bucket is the hold-out's (:func:`~campaigns.content.variants.hold_range`; the split is
    fixed at launch and the bucket depends on the row's id alone, so no field records it)."""
    buckets = hold_range(campaign.split or {}) if campaign.winner else None
    if buckets is None:
        return Value(False)
    lower, upper = buckets
    bucket = Mod(F("id") * 37, 100)  # campaigns.engine.sql.BUCKET_SQL
    held = Q(variant=campaign.winner) & GreaterThanOrEqual(bucket, lower) & LessThan(bucket, upper)
    return Case(When(held, then=Value(True)), default=Value(False))


def _opted_out(campaign: Campaign) -> Q:
    """Sent rows whose recipient opted out after the send: a reply recorded as an opt-out, or a
    suppression made from an opt-out reply (by the recipient's key) since the launch.

    Both are uncorrelated sub-queries (hashed once on PostgreSQL, not probed per row). A
    suppression matches on the key only: a recipient keyed by phone whose STOP reply was not
    recorded as a :class:`Reply` is known by their user id and username alone, so is not counted.
    """
    since = campaign.launched_at or campaign.created_at
    replies = Reply.objects.filter(campaign_id=campaign.pk, is_opt_out=True).values("result_id")
    stops = Suppression.objects.filter(source=Suppression.Source.STOP_REPLY, created_at__gte=since).values(
        "key"
    )
    return Q(pk__in=replies) | Q(key__in=stops)


def _tally(results: QuerySet[MessageResult], group: tuple[str, ...], opted_out: Q) -> list[dict]:
    """One GROUP BY over ``results`` by ``group``: per group the counts :func:`figures` needs plus
    first and last times for the chart's span."""
    sent = Q(status=ResultStatus.SENT)
    return list(
        results.filter(status__in=COUNTED)
        .values(*group)
        .annotate(
            sent=Count("id", filter=sent),
            failed=Count("id", filter=Q(status=ResultStatus.FAILED)),
            held=Count("id", filter=Q(status=ResultStatus.HELD)),
            read=Count("id", filter=sent & Q(read_at__isnull=False)),
            replied=Count("id", filter=sent & Q(replied_at__isnull=False)),
            replies=Sum("reply_count", filter=sent),
            opted_out=Count("id", filter=sent & opted_out),
            first_sent=Min("sent_at", filter=sent),
            last_sent=Max("sent_at", filter=sent),
            last_read=Max("read_at", filter=sent),
            last_replied=Max("replied_at", filter=sent),
        )
        .order_by()
    )


def _sum(tallies) -> dict:
    """The counts of several groups added up; ``user_sent``: those sent by user sessions (a read
    rate's denominator), ``bot_sent``: by bots."""
    total = {"sent": 0, "failed": 0, "read": 0, "replied": 0, "opted_out": 0, "user_sent": 0, "bot_sent": 0}
    for t in tallies:
        for name in ("sent", "failed", "read", "replied", "opted_out"):
            total[name] += t[name]
        if t["kind"] == SessionKind.USER:
            total["user_sent"] += t["sent"]
        elif t["kind"] == SessionKind.BOT:
            total["bot_sent"] += t["sent"]
    return total


def rate(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent, one decimal; None when ``whole`` is 0."""
    return round(100.0 * part / whole, 1) if whole else None


def figures(counts: dict) -> dict:
    """Counts and rates, with the words to show for each rate.

    ``counts``: sent, failed, read, replied, opted_out, user_sent (sent by user sessions),
    bot_sent. Adds ``read_rate`` (read of ``user_sent``: only user accounts see reads),
    ``hidden_or_not_yet`` (user-sent messages without a read mark), ``reply_rate`` and
    ``opt_out_rate`` (of all sent), each rate a percentage or None, and ``*_display`` strings:
    "42.0%", :data:`NOT_FOR_BOTS` when only bots sent, :data:`NOTHING_SENT` when nothing was.
    """
    out = dict(counts)
    sent, user_sent = counts["sent"], counts["user_sent"]
    out["hidden_or_not_yet"] = user_sent - counts["read"]
    out["read_rate"] = rate(counts["read"], user_sent)
    out["reply_rate"] = rate(counts["replied"], sent)
    out["opt_out_rate"] = rate(counts["opted_out"], sent)
    if user_sent:
        out["read_rate_display"] = _percent(out["read_rate"])
    elif counts["bot_sent"]:
        out["read_rate_display"] = NOT_FOR_BOTS
    else:
        out["read_rate_display"] = NOTHING_SENT
    out["reply_rate_display"] = _percent(out["reply_rate"])
    out["opt_out_rate_display"] = _percent(out["opt_out_rate"])
    return out


def _percent(value: float | None) -> str:
    return NOTHING_SENT if value is None else f"{value:.1f}%"


# Whether a result still has its recipient (erasing a person or deleting a list leaves none).
_LISTED = Case(When(recipient_id__isnull=True, then=Value(False)), default=Value(True))
NO_LIST = "(no longer in a list)"


def _by_list(
    results: QuerySet[MessageResult], campaign: Campaign, sessions: dict, tallies: list[dict]
) -> list[dict]:
    """Figures per recipient list. A campaign of one list (its lists are fixed at launch) needs no
    query: its results with a recipient are that list's. Several lists: one GROUP BY (list,
    session) over the results joined to their recipients (the session tells whether reads count);
    at a million results that join is most of the report's time."""
    lists = list(campaign.lists.values_list("pk", "name")[:2])
    if len(lists) <= 1:
        rows = []
        for listed, name in ((True, lists[0][1] if lists else NO_LIST), (False, NO_LIST)):
            row = figures(_sum(t for t in tallies if t["listed"] == listed))
            if row["sent"] or row["failed"]:
                rows.append(row | {"name": name})
        return rows
    tallies = _tally(results, ("recipient__recipient_list_id", "session_id"), _opted_out(campaign))
    missing = {t["session_id"] for t in tallies} - set(sessions)
    if missing:  # a session that only failed in the first query's groups is known there already
        sessions = sessions | {
            s["pk"]: s for s in TelegramSession.objects.filter(pk__in=missing).values("pk", "name", "kind")
        }
    for t in tallies:
        t["kind"] = sessions.get(t["session_id"], {}).get("kind", "")
    list_ids = {t["recipient__recipient_list_id"] for t in tallies}
    names = dict(RecipientList.objects.filter(pk__in=list_ids).values_list("pk", "name"))
    rows = []
    for list_id in list_ids:
        group = [t for t in tallies if t["recipient__recipient_list_id"] == list_id]
        row = figures(_sum(group))
        if not (row["sent"] or row["failed"]):
            continue
        row["name"] = names.get(list_id, NO_LIST)
        rows.append(row)
    rows.sort(key=lambda r: r["name"])
    return rows


def _over_time(results: QuerySet[MessageResult], tallies: list[dict]) -> dict:
    """Sent, read and first replies per hour (everything within :data:`HOURLY_SPAN` of the first
    send, the span read from ``tallies``) or per day, in the current time zone: one GROUP BY per
    series."""
    zone = timezone.get_current_timezone()
    name = timezone.get_current_timezone_name()
    empty = {"bucket": "", "zone": name, "labels": [], "sent": [], "read": [], "replied": []}
    firsts = [t["first_sent"] for t in tallies if t["first_sent"]]
    if not firsts:
        return empty
    lasts = [t[c] for t in tallies for c in ("last_sent", "last_read", "last_replied") if t[c]]
    hourly = max(lasts) - min(firsts) <= HOURLY_SPAN
    sent = results.filter(status=ResultStatus.SENT)
    trunc, step = (TruncHour, timedelta(hours=1)) if hourly else (TruncDay, timedelta(days=1))

    def series(column: str) -> dict[datetime, int]:
        rows = (
            sent.filter(**{f"{column}__isnull": False})
            .annotate(bucket=trunc(column, tzinfo=zone))
            .values("bucket")
            .annotate(n=Count("id"))
            .order_by()
        )
        return {timezone.localtime(r["bucket"], zone): r["n"] for r in rows}

    columns = (("sent", "sent_at"), ("read", "read_at"), ("replied", "replied_at"))
    counts = {series_name: series(column) for series_name, column in columns}
    buckets = sorted(set().union(*counts.values()))
    if not buckets:
        return empty
    at, end = buckets[0], buckets[-1]
    keys = []
    while at <= end:
        keys.append(at)
        at = _next_bucket(at, step, zone)
    fmt = "%Y-%m-%d %H:%M" if hourly else "%Y-%m-%d"
    return {
        "bucket": "hour" if hourly else "day",
        "zone": name,
        "labels": [k.strftime(fmt) for k in keys],
        **{series_name: [found.get(k, 0) for k in keys] for series_name, found in counts.items()},
    }


def _next_bucket(at: datetime, step: timedelta, zone) -> datetime:
    """The start of the bucket after ``at`` in local time (a day is 23 or 25 hours across a DST
    change; an hour is always an hour)."""
    if step < timedelta(days=1):
        return timezone.localtime(at.astimezone(UTC) + step, zone)
    day = (at.replace(tzinfo=None) + step).replace(hour=0, minute=0, second=0, microsecond=0)
    return timezone.make_aware(day, zone)
