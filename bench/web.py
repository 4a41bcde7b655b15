"""Benchmark 8: pages under a team's load. One campaign of 1,000,000 results, the production web
process (gunicorn with ``tgcampaigns/gunicorn_conf.py``, 2 workers) on 127.0.0.1, and 20 clients
logged in as staff requesting one page as fast as it answers for a bounded time. Prints per page
requests per second, the p50/p95 latency, and the CPU each answer cost the web workers, the
database's server processes and this load generator's own 20 threads (milliseconds per answer:
what bounds the rate on a shared machine, whatever else runs); asserts nothing.

    .venv/bin/python bench/web.py [--recipients 1000000] [--clients 20] [--seconds 60]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tgcampaigns .venv/bin/python bench/web.py --keep

``--keep``: the database (Django's test database of ``DATABASE_URL``) is kept after the run and
its campaign reused by the next run with the same ``--recipients`` (building a million results
takes minutes). ``--code DIR``: gunicorn serves another checkout of the project (e.g. a worktree
of an older commit, for a before/after in the same conditions); the schema must be the same.
``--pages``: some of ``campaign,changelist,progress``.

Only 127.0.0.1 is ever requested; every loop stops at its deadline.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import ROOT, make_campaign, make_list, make_sessions, now, throwaway_database
from results import fill

PORT = 8799
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def staff_cookie() -> str:
    """A logged-in superuser's session cookie, made without a login request."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    user = User.objects.filter(username="bench").first()
    if user is None:
        user = User.objects.create_superuser("bench", "bench@example.com", "bench-password-1")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


@contextlib.contextmanager
def kept_database():
    """The test database of ``DATABASE_URL``, created (and migrated) only when missing, kept."""
    from django.db import connection

    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=True, serialize=False)
    yield connection.vendor


def campaign_of(recipients: int):
    """The campaign of ``recipients`` results: the kept one, or one built now (running, 90% sent,
    5% failed, 5% pending, like ``bench/results.py``)."""
    from campaigns import engine
    from campaigns.models import Campaign, CampaignStatus

    name = f"bench web {recipients}"
    campaign = Campaign.objects.filter(name=name).first()
    if campaign is None or campaign.results.count() != recipients:
        t0 = now()
        sessions = make_sessions(10, delay=1.0, latency_ms=(0, 0))
        campaign = make_campaign(make_list(recipients), sessions)
        engine.launch(campaign, enqueue=False)
        fill(campaign, sessions)
        Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.RUNNING, name=name)
        print(f"web: built {recipients} results in {now() - t0:.0f} s", flush=True)
    if not Campaign.objects.filter(name="bench web other").exists():
        # A second campaign, so the changelist's campaign filter is applied: Django's admin drops
        # a related-field filter with a single choice, and its parameter with it.
        other = make_campaign(make_list(100), list(campaign.sessions.all()[:1]))
        engine.launch(other, enqueue=False)
        Campaign.objects.filter(pk=other.pk).update(name="bench web other")
    return campaign


def serve(database_url: str, workers: int, code: Path) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=database_url, GUNICORN_BIND=f"127.0.0.1:{PORT}")
    env.update(WEB_CONCURRENCY=str(workers), GUNICORN_ACCESSLOG="/dev/null", LOG_LEVEL="WARNING")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:tgcampaigns.gunicorn_conf", "tgcampaigns.wsgi"],
        cwd=code,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", PORT)) == 0:
                return process
        time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


def cpu_ms(pids: list[int]) -> dict[int, float]:
    """Process id → user + system CPU in milliseconds, of those of ``pids`` still alive."""
    found = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            found[pid] = (int(fields[11]) + int(fields[12])) * TICK_MS
    return found


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU milliseconds spent between two readings by the processes alive at the second (one that
    started meanwhile counts whole; one that ended meanwhile is not counted)."""
    return sum(ms - before.get(pid, 0) for pid, ms in after.items())


def children(pid: int) -> list[int]:
    """The ids of the processes whose parent is ``pid`` (gunicorn's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def backends() -> list[int]:
    """PostgreSQL server processes serving the benchmark's database (not this process's)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]


def load(path: str, cookie: str, clients: int, seconds: float) -> tuple[int, list[float], int]:
    """(answers, latencies in ms, errors) of ``clients`` keep-alive connections for ``seconds``."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        while time.monotonic() < deadline:
            t0 = now()
            connection.request("GET", path, headers={"Cookie": cookie})
            response = connection.getresponse()
            response.read()
            with lock:
                if response.status == 200:
                    latencies.append((now() - t0) * 1000)
                else:
                    errors[0] += 1
                    if errors[0] == 1:
                        print(f"first error: {response.status} {response.reason} on {path}", flush=True)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies), latencies, errors[0]


def measure(name: str, path: str, cookie: str, server: subprocess.Popen, args, label: str) -> None:
    """One page under load: prints req/s, p50, p95, CPU per answer (web workers, database)."""
    load(path, cookie, 2, 3)  # warm the workers' caches and connections
    web0, db0, own0 = cpu_ms(children(server.pid)), cpu_ms(backends()), time.process_time()
    n, latencies, errors = load(path, cookie, args.clients, args.seconds)
    web, db = spent(web0, cpu_ms(children(server.pid))), spent(db0, cpu_ms(backends()))
    own = (time.process_time() - own0) * 1000
    if len(latencies) < 2:
        print(f"web [{label}] {name}: {n} answers, {errors} errors", flush=True)
        return
    cuts = statistics.quantiles(latencies, n=20)
    print(
        f"web [{label}] {name}: {n / args.seconds:.1f} req/s, p50 {statistics.median(latencies):.0f} ms, "
        f"p95 {cuts[18]:.0f} ms, CPU per answer: web {web / n:.1f} ms, database {db / n:.1f} ms, "
        f"load generator {own / n:.1f} ms; "
        f"errors {errors} ({args.clients} clients, {args.workers} workers, {args.seconds:.0f} s, "
        f"{args.recipients} results, load average {os.getloadavg()[0]:.1f})",
        flush=True,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipients", type=int, default=1_000_000)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--keep", action="store_true", help="keep the database and reuse its campaign")
    p.add_argument("--code", type=Path, default=ROOT, help="the checkout gunicorn serves")
    p.add_argument("--pages", default="campaign,changelist,progress")
    args = p.parse_args()
    from django.db import connection

    with kept_database() if args.keep else throwaway_database() as vendor:
        campaign = campaign_of(args.recipients)
        cookie = staff_cookie()
        settings = connection.settings_dict
        if vendor == "sqlite":
            url = f"sqlite:///{settings['NAME']}"
        else:
            url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
        pages = {
            "campaign": ("campaign page", f"/admin/campaigns/campaign/{campaign.pk}/change/"),
            "changelist": (
                "results changelist",
                f"/admin/campaigns/messageresult/?campaign__id__exact={campaign.pk}",
            ),
            "progress": ("progress.json", f"/campaigns/{campaign.pk}/progress.json"),
        }
        code = args.code.resolve()
        label = vendor if code == ROOT else f"{vendor}, {code.name}"
        server = serve(url, args.workers, code)
        try:
            for page in args.pages.split(","):
                measure(*pages[page], cookie, server, args, label)
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
