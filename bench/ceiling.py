"""Benchmark 2: the engine's own ceiling — zero latency, zero delay, in-memory simulator ledger —
in messages per second per worker process and database queries per message.

    .venv/bin/python bench/ceiling.py [--recipients 20000] [--sessions 10] [--mixed]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tgcampaigns .venv/bin/python bench/ceiling.py
"""

from __future__ import annotations

import argparse

from common import QueryCounter, make_campaign, make_list, make_sessions, now, throwaway_database


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipients", type=int, default=20_000)
    p.add_argument("--sessions", type=int, default=10)
    p.add_argument("--mixed", action="store_true", help="half the recipients by user id, half by @username")
    args = p.parse_args()
    from django.db import connection

    from campaigns import engine
    from campaigns.models import MessageResult

    with throwaway_database() as vendor:
        sessions = make_sessions(args.sessions, delay=0.0, latency_ms=(0, 0), ledger="memory")
        campaign = make_campaign(make_list(args.recipients, mixed=args.mixed), sessions)
        engine.launch(campaign, enqueue=False)
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            t0 = now()
            status = engine.run_until_done(campaign, max_seconds=3600)
            wall = now() - t0
        sent = MessageResult.objects.filter(campaign=campaign, status="sent").count()
        print(
            f"ceiling [{vendor}] sessions={args.sessions} recipients={args.recipients} sent={sent} "
            f"wall={wall:.2f}s rate={sent / wall:.0f} msg/s queries={counter.count} "
            f"queries/msg={counter.count / max(sent, 1):.3f} status={status}",
            flush=True,
        )


if __name__ == "__main__":
    main()
