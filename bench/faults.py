"""Faults at scale: a campaign on two real ``qcluster`` processes (workers ``faults-a`` and
``faults-b``) while the simulator injects FloodWaits and transient errors, and one kind of fault
hits them again and again (issue 18):

- default: one worker SIGKILLed at random points and restarted (``--faults`` times);
- ``--freeze SECONDS``: one worker SIGSTOPped for SECONDS, then SIGCONTinued (a VM pause, a long
  GC, a swapped-out host): the other takes its sessions over; on waking it must send nothing more;
- ``--db-restart``: the database goes away for ``--outage`` seconds (new connections refused,
  every worker's connection cut, as a PostgreSQL restart does), then comes back;
- ``--clock-skew SECONDS``: worker ``faults-b``'s wall clock runs SECONDS off (no other fault);
  compare its time to finish with a run without skew (goal: within 1.2x).

Needs PostgreSQL and Redis (the django-q2 Redis broker), named the usual way::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tgc REDIS_URL=redis://127.0.0.1:6379/11 \\
        .venv/bin/python bench/faults.py [--recipients 20000] [--faults 50] [--seed 11] \\
        [--freeze 20 | --db-restart [--outage 10] | --clock-skew 300]

The database is a throwaway one (``test_<name>``, created and dropped like the other benchmarks);
the broker's queue is a cluster name of its own, emptied at the end. The simulator's ledger
(``SimulatedDelivery``, one row per delivered ``random_id`` per session, written by the send)
is the proof, and triggers note every lease change (take, renewal, release) and every
request's attempt with the worker that wrote it (its connection's ``application_name``), on the
database's clock. At the end it prints

- duplicates: recipients the ledger shows delivered more than once (must be 0);
- lost: recipients without a final outcome, and rows marked sent that the ledger never saw
  (must be 0);
- sends on an expired lease: requests started when the session's lease (its latest change before
  the start) had expired or was the other worker's (must be 0);
- re-sends after a freeze: requests a frozen worker started after it woke on sessions it no
  longer held (beyond the requests already on the wire when it froze; must be 0);
- time to finish, and whether the counts add up: sent + failed + skipped + unknown + cancelled =
  recipients, sent = ledger deliveries, and the maintained tallies equal the rows.
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
    """One ``qcluster`` process group named ``name`` (bench/skewed_worker.py: its lease owners'
    host and its connections' application_name), its wall clock ``skew`` seconds off. Started in
    its own session, so SIGKILL/SIGSTOP take its django-q2 children with it."""

    def __init__(self, name: str, env: dict[str, str], log, skew: float = 0.0):
        self.name = name
        self.env = env
        self.log = log
        self.skew = skew
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "bench/skewed_worker.py", self.name, str(self.skew), "qcluster"],
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

    def signal(self, sig: int) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        if self.proc is None:
            return
        self.signal(signal.SIGCONT)  # a stopped group would not die before it runs again
        self.signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None


# Every lease change (take, renewal, release) and every request's attempt as written, with who
# wrote it (its connection's application_name) and when, on the database's clock.
WITNESS_SQL = """
CREATE TABLE bench_lease (
    id bigserial PRIMARY KEY, session_id bigint, owner text, expires timestamptz,
    at timestamptz DEFAULT clock_timestamp());
CREATE TABLE bench_attempt (
    id bigserial PRIMARY KEY, session_id bigint, app text, started_at timestamptz,
    at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION bench_note_lease() RETURNS trigger AS $$ BEGIN
  INSERT INTO bench_lease (session_id, owner, expires)
  VALUES (NEW.id, NEW.lease_owner, NEW.lease_expires_at);
  RETURN NEW; END $$ LANGUAGE plpgsql;
CREATE FUNCTION bench_note_attempt() RETURNS trigger AS $$ BEGIN
  INSERT INTO bench_attempt (session_id, app, started_at)
  VALUES (NEW.session_id, current_setting('application_name'), NEW.started_at);
  RETURN NEW; END $$ LANGUAGE plpgsql;
CREATE TRIGGER bench_note_lease AFTER UPDATE OF lease_owner, lease_expires_at
  ON sessions_app_telegramsession FOR EACH ROW EXECUTE FUNCTION bench_note_lease();
CREATE TRIGGER bench_note_attempt AFTER INSERT ON campaigns_deliveryattempt
  FOR EACH ROW EXECUTE FUNCTION bench_note_attempt();
"""
# Requests started when the session's lease (its latest change before the start) was not the
# starting worker's, or had expired: the worker's name is the host part of its lease owners.
UNLEASED_SQL = """
SELECT count(*) FROM bench_attempt a
WHERE a.started_at > %s AND a.app LIKE %s AND NOT EXISTS (
  SELECT 1 FROM (
    SELECT owner, expires FROM bench_lease l
    WHERE l.session_id = a.session_id AND l.at <= a.started_at ORDER BY l.at DESC LIMIT 1
  ) latest
  WHERE split_part(latest.owner, ':', 2) = a.app AND latest.expires >= a.started_at)
"""


def install_witness() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(WITNESS_SQL)


def witnessed(freezes: list[tuple[str, object]]) -> dict:
    """Requests started on an expired (or the other worker's) lease, in all; and those a frozen
    worker started after its freeze (a request on the wire when it froze started before it)."""
    from django.db import connection

    epoch = "-infinity"
    with connection.cursor() as cursor:
        cursor.execute(UNLEASED_SQL, [epoch, "%"])
        unleased = cursor.fetchone()[0]
        resent = 0
        for app, stopped_at in freezes:
            cursor.execute(UNLEASED_SQL, [stopped_at, app])
            resent += cursor.fetchone()[0]
    return {"expired_lease_sends": unleased, "resent_after_freeze": resent}


def database_now():
    from sessions_app.clock import database_now as now

    return now()


def cut_the_database(seconds: float) -> None:
    """A database restart as the workers see it: new connections refused and every worker's
    connection cut, for ``seconds``, on this benchmark's throwaway database only."""
    import psycopg2
    from django.db import connection

    s = connection.settings_dict
    name = s["NAME"]
    # From the server's maintenance database: a database cannot refuse its own connections.
    admin = psycopg2.connect(
        dbname="postgres",
        user=s["USER"],
        password=s.get("PASSWORD") or None,
        host=s["HOST"] or "localhost",
        port=s["PORT"] or 5432,
    )
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
            )
            time.sleep(seconds)
            cursor.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    finally:
        admin.close()
    connection.close()  # the benchmark's own connection was cut too


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


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipients", type=int, default=20_000)
    p.add_argument("--faults", "--kills", type=int, default=50, dest="faults", help="faults to inject")
    p.add_argument("--sessions", type=int, default=4)
    p.add_argument("--send-delay", type=float, default=0.05, help="seconds between a session's requests")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--max-minutes", type=float, default=30)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--freeze", type=float, metavar="SECONDS", help="SIGSTOP a worker this long")
    mode.add_argument("--db-restart", action="store_true", help="cut the database for --outage s")
    mode.add_argument("--clock-skew", type=float, metavar="SECONDS", help="worker faults-b's clock off")
    p.add_argument("--outage", type=float, default=5.0, help="seconds the database is away (--db-restart)")
    p.add_argument("--log", default="/tmp/tgc-faults-qcluster.log", help="the qcluster processes' output")
    return p.parse_args()


def inject(args, clusters: list[Cluster], rng: random.Random, freezes: list) -> None:
    """One fault of the chosen kind."""
    victim = rng.choice(clusters)
    if args.freeze:
        freezes.append((victim.name, database_now()))
        victim.signal(signal.SIGSTOP)
        time.sleep(args.freeze)
        victim.signal(signal.SIGCONT)
    elif args.db_restart:
        cut_the_database(args.outage)
    else:
        victim.kill()
        victim.start()


def main() -> None:
    args = parse_args()
    if not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("faults.py needs DATABASE_URL=postgres://… and REDIS_URL=redis://…")
    from django_q.tasks import async_task

    from campaigns import engine
    from campaigns.models import CampaignStatus

    rng = random.Random(args.seed)
    kind = (
        "freeze"
        if args.freeze
        else "db-restart"
        if args.db_restart
        else "skew"
        if args.clock_skew
        else "kill"
    )
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
        install_witness()
        sessions = make_sessions(args.sessions, args.seed, args.send_delay)
        campaign = make_campaign(make_list(args.recipients), sessions, max_attempts=10)
        engine.launch(campaign, enqueue=False)
        log = open(args.log, "ab")
        # SIGTERM ends the run through the ``finally`` below, so no worker outlives it.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
        clusters = [Cluster("faults-a", env, log), Cluster("faults-b", env, log, skew=args.clock_skew or 0.0)]
        for c in clusters:
            c.start()
        t0 = time.monotonic()
        faults = mid_flight = 0
        freezes: list = []
        try:
            time.sleep(3)  # both clusters up
            for c in clusters:
                c.check()
            async_task("campaigns.tasks.drive_campaign", campaign.pk)
            while kind != "skew" and faults < args.faults:
                time.sleep(rng.uniform(1.0, 4.0))
                campaign.refresh_from_db()
                if campaign.status != CampaignStatus.RUNNING:
                    break
                for c in clusters:
                    c.check()
                mid_flight += campaign.results.filter(status__in=("claimed", "sending")).exists()
                inject(args, clusters, rng, freezes)
                faults += 1
            fault_phase = time.monotonic() - t0
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
        report(args, vendor, kind, campaign, faults, mid_flight, fault_phase, wall, witnessed(freezes))
        from django.db import connection
        from django_q.brokers import get_broker

        get_broker().delete_queue()

        with connection.cursor() as cursor:  # killed workers may leave sessions open
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


def report(args, vendor, kind, campaign, faults, mid_flight, fault_phase, wall, seen) -> None:
    r = tally(campaign)
    adds_up = (
        r["total"] == args.recipients
        and r["open"] == 0
        and r["rows"].get("sent", 0) == r["deliveries"] - r["delivered_not_sent"]
        and r["tally_matches"]
    )
    what = ""
    if kind == "freeze":
        what = f"freeze={args.freeze:g}s"
    elif kind == "db-restart":
        what = f"db outage={args.outage:g}s"
    elif kind == "skew":
        what = f"clock skew={args.clock_skew:+g}s (faults-b)"
    print(
        f"faults [{vendor}+redis] {kind} {what} recipients={args.recipients} sessions={args.sessions} "
        f"faults={faults} (with rows claimed or in flight: {mid_flight}) fault phase={fault_phase:.0f}s "
        f"time to finish={wall:.0f}s status={campaign.status}\n"
        f"  rows {dict(sorted(r['rows'].items()))} ledger deliveries={r['deliveries']}\n"
        f"  requests by outcome {dict(sorted(r['attempts'].items()))}\n"
        f"  duplicates={r['duplicates']} lost={r['open'] + r['sent_unseen']} "
        f"(open={r['open']}, sent but not delivered={r['sent_unseen']}) "
        f"delivered but not marked sent={r['delivered_not_sent']} "
        f"sends on an expired lease={seen['expired_lease_sends']} "
        f"re-sends after a freeze={seen['resent_after_freeze']} "
        f"counts add up={'yes' if adds_up else 'NO'}",
        flush=True,
    )


if __name__ == "__main__":
    main()
