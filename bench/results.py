"""Benchmark 5: reading a campaign of 1,000,000 results — the results changelist (all, filtered,
searched, sorted, deep pages), the campaign page and its progress JSON (server time, through
Django's test client, median of a few requests), and the whole-campaign CSV export (rows/s and
peak memory of the process).

    .venv/bin/python bench/results.py [--recipients 1000000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tgcampaigns .venv/bin/python bench/results.py

The deep page is page 2001 (rows 200,001 to 200,100 of a million), or the last page of a smaller
campaign; the search looks for the recipient in the middle.
"""

from __future__ import annotations

import argparse
import math
import resource
import statistics

from common import make_campaign, make_list, make_sessions, now, throwaway_database


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sent_campaign(recipients: int):
    """A launched campaign of ``recipients`` results from 10 simulated sessions, its outcomes
    filled in (:func:`fill`): the data every page benchmark reads. Returns (campaign, sessions)."""
    from campaigns import engine

    sessions = make_sessions(10, delay=1.0, latency_ms=(0, 0))
    campaign = make_campaign(make_list(recipients), sessions)
    engine.launch(campaign, enqueue=False)
    fill(campaign, sessions)
    return campaign, sessions


def fill(campaign, sessions) -> None:
    """Outcomes for the rows, set-based: 90% sent, 5% failed with one of five codes, 5% pending."""
    from django.db import connection
    from django.utils import timezone

    from campaigns.models import MessageResult

    table = MessageResult._meta.db_table
    ids = [s.pk for s in sessions]
    modulo = "%" if connection.vendor == "sqlite" else "%%"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = 'sent', session_id = %s + (id {modulo} %s), sent_at = %s, "
            f"telegram_message_id = id, attempts = 1 WHERE campaign_id = %s AND id {modulo} 20 NOT IN (0, 1)",
            [ids[0], len(ids), timezone.now(), campaign.pk],
        )
        cursor.execute(
            f"UPDATE {table} SET status = 'failed', session_id = %s, attempts = 1, "
            f"error_code = CASE id {modulo} 5 WHEN 0 THEN 'USER_PRIVACY_RESTRICTED' WHEN 1 THEN 'USER_IS_BLOCKED' "
            f"WHEN 2 THEN 'PEER_ID_INVALID' WHEN 3 THEN 'USERNAME_NOT_OCCUPIED' ELSE 'INPUT_USER_DEACTIVATED' END, "
            f"error_text = 'refused' WHERE campaign_id = %s AND id {modulo} 20 = 1",
            [ids[0], campaign.pk],
        )
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")  # as autovacuum would after a day of sending


DEEP_PAGE = 2001  # of a million results, a page far from both ends


def deep_page(recipients: int, per_page: int) -> int:
    """The page the deep probe reads (1-based, as the changelist's ``?p=``): :data:`DEEP_PAGE`, or
    the last page of a campaign of ``recipients`` results with fewer pages (at least 1)."""
    return max(1, min(DEEP_PAGE, math.ceil(recipients / per_page)))


def timed(client, url: str, runs: int = 5) -> float:
    """Median server time of GET ``url`` in milliseconds (the response body read in full)."""
    times = []
    for _ in range(runs):
        t0 = now()
        response = client.get(url)
        b"".join(response.streaming_content) if response.streaming else response.content
        times.append((now() - t0) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipients", type=int, default=1_000_000)
    args = p.parse_args()
    from django.contrib.auth.models import User
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from campaigns.admin.result_admin import MessageResultAdmin
    from campaigns.models import CampaignStatus

    setup_test_environment()
    with throwaway_database() as vendor:
        campaign, sessions = sent_campaign(args.recipients)
        campaign.__class__.objects.filter(pk=campaign.pk).update(status=CampaignStatus.RUNNING)
        User.objects.create_superuser("bench", "bench@example.com", "bench-password-1")
        client = Client()
        client.login(username="bench", password="bench-password-1")
        results = reverse("admin:campaigns_messageresult_changelist")
        deep = deep_page(args.recipients, MessageResultAdmin.list_per_page)
        pages = {
            "results, all": results,
            "results, one campaign": f"{results}?campaign__id__exact={campaign.pk}",
            "results, failed": f"{results}?campaign__id__exact={campaign.pk}&status__exact=failed",
            "results, one error code": f"{results}?campaign__id__exact={campaign.pk}&error_code=USER_IS_BLOCKED",
            "results, searched": f"{results}?q=%40bench_user_{args.recipients // 2:07d}",
            "results, sorted by sent time": f"{results}?o=-9",
            f"results, page {deep}": f"{results}?p={deep}",
            "campaign page": reverse("admin:campaigns_campaign_change", args=[campaign.pk]),
            "campaign list": reverse("admin:campaigns_campaign_changelist"),
            "progress.json": reverse("campaigns:progress", args=[campaign.pk]),
        }
        for name, url in pages.items():
            print(f"results [{vendor}] {name}: {timed(client, url):.0f} ms", flush=True)
        before = peak_rss_mib()
        t0 = now()
        response = client.get(reverse("campaigns:export", args=[campaign.pk]))
        lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
        took = now() - t0
        print(
            f"results [{vendor}] export: {lines - 1} rows in {took:.1f}s ({(lines - 1) / took:.0f} rows/s), "
            f"peak RSS {peak_rss_mib():.0f} MiB (before the export {before:.0f} MiB)",
            flush=True,
        )


if __name__ == "__main__":
    main()
