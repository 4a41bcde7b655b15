"""Benchmark: the whole-campaign CSV export of 1,000,000 results against the database's own
``COPY … TO STDOUT`` of the same join with the same columns (values as stored, nothing
formatted), runs alternated: the ratio export rate ÷ COPY rate, and the process's memory.

    .venv/bin/python bench/export.py [--recipients 1000000] [--runs 3] [--python]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tgcampaigns .venv/bin/python bench/export.py

The export is read as a browser would, through the admin's export view (Django's test client,
the streamed body read in full). ``--python`` also times the Python formatter on the same rows
(the SQLite path, and PostgreSQL's for a campaign SQL cannot render alike). On SQLite there is
no ``COPY``: the export alone is timed.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics

from common import make_campaign, make_list, make_sessions, now, throwaway_database
from results import fill

# The export's join with its columns as stored (what COPY costs before any formatting).
RAW = (
    "SELECT r.key, rc.raw_value, rl.name, rc.row_number, r.kind, r.status, s.name, "
    "r.telegram_message_id, r.error_code, r.error_text, r.attempts, r.created_at, r.sending_at, "
    "r.sent_at, r.read_at, r.replied_at, r.reply_count, r.variant, r.fields "
    "FROM campaigns_messageresult r LEFT JOIN campaigns_recipient rc ON rc.id = r.recipient_id "
    "LEFT JOIN campaigns_recipientlist rl ON rl.id = rc.recipient_list_id "
    "LEFT JOIN sessions_app_telegramsession s ON s.id = r.session_id "
    "WHERE r.campaign_id = {pk} ORDER BY r.id"
)


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def raw_copy(pk: int) -> float:
    """Seconds of ``COPY (RAW) TO STDOUT WITH CSV`` into /dev/null."""
    from django.db import connection

    t0 = now()
    with open(os.devnull, "wb") as sink, connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY ({RAW.format(pk=pk)}) TO STDOUT WITH (FORMAT csv)", sink)
    return now() - t0


def through_view(client, url: str) -> tuple[float, int]:
    """(seconds, lines) of GET ``url`` with its streamed body read in full."""
    t0 = now()
    response = client.get(url)
    lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
    return now() - t0, lines


def python_formatter(campaign) -> float:
    from campaigns.reporting import exports

    t0 = now()
    for _ in exports._python_csv_bytes(exports.result_rows(campaign.results.all()), counted=False):
        pass
    return now() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipients", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--python", action="store_true", help="also time the Python formatter")
    args = p.parse_args()
    from django.contrib.auth.models import User
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from campaigns import engine

    setup_test_environment()
    with throwaway_database() as vendor:
        sessions = make_sessions(10, delay=1.0, latency_ms=(0, 0))
        recipients = make_list(args.recipients)
        # As an import records a list's columns (the bench's list is written directly).
        recipients.report = {"columns": ["first_name"]}
        recipients.save(update_fields=["report"])
        campaign = make_campaign(recipients, sessions)
        engine.launch(campaign, enqueue=False)
        fill(campaign, sessions)
        User.objects.create_superuser("bench", "bench@example.com", "bench-password-1")
        client = Client()
        client.login(username="bench", password="bench-password-1")
        url = reverse("campaigns:export", args=[campaign.pk])
        n = args.recipients
        copies, exports_, pythons = [], [], []
        before = rss_mib()
        for _ in range(args.runs):
            if vendor == "postgresql":
                copies.append(raw_copy(campaign.pk))
            took, lines = through_view(client, url)
            assert lines >= n, (lines, n)
            exports_.append(took)
            if args.python:
                pythons.append(python_formatter(campaign))
        export = statistics.median(exports_)
        line = f"export [{vendor}] {n:,} rows: export {export:.2f}s ({n / export:,.0f} rows/s)"
        if copies:
            copy = statistics.median(copies)
            line += (
                f", raw COPY {copy:.2f}s ({n / copy:,.0f} rows/s), ratio export/COPY rate {copy / export:.2f}"
            )
        if pythons:
            python = statistics.median(pythons)
            line += f", Python formatter {python:.2f}s ({n / python:,.0f} rows/s)"
        print(line, flush=True)
        print(
            f"export [{vendor}] memory: {before:.0f} MiB before the exports, {rss_mib():.0f} MiB after, "
            f"peak {peak_rss_mib():.0f} MiB; runs: export {[round(t, 2) for t in exports_]}, "
            f"COPY {[round(t, 2) for t in copies]}, Python {[round(t, 2) for t in pythons]}",
            flush=True,
        )


if __name__ == "__main__":
    main()
