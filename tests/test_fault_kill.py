"""Fault tests with real processes: workers killed with SIGKILL at random points, then restarted.

Each test runs on the suite's database (SQLite file or PostgreSQL) through worker processes that
reach the same test database. The simulator's ledger honours random_id like Telegram, so a
duplicate delivery would show as two ledger rows for one recipient.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from campaigns import engine
from campaigns.models import Campaign, CampaignStatus, ResultStatus
from sessions_app.models import SimulatedDelivery

from .conftest import make_campaign, make_list, make_session

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[1]
FINAL = {ResultStatus.SENT, ResultStatus.FAILED, ResultStatus.SKIPPED, ResultStatus.UNKNOWN}


def database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{s['NAME']}"


def worker_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=database_url(), TGC_LEASE_SECONDS="2", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def spawn(args: list[str], **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=worker_env(**env),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def campaign_with(
    n_recipients: int, n_sessions: int, latency_ms=(5, 40), send_delay: float = 0.0
) -> Campaign:
    sessions = [
        make_session(
            f"w{i}",
            send_delay=send_delay,
            simulator_config={"seed": i, "latency_ms": list(latency_ms), "transient_rate": 0.05},
        )
        for i in range(n_sessions)
    ]
    rl = make_list(
        "crowd", [(f"@crowd_member_{i:04d}", {"first_name": f"M{i}"}) for i in range(n_recipients)]
    )
    campaign = make_campaign("fault", [rl], sessions, max_attempts=10)
    engine.launch(campaign, enqueue=False)
    return campaign


def assert_delivered_at_most_once(campaign: Campaign) -> None:
    per_key = Counter(SimulatedDelivery.objects.values_list("peer_key", flat=True))
    assert per_key and max(per_key.values()) == 1, [k for k, n in per_key.items() if n > 1]
    statuses = dict(campaign.results.values_list("key", "status"))
    assert set(statuses.values()) <= FINAL
    sent = {k for k, s in statuses.items() if s == ResultStatus.SENT}
    assert sent == set(per_key), "every sent row was delivered exactly once, nothing else was"


def test_sigkill_at_random_points_then_restart_loses_and_duplicates_nothing():
    # 3 sessions × 20 msg/s: 600 recipients take about 10 s of sending, so the kills land mid-run
    # (a restarted worker first waits out the dead one's 2 s leases).
    campaign = campaign_with(600, 3, send_delay=0.05)
    rng = random.Random(20261129)
    left_mid_flight = 0
    for _ in range(6):
        proc = spawn(["launchcampaign", str(campaign.pk), "--run", "--max-seconds", "60"])
        time.sleep(rng.uniform(2.5, 4.0))  # start-up ~0.5 s, lease wait ≤ 2 s: kill mid-send
        kill(proc)
        left_mid_flight += campaign.results.filter(
            status__in=(ResultStatus.CLAIMED, ResultStatus.SENDING)
        ).count()
    assert left_mid_flight > 0, "no kill landed while rows were claimed or in flight"
    campaign.refresh_from_db()
    if campaign.status == CampaignStatus.RUNNING:
        proc = spawn(["launchcampaign", str(campaign.pk), "--run", "--max-seconds", "120"])
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err.decode()[-2000:]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
    assert_delivered_at_most_once(campaign)
    assert campaign.results.filter(status=ResultStatus.SENT).count() == 600


def wait_for_completion(campaign: Campaign, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        campaign.refresh_from_db()
        if campaign.status != CampaignStatus.RUNNING:
            return
        time.sleep(0.5)


def test_qcluster_workers_killed_and_restarted_finish_the_campaign_once():
    """Two qcluster processes (Redis broker when REDIS_URL is set, else the ORM broker) send one
    campaign; one is SIGKILLed mid-run and a fresh one started; the reaper schedule and worker
    start-up recovery carry the work on."""
    # 20 msg/s per session: the fan-out task (sessions 3 and 4) starts while rows are left.
    campaign = campaign_with(150, 4, latency_ms=(20, 60), send_delay=0.05)
    q = {
        "Q_TIMEOUT": "40",
        "Q_RETRY": "120",
        "TGC_SLICE_SECONDS": "8",
        "TGC_SESSIONS_PER_DRIVER": "2",
        "Q_WORKERS": "2",
    }
    clusters = [spawn(["qcluster"], **q), spawn(["qcluster"], **q)]
    try:
        time.sleep(3)
        from django_q.tasks import async_task

        async_task("campaigns.tasks.drive_campaign", campaign.pk)
        time.sleep(4)
        kill(clusters[0])
        clusters[0] = spawn(["qcluster"], **q)
        wait_for_completion(campaign, 150)
    finally:
        for proc in clusters:
            kill(proc)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED, campaign.counts()
    assert_delivered_at_most_once(campaign)
    drivers = set(campaign.results.values_list("delivery_attempts__session_id", flat=True))
    assert len(drivers) == 4
