"""Benchmark: the after-the-send report of a campaign of 1,000,000 results
(campaigns.reporting.report) — server time of building it (no cache), of report.json served from
the cache, and the campaign page.

    .venv/bin/python bench/report.py [--recipients 1000000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tgcampaigns .venv/bin/python bench/report.py
"""

from __future__ import annotations

import argparse
import statistics

from common import now, throwaway_database
from results import sent_campaign, timed


def after_send(campaign, sessions) -> None:
    """Half the sessions are user accounts; a third of their messages read, a tenth of all sent
    replied to, variants A and B alternating, spread over two days."""
    from django.db import connection

    from campaigns.models import MessageResult, Reply
    from sessions_app.models import TelegramSession

    TelegramSession.objects.filter(pk__in=[s.pk for s in sessions[: len(sessions) // 2]]).update(kind="user")
    users = ",".join(str(s.pk) for s in sessions[: len(sessions) // 2])
    table = MessageResult._meta.db_table
    mod = "%" if connection.vendor == "sqlite" else "%%"
    if connection.vendor == "sqlite":
        shift = "datetime(sent_at, '+' || (id {m} 2880) || ' minutes')"
    else:
        shift = "sent_at + (id {m} 2880) * interval '1 minute'"
    shift = shift.format(m=mod)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET variant = CASE WHEN id {mod} 2 = 0 THEN 'A' ELSE 'B' END, sent_at = {shift} "
            f"WHERE campaign_id = %s AND status = 'sent'",
            [campaign.pk],
        )
        cursor.execute(
            f"UPDATE {table} SET read_at = sent_at WHERE campaign_id = %s AND status = 'sent' "
            f"AND id {mod} 3 = 0 AND session_id IN ({users})",
            [campaign.pk],
        )
        cursor.execute(
            f"UPDATE {table} SET replied_at = sent_at, reply_count = 1 WHERE campaign_id = %s "
            f"AND status = 'sent' AND id {mod} 10 = 0",
            [campaign.pk],
        )
    Reply.objects.bulk_create(
        Reply(campaign=campaign, result=r, session_id=r.session_id, peer_id=r.pk, message_id=1, text="STOP",
              received_at=r.replied_at, is_opt_out=True)
        for r in MessageResult.objects.filter(campaign=campaign, replied_at__isnull=False)[:2000]
    )  # fmt: skip
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipients", type=int, default=1_000_000)
    args = p.parse_args()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.urls import reverse

    from campaigns.models import CampaignStatus
    from campaigns.reporting.report import build_report

    setup_test_environment()
    with throwaway_database() as vendor:
        campaign, sessions = sent_campaign(args.recipients)
        after_send(campaign, sessions)
        campaign.__class__.objects.filter(pk=campaign.pk).update(status=CampaignStatus.COMPLETED)
        campaign.refresh_from_db()
        times = []
        for _ in range(3):
            t0 = now()
            with CaptureQueriesContext(connection) as queries:
                report = build_report(campaign)
            times.append((now() - t0) * 1000)
        overall = report["overall"]
        print(
            f"report [{vendor}] built without cache: {statistics.median(times):.0f} ms "
            f"(median of 3, {len(queries)} queries); sent {overall['sent']}, read rate "
            f"{overall['read_rate_display']}, reply rate {overall['reply_rate_display']}, "
            f"opt-out rate {overall['opt_out_rate_display']}, {len(report['over_time']['labels'])} "
            f"{report['over_time']['bucket']} buckets",
            flush=True,
        )
        for q in queries:
            print(f"  {float(q['time']) * 1000:.0f} ms  {q['sql'][:140]}")
        User.objects.create_superuser("bench", "bench@example.com", "bench-password-1")
        client = Client()
        client.login(username="bench", password="bench-password-1")
        url = reverse("campaigns:report", args=[campaign.pk])
        print(f"report [{vendor}] report.json from the cache: {timed(client, url):.0f} ms", flush=True)
        page = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
        print(f"report [{vendor}] campaign page (report cached): {timed(client, page):.0f} ms", flush=True)
        import campaigns.admin.campaign_change_page as campaign_change_page

        campaign_change_page.after_send_report = lambda campaign: None
        print(f"report [{vendor}] campaign page without the report: {timed(client, page):.0f} ms", flush=True)


if __name__ == "__main__":
    main()
