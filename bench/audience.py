"""Benchmark: segments at 1,000,000 recipients and 1,000,000 results — a segment's count (fields,
numbers as numbers, a tag; and "did not read a campaign within 1 h"), and a launch from a segment
(the segment evaluated inside the launch's INSERT … SELECT): seconds and peak memory.

    .venv/bin/python bench/audience.py [--recipients 1000000]      (add DATABASE_URL=postgres://…)

The list: every recipient with a ``city`` (one in five Berlin) and a ``total_spent`` (one in ten
"n/a"), one in ten tagged VIP. The campaign before: every recipient sent to, half by a user
session and half by a bot; of the user session's rows four in ten read (half of them after more
than an hour), one in ten replied.
"""

from __future__ import annotations

import argparse
import resource
import statistics
from datetime import timedelta

from common import make_campaign, make_sessions, now, throwaway_database

CITIES = ("Berlin", "Hamburg", "Munich", "Vienna", "Zurich")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_people(n: int):
    """The list (:data:`CITIES`, totals, "n/a" one in ten) and its VIP tags, written in bulk."""
    from campaigns.engine.sql import insert_rows
    from campaigns.models import Recipient, RecipientList, RecipientTag, Tag

    rl = RecipientList.objects.create(
        name=f"people {n}", consent_basis="opt_in", total_rows=n, valid_count=n, report={"columns": ["city"]}
    )
    columns = ("recipient_list_id", "row_number", "raw_value", "key", "kind", "status", "error", "fields")

    def row(i: int) -> tuple:
        key = f"@bench_user_{i:07d}"
        spent = "n/a" if i % 10 == 9 else str((i * 37) % 500)
        return (
            rl.pk,
            i + 2,
            key,
            key,
            "username",
            "valid",
            "",
            {"city": CITIES[i % 5], "total_spent": spent},
        )

    insert_rows(Recipient, columns, (row(i) for i in range(n)))
    vip = Tag.objects.named(["VIP"])[0]
    ids = (
        Recipient.objects.filter(recipient_list=rl)
        .order_by("id")
        .values_list("id", flat=True)
        .iterator(50_000)
    )
    insert_rows(
        RecipientTag,
        ("recipient_id", "tag_id", "created_at"),
        ((pk, vip.pk, rl.created_at) for pk in ids if pk % 10 == 0),
    )
    return rl


def make_sent_campaign(rl, user, bot):
    """A completed campaign with one sent row per recipient (see the module)."""
    from django.utils import timezone

    from campaigns.engine.sql import insert_rows
    from campaigns.models import Campaign, MessageResult, Recipient

    campaign = make_campaign(rl, [user, bot], status="completed")
    Campaign.objects.filter(pk=campaign.pk).update(finished_at=timezone.now())
    sent = timezone.now() - timedelta(days=1)
    columns = (
        "campaign_id", "recipient_id", "key", "dedupe_key", "kind", "fields", "status", "session_id",
        "random_id", "error_code", "error_text", "attempts", "in_doubt", "claimed_by", "created_at",
        "updated_at", "sent_at", "read_at", "replied_at",
    )  # fmt: skip

    def row(i: int, pk: int, key: str) -> tuple:
        by_user = i % 2 == 0
        read = sent + timedelta(minutes=5 if i % 10 < 4 else 90) if by_user and i % 10 < 8 else None
        replied = read + timedelta(minutes=1) if read and i % 10 == 0 else None
        session = user.pk if by_user else bot.pk
        return (
            campaign.pk,
            pk,
            key,
            key,
            "username",
            {},
            "sent",
            session,
            i,
            "",
            "",
            1,
            False,
            "",
            sent,
            sent,
            sent,
            read,
            replied,
        )

    rows = (
        Recipient.objects.filter(recipient_list=rl).order_by("id").values_list("id", "key").iterator(50_000)
    )
    insert_rows(MessageResult, columns, (row(i, pk, key) for i, (pk, key) in enumerate(rows)))
    return campaign


def timed_count(segment, runs: int = 3) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(runs):
        t0 = now()
        n = segment.count()
        times.append(now() - t0)
    return statistics.median(times), n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipients", type=int, default=1_000_000)
    args = p.parse_args()
    from django.db import connection

    from campaigns import engine
    from campaigns.models import Segment

    with throwaway_database() as vendor:
        user = make_sessions(1, delay=1.0, latency_ms=(0, 0), kind="user")[0]
        user.name = "bench-user"
        user.save()
        bot = make_sessions(1, delay=1.0, latency_ms=(0, 0), kind="bot")[0]
        t0 = now()
        rl = make_people(args.recipients)
        first = make_sent_campaign(rl, user, bot)
        if vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        made = now() - t0
        fields = Segment.objects.create(
            name="Berlin spenders, not VIP",
            definition={
                "fields": [
                    {"field": "city", "op": "is", "value": "berlin"},
                    {"field": "total_spent", "op": "gte", "value": 100},
                ],
                "tags": [{"tag": "VIP", "has": False}],
            },
        )
        unread = Segment.objects.create(
            name="did not read within 1 h",
            definition={"engagement": [{"event": "not_read", "campaign": first.pk, "within_hours": 1}]},
        )
        fields_s, fields_n = timed_count(fields)
        unread_s, unread_n = timed_count(unread)
        t0 = now()
        sample = unread.sample()
        unread.explain(sample)
        sample_s = now() - t0
        follow_up = make_campaign(rl, [user])
        follow_up.lists.clear()
        follow_up.segments.set([unread])
        before = peak_rss_mib()
        t0 = now()
        counts = engine.launch(follow_up, enqueue=False)
        took = now() - t0
        print(
            f"audience [{vendor}] recipients={args.recipients} results={args.recipients} "
            f"count(fields+tag)={fields_s:.2f}s ({fields_n} people) "
            f"count(not read within 1 h)={unread_s:.2f}s ({unread_n} people) "
            f"sample of {len(sample)} with why={sample_s:.2f}s "
            f"launch from the segment={took:.1f}s ({counts['total']} rows) "
            f"peak_rss={peak_rss_mib():.0f} MiB (before launch {before:.0f} MiB; setup {made:.1f}s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
