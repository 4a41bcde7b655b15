"""Benchmark: a person's page at 1,000,000 recipients and 1,000,000 results (issue 20: ≤ 200 ms on
PostgreSQL) — the page of one person who is on two lists under two identities, with sends,
reads and a reply; the search that finds them by a phone however written (it redirects to the
page) and by the start of a name; and tagging every row of the million-row list at once (the
recipients' *Add tags…* with "select all"). Server time through Django's test client, median of
a few requests.

    .venv/bin/python bench/person.py [--recipients 1000000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tgcampaigns .venv/bin/python bench/person.py
"""

from __future__ import annotations

import argparse

from common import QueryCounter, make_campaign, make_list, make_sessions, now, throwaway_database
from results import fill, timed

PHONE = "+4915123456701"


def make_person(big_list, sessions, middle: int):
    """The person: row ``middle`` of the big list (@bench_user_…) with their phone as a second
    identity, also on a small list by the phone alone, sent a second campaign there, with a read
    and a reply. Returns their big-list row."""
    from django.utils import timezone

    from campaigns import engine
    from campaigns.models import MessageResult, Recipient, RecipientIdentity, RecipientList, Reply

    row = Recipient.objects.get(recipient_list=big_list, row_number=middle + 2)
    Recipient.objects.filter(pk=row.pk).update(name_key="ann bench", surname_key="bench")
    RecipientIdentity.objects.create(recipient=row, key=PHONE, kind="phone")
    small = RecipientList.objects.create(
        name="customers", consent_basis="customer", total_rows=1, valid_count=1
    )
    small.report = {"columns": ["first_name"]}
    small.save()
    Recipient.objects.create(
        recipient_list=small,
        row_number=2,
        raw_value=PHONE,
        key=PHONE,
        kind="phone",
        fields={"first_name": "Ann"},
    )
    second = make_campaign(small, sessions[:1])
    engine.launch(second, enqueue=False)
    sent = MessageResult.objects.filter(key__in=[row.key, PHONE])
    sent.update(
        status="sent",
        sent_at=timezone.now(),
        read_at=timezone.now(),
        session=sessions[0],
        telegram_message_id=1,
    )
    first = sent.first()
    Reply.objects.create(
        campaign=first.campaign, result=first, session=sessions[0], peer_id=1, message_id=2, text="Thanks",
        received_at=timezone.now(),
    )  # fmt: skip
    return row


def explain_timeline(row) -> None:
    from django.db.models import Q

    from campaigns.models import MessageResult
    from campaigns.people.persons import identities_and_rows

    keys, ids = identities_and_rows({row.key})
    query = MessageResult.objects.filter(Q(key__in=keys) | Q(recipient_id__in=ids)).order_by(
        "-created_at", "-id"
    )
    print(query[:201].explain(analyze=True))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipients", type=int, default=1_000_000)
    p.add_argument("--explain", action="store_true", help="print the plan of the timeline's query")
    args = p.parse_args()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from campaigns import engine
    from campaigns.models import Recipient
    from campaigns.people import tagging

    setup_test_environment()
    with throwaway_database() as vendor:
        t0 = now()
        sessions = make_sessions(10, delay=1.0, latency_ms=(0, 0))
        big = make_list(args.recipients)
        campaign = make_campaign(big, sessions)
        engine.launch(campaign, enqueue=False)
        fill(campaign, sessions)
        row = make_person(big, sessions, args.recipients // 2)
        t1 = now()
        _, added = tagging.add_tags(Recipient.objects.filter(recipient_list=big), ["Everyone"])
        print(
            f"person [{vendor}] tag every row of the list: {added:,} rows in {now() - t1:.1f} s", flush=True
        )
        if vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        print(f"person [{vendor}] data built in {now() - t0:.0f} s", flush=True)
        User.objects.create_superuser("bench", "bench@example.com", "bench-password-1")
        client = Client()
        client.login(username="bench", password="bench-password-1")
        search = reverse("admin:campaigns_person_changelist")
        pages = {
            "person page": reverse("admin:campaigns_person_page", args=[row.pk]),
            "search by name (start)": f"{search}?q=ann+be",
            "tag list (rows per tag)": reverse("admin:campaigns_tag_changelist"),
        }
        for name, url in pages.items():
            print(f"person [{vendor}] {name}: {timed(client, url):.0f} ms", flush=True)
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            client.get(pages["person page"])
        print(f"person [{vendor}] person page: {counter.count} queries", flush=True)
        if args.explain:
            explain_timeline(row)
        t1, runs = now(), 5
        for _ in range(runs):
            assert client.get(search, {"q": "0049 151 2345 6701"}).status_code == 302
        print(
            f"person [{vendor}] search by phone (to the redirect): {(now() - t1) / runs * 1000:.0f} ms",
            flush=True,
        )


if __name__ == "__main__":
    main()
