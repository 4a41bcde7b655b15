"""Faults at scale: a campaign on two real ``qcluster`` processes, one SIGKILLed at random points
and restarted, many times, while the simulator injects FloodWaits and transient errors.

Needs PostgreSQL and Redis (the django-q2 Redis broker), named the usual way::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tgc REDIS_URL=redis://127.0.0.1:6379/11 \\
        .venv/bin/python bench/faults.py [--recipients 20000] [--kills 50] [--seed 11]

The database is a throwaway one (``test_<name>``, created and dropped like the other benchmarks);
the broker's queue is a cluster name of its own, emptied at the end. The simulator's ledger
(``SimulatedDelivery``, one row per delivered ``random_id`` per session, written by the send)
is the proof: at the end it prints

- duplicates: recipients the ledger shows delivered more than once (must be 0);
- lost: recipients without a final outcome, and rows marked sent that the ledger never saw
  (must be 0);
- whether the counts add up: sent + failed + skipped + unknown + cancelled = recipients, sent =
  ledger deliveries, and the maintained tallies (``Campaign.counts()``) equal the rows.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter

# Set before Django (and django-q2's Conf) reads the settings: a queue of its own on the broker,
# and one SECRET_KEY for this process and the workers (django-q2 signs the tasks with it).
os.environ.setdefault("Q_CLUSTER_NAME", f"tgc-faults-{os.getpid()}")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))

from common import ROOT, make_campaign, make_list, throwaway_database


def database_url() -> str:
    """The URL of the throwaway database the worker processes must reach."""
    from django.db import connection

    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{s['NAME']}"


class Cluster:
    """One ``manage.py qcluster`` process group (started in its own session, so SIGKILL takes
    its django-q2 children with it)."""

    def __init__(self, env: dict[str, str], log):
        self.env = env
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=self.log,
            stderr=self.log,
        )

    def check(self) -> None:
        """Exit the benchmark when the process ended by itself (see the log)."""
        if self.proc is not None and self.proc.poll() is not None:
            sys.exit(f"a qcluster exited with {self.proc.returncode}: see {self.log.name}")

    def kill(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        self.proc = None


def make_sessions(n: int, seed: int, send_delay: float):
    """``n`` simulated sessions with the database ledger, latency, FloodWaits and transient errors."""
    from sessions_app.models import Backend, SessionStatus, TelegramSession

    rng = random.Random(seed)
    return [
        TelegramSession.objects.create(
            name=f"faults-{i:02d}",
            kind="bot",
            backend=Backend.SIMULATOR,
            status=SessionStatus.ACTIVE,
            send_delay=send_delay,
            max_per_minute=0,
            daily_cap=0,
            simulator_config={
                "seed": rng.randrange(1 << 30),
                "latency_ms": [10, 80],
                "ledger": "db",
                "flood_rate": 0.002,
                "flood_seconds": [1, 5],
                "transient_rate": 0.02,
            },
        )
        for i in range(n)
    ]


def tally(campaign) -> dict:
    """The end state by the rows, the tallies and the simulator's ledger."""
    from django.db.models import Count

    from campaigns.models import DeliveryAttempt, ResultStatus
    from sessions_app.models import SimulatedDelivery

    rows = dict(campaign.results.values_list("status").annotate(n=Count("id")).order_by())
    per_key = Counter(
        SimulatedDelivery.objects.filter(session__in=campaign.sessions.all()).values_list(
            "peer_key", flat=True
        )
    )
    sent_keys = set(campaign.results.filter(status=ResultStatus.SENT).values_list("key", flat=True))
    final = {
        ResultStatus.SENT,
        ResultStatus.FAILED,
        ResultStatus.SKIPPED,
        ResultStatus.UNKNOWN,
        ResultStatus.CANCELLED,
    }
    counts = campaign.counts()
    attempts = dict(
        DeliveryAttempt.objects.filter(result__campaign=campaign)
        .values_list("outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {
        "attempts": attempts,
        "rows": rows,
        "total": sum(rows.values()),
        "duplicates": sum(1 for n in per_key.values() if n > 1),
        "open": sum(n for s, n in rows.items() if s not in final),
        "sent_unseen": len(sent_keys - set(per_key)),
        "delivered_not_sent": len(set(per_key) - sent_keys),
        "deliveries": sum(per_key.values()),
        "tally_matches": all(counts.get(s, 0) == rows.get(s, 0) for s in ResultStatus.values),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipients", type=int, default=20_000)
    p.add_argument("--kills", type=int, default=50)
    p.add_argument("--sessions", type=int, default=4)
    p.add_argument("--send-delay", type=float, default=0.05, help="seconds between a session's requests")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--max-minutes", type=float, default=30)
    p.add_argument("--log", default="/tmp/tgc-faults-qcluster.log", help="the qcluster processes' output")
    args = p.parse_args()
    if not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("faults.py needs DATABASE_URL=postgres://… and REDIS_URL=redis://…")
    from django_q.tasks import async_task

    from campaigns import engine
    from campaigns.models import CampaignStatus

    rng = random.Random(args.seed)
    with throwaway_database() as vendor:
        env = dict(
            os.environ,
            DATABASE_URL=database_url(),
            Q_WORKERS="2",
            Q_TIMEOUT="40",
            Q_RETRY="120",
            TGC_SLICE_SECONDS="8",
            TGC_SESSIONS_PER_DRIVER="2",
            TGC_LEASE_SECONDS="3",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        sessions = make_sessions(args.sessions, args.seed, args.send_delay)
        campaign = make_campaign(make_list(args.recipients), sessions, max_attempts=10)
        engine.launch(campaign, enqueue=False)
        log = open(args.log, "ab")
        # SIGTERM ends the run through the ``finally`` below, so no worker outlives it.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
        clusters = [Cluster(env, log), Cluster(env, log)]
        for c in clusters:
            c.start()
        t0 = time.monotonic()
        kills = mid_flight = 0
        try:
            time.sleep(3)  # both clusters up
            for c in clusters:
                c.check()
            async_task("campaigns.tasks.drive_campaign", campaign.pk)
            while kills < args.kills:
                time.sleep(rng.uniform(1.0, 4.0))
                campaign.refresh_from_db()
                if campaign.status != CampaignStatus.RUNNING:
                    break
                for c in clusters:
                    c.check()
                victim = rng.choice(clusters)
                victim.kill()
                kills += 1
                mid_flight += campaign.results.filter(status__in=("claimed", "sending")).exists()
                victim.start()
            kill_phase = time.monotonic() - t0
            deadline = time.monotonic() + args.max_minutes * 60
            while time.monotonic() < deadline:
                campaign.refresh_from_db()
                if campaign.status != CampaignStatus.RUNNING:
                    break
                time.sleep(1)
        finally:
            for c in clusters:
                c.kill()
        wall = time.monotonic() - t0
        campaign.refresh_from_db()
        r = tally(campaign)
        adds_up = (
            r["total"] == args.recipients
            and r["open"] == 0
            and r["rows"].get("sent", 0) == r["deliveries"] - r["delivered_not_sent"]
            and r["tally_matches"]
        )
        print(
            f"faults [{vendor}+redis] recipients={args.recipients} sessions={args.sessions} "
            f"kills={kills} (with rows claimed or in flight: {mid_flight}) kill phase={kill_phase:.0f}s "
            f"wall={wall:.0f}s status={campaign.status}\n"
            f"  rows {dict(sorted(r['rows'].items()))} ledger deliveries={r['deliveries']}\n"
            f"  requests by outcome {dict(sorted(r['attempts'].items()))}\n"
            f"  duplicates={r['duplicates']} lost={r['open'] + r['sent_unseen']} "
            f"(open={r['open']}, sent but not delivered={r['sent_unseen']}) "
            f"delivered but not marked sent={r['delivered_not_sent']} "
            f"counts add up={'yes' if adds_up else 'NO'}",
            flush=True,
        )
        from django.db import connection
        from django_q.brokers import get_broker

        get_broker().delete_queue()

        with connection.cursor() as cursor:  # killed workers may leave sessions open
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


if __name__ == "__main__":
    main()
