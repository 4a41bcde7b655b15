"""The reads the send loop makes between claims: which sessions have rows pinned to them, when
the next pinned retry falls due, the claimed rows whose person opted out, and what is checked
right before each send: the suppressed user ids, and another row that reached the same user."""

from __future__ import annotations

from django.db.models import Min

from sessions_app import clock

from ..models import MessageResult, RecipientIdentity, ResultStatus, Suppression


def pinned_session_ids(campaign_ids: list[int], session_ids: list[int]) -> set[tuple[int, int]]:
    """(campaign id, session id) pairs that have pending rows pinned to the session (in doubt:
    only that session may re-send them)."""
    return set(
        MessageResult.objects.filter(
            campaign_id__in=campaign_ids, session_id__in=session_ids, status=ResultStatus.PENDING
        )
        .values_list("campaign_id", "session_id")
        .distinct()
    )


def next_pinned_dues(asks: list[tuple[tuple[int, ...], int]]) -> list[float | None]:
    """For each (campaign ids, session id) ask: seconds until the next retry pinned to the session
    in those campaigns falls due, None when it has none. One grouped read per set of campaigns:
    a slice's sessions ask at once as a campaign's pool runs dry."""
    by_campaigns: dict[tuple[int, ...], dict[int, object]] = {}
    for campaign_ids in {ids for ids, _sid in asks}:
        session_ids = [sid for ids, sid in asks if ids == campaign_ids]
        rows = MessageResult.objects.filter(
            campaign_id__in=campaign_ids, session_id__in=session_ids, status=ResultStatus.PENDING
        )
        by_campaigns[campaign_ids] = dict(
            rows.order_by()
            .values("session_id")
            .annotate(m=Min("next_attempt_at"))
            .values_list("session_id", "m")
        )
    now = clock.now()
    found: list[float | None] = []
    for campaign_ids, sid in asks:
        due = by_campaigns[campaign_ids].get(sid)  # as the aggregate: None when no row has a time
        found.append(None if due is None else max(0.0, (due - now).total_seconds()))
    return found


def suppressed_user_ids() -> set[int]:
    """The user ids on the suppression list, for the check right before each send: a person who
    opted out as @name or by id resolves to that id, whatever key the list holds them under."""
    keys = Suppression.objects.filter(key__regex=r"^[0-9]+$").values_list("key", flat=True)
    return {int(k) for k in keys}


def reached_by_another_row(campaign_id: int, peer_id: int, row_id: int) -> str | None:
    """The key of another row of the campaign that already reached Telegram user ``peer_id``
    (sent, or possibly sent: unknown), or None. One person listed under two keys — @name in one
    list, the user id or phone in another — is one recipient once resolved (result_campaign_peer_idx)."""
    return (
        MessageResult.objects.filter(
            campaign_id=campaign_id,
            peer_id=peer_id,
            status__in=(ResultStatus.SENT, ResultStatus.SENDING, ResultStatus.UNKNOWN),
        )
        .exclude(pk=row_id)
        .values_list("key", flat=True)
        .first()
    )


def reached_peers(campaign_id: int, since=None) -> set[int]:
    """The Telegram user ids the campaign's rows reached (sent, sending, unknown), or only those
    of rows sent at or after ``since``: what a slice holds in memory for the same-person check
    (an index-only read of result_campaign_peer_idx)."""
    rows = MessageResult.objects.filter(
        campaign_id=campaign_id,
        peer_id__isnull=False,
        status__in=(ResultStatus.SENT, ResultStatus.SENDING, ResultStatus.UNKNOWN),
    )
    if since is not None:
        rows = rows.filter(sent_at__gte=since)
    return set(rows.values_list("peer_id", flat=True).iterator(chunk_size=10_000))


def suppressed_rows(rows) -> set[int]:
    """The ids of ``rows`` (anything with ``id``, ``key`` and ``recipient_id``) whose person is on
    the suppression list under any identity their list gives them: the key, or another identity
    of the recipient row (a phone next to the @username that is the key). Two indexed reads."""
    rows = list(rows)
    if not rows:
        return set()
    keys = set(Suppression.objects.filter(key__in={r.key for r in rows}).values_list("key", flat=True))
    recipients = set(
        RecipientIdentity.objects.filter(
            recipient_id__in={r.recipient_id for r in rows if r.recipient_id},
            key__in=Suppression.objects.values("key"),
        ).values_list("recipient_id", flat=True)
    )
    return {r.id for r in rows if r.key in keys or (r.recipient_id and r.recipient_id in recipients)}
