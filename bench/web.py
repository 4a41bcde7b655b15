"""Benchmark 8: pages under a team's load. A throwaway database with one campaign of 1,000,000
results, the production web process (gunicorn with ``tgcampaigns/gunicorn_conf.py``, 2 workers)
on 127.0.0.1, and 20 clients logged in as staff requesting one page as fast as it answers for a
bounded time. Prints requests per second and the p50/p95 latency per page; asserts nothing.

    .venv/bin/python bench/web.py [--recipients 1000000] [--clients 20] [--seconds 60]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tgcampaigns .venv/bin/python bench/web.py

Pages: the campaign's page, the results changelist (filtered to the campaign), ``progress.json``.
Only 127.0.0.1 is ever requested; every loop stops at its deadline.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

from common import ROOT, make_campaign, make_list, make_sessions, now, throwaway_database
from results import fill

PORT = 8799


def staff_cookie() -> str:
    """A logged-in superuser's session cookie, made without a login request."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    user = User.objects.create_superuser("bench", "bench@example.com", "bench-password-1")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def serve(database_url: str, workers: int) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=database_url, GUNICORN_BIND=f"127.0.0.1:{PORT}")
    env.update(WEB_CONCURRENCY=str(workers), GUNICORN_ACCESSLOG="/dev/null", LOG_LEVEL="WARNING")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:tgcampaigns.gunicorn_conf", "tgcampaigns.wsgi"],
        cwd=ROOT,
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipients", type=int, default=1_000_000)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    from django.db import connection

    with throwaway_database() as vendor:
        sessions = make_sessions(10, delay=1.0, latency_ms=(0, 0))
        campaign = make_campaign(make_list(args.recipients), sessions)
        from campaigns import engine

        engine.launch(campaign, enqueue=False)
        fill(campaign, sessions)
        cookie = staff_cookie()
        settings = connection.settings_dict
        if vendor == "sqlite":
            url = f"sqlite:///{settings['NAME']}"
        else:
            url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
        server = serve(url, args.workers)
        try:
            pages = {
                "campaign page": f"/admin/campaigns/campaign/{campaign.pk}/change/",
                "results changelist": f"/admin/campaigns/messageresult/?campaign__id__exact={campaign.pk}",
                "progress.json": f"/campaigns/{campaign.pk}/progress.json",
            }
            for name, path in pages.items():
                load(path, cookie, 2, 3)  # warm the workers' caches and connections
                n, latencies, errors = load(path, cookie, args.clients, args.seconds)
                if len(latencies) < 2:
                    print(f"web [{vendor}] {name}: {n} answers, {errors} errors", flush=True)
                    continue
                cuts = statistics.quantiles(latencies, n=20)
                print(
                    f"web [{vendor}] {name}: {n / args.seconds:.1f} req/s, p50 {statistics.median(latencies):.0f} ms, "
                    f"p95 {cuts[18]:.0f} ms, errors {errors} ({args.clients} clients, {args.workers} workers, "
                    f"{args.seconds:.0f} s, {args.recipients} results)",
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
