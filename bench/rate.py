"""Benchmark 1: achieved send rate / ideal rate with realistic latency.

Ideal = the sum over sessions of their allowed rate (1 / delay). Each simulated session answers in
50–300 ms (uniform, seeded). Prints one line per configuration; asserts nothing.

The **storm** configuration (``--storm``): 10 sessions, two of which get FloodWaits of 30–120 s
at random (the simulator's seeded ``flood_rate``/``flood_seconds``). Its ideal is the capacity
left: each session's allowed rate times the seconds of the run it was not in a FloodWait (read
back from the FloodWait attempts the engine recorded), so a perfect engine that keeps the healthy
sessions busy while the flooded ones wait scores 1.0. Goal ≥ 0.97 (plain ones ≥ 0.99).

    .venv/bin/python bench/rate.py [--recipients 20000] [--sessions 10 50] [--rate-per-session R]
    .venv/bin/python bench/rate.py --storm [--recipients 20000] [--seed 11]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
from datetime import datetime, timedelta

from common import QueryCounter, make_campaign, make_list, make_sessions, now, throwaway_database
from django.db import connection


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load() -> str:
    """The machine's 1-minute load average (the machine is shared: every figure says it)."""
    return f"{os.getloadavg()[0]:.1f}"


STORM_SESSIONS = 10
STORM_FLOODED = 2
STORM_FLOOD_SECONDS = (30, 120)


def flooded_seconds(session_id: int, start: datetime, end: datetime) -> float:
    """Seconds of [start, end] ``session_id`` spent in FloodWaits (their union), from the FloodWait
    attempts the engine recorded (the simulator's error text carries the wait)."""
    from campaigns.models import DeliveryAttempt

    spans = []
    for at, text in DeliveryAttempt.objects.filter(session_id=session_id, outcome="flood").values_list(
        "finished_at", "error_text"
    ):
        match = re.search(r"(\d+) s", text)
        seconds = float(match[1]) if match else 0.0
        spans.append((max(at, start), min(at + timedelta(seconds=seconds), end)))
    total, reach = 0.0, start
    for a, b in sorted(spans):
        a = max(a, reach)
        if b > a:
            total += (b - a).total_seconds()
            reach = b
    return total


def run(n_sessions: int, n_recipients: int, per_session_rate: float, storm_seed: int | None = None) -> dict:
    from django.db.models import Count, Max, Min

    from campaigns import engine
    from campaigns.models import MessageResult

    delay = 1.0 / per_session_rate
    # The in-memory ledger: in production a send is network I/O, not a database write.
    sessions = make_sessions(n_sessions, delay=delay, latency_ms=(50, 300), ledger="memory")
    flooded = []
    if storm_seed is not None:
        rng = random.Random(storm_seed)
        flooded = rng.sample(sessions, STORM_FLOODED)
        # About one FloodWait per 10 s of sending at the allowed rate.
        flood_rate = 1.0 / (10 * per_session_rate)
        for s in flooded:
            s.simulator_config.update(
                seed=rng.randrange(1 << 30), flood_rate=flood_rate, flood_seconds=list(STORM_FLOOD_SECONDS)
            )
            s.save(update_fields=["simulator_config"])
    rl = make_list(n_recipients)
    campaign = make_campaign(rl, sessions)
    engine.launch(campaign, enqueue=False)
    queries = QueryCounter()
    cpu0, t0 = cpu_seconds(), now()
    with connection.execute_wrapper(queries):
        status = engine.run_until_done(campaign, max_seconds=3600)
    wall, cpu = now() - t0, cpu_seconds() - cpu0
    sent = MessageResult.objects.filter(campaign=campaign, status="sent")
    span = sent.aggregate(a=Min("sending_at"), b=Max("sent_at"))
    active = (span["b"] - span["a"]).total_seconds()
    lost = {s.pk: flooded_seconds(s.pk, span["a"], span["b"]) for s in flooded}
    capacity = per_session_rate * (n_sessions * active - sum(lost.values()))
    by_session = dict(sent.values_list("session_id").annotate(n=Count("id")).order_by())
    return {
        "sessions": n_sessions,
        "recipients": n_recipients,
        "status": status,
        "sent": sent.count(),
        "wall_s": wall,
        "active_s": active,
        "achieved_per_s": sent.count() / active,
        "ideal_per_s": capacity / active,
        "ratio": sent.count() / capacity,
        "flooded": {s.pk: (lost[s.pk], by_session.get(s.pk, 0)) for s in flooded},
        "healthy_sent": sorted(n for pk, n in by_session.items() if pk not in lost),
        # Where the time goes: the whole process's CPU and the SQL statements, per message sent.
        "cpu_ms_per_msg": 1000 * cpu / max(1, sent.count()),
        "queries_per_msg": queries.count / max(1, sent.count()),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipients", type=int, default=20_000)
    p.add_argument("--sessions", type=int, nargs="+", default=[10, 50])
    p.add_argument(
        "--rate-per-session",
        type=float,
        default=None,
        help="allowed msg/s per session (default: 200 msg/s in total, split over the sessions)",
    )
    p.add_argument("--storm", action="store_true", help="run the storm configuration instead")
    p.add_argument("--seed", type=int, default=11, help="the storm's seed")
    args = p.parse_args()
    if args.storm:
        with throwaway_database() as vendor:
            rate = args.rate_per_session or 200.0 / STORM_SESSIONS
            r = run(STORM_SESSIONS, args.recipients, rate, storm_seed=args.seed)
            floods = " ".join(f"{lost:.0f}s/{n}sent" for lost, n in r["flooded"].values())
            print(
                f"rate storm [{vendor}] sessions={r['sessions']} recipients={r['recipients']} "
                f"allowed/session={rate:.2f}/s flooded={floods} ideal(capacity left)={r['ideal_per_s']:.1f}/s "
                f"achieved={r['achieved_per_s']:.1f}/s ratio={r['ratio']:.3f} sent={r['sent']} "
                f"healthy sent {min(r['healthy_sent'])}..{max(r['healthy_sent'])} "
                f"active={r['active_s']:.1f}s wall={r['wall_s']:.1f}s status={r['status']}",
                flush=True,
            )
        return
    for n in args.sessions:
        with throwaway_database() as vendor:
            rate = args.rate_per_session or 200.0 / n
            r = run(n, args.recipients, rate)
            print(
                f"rate [{vendor}] sessions={r['sessions']} recipients={r['recipients']} "
                f"allowed/session={rate:.2f}/s ideal={r['ideal_per_s']:.1f}/s achieved={r['achieved_per_s']:.1f}/s "
                f"ratio={r['ratio']:.3f} sent={r['sent']} wall={r['wall_s']:.1f}s status={r['status']} "
                f"cpu/msg={r['cpu_ms_per_msg']:.2f}ms queries/msg={r['queries_per_msg']:.3f} load={load()}",
                flush=True,
            )


if __name__ == "__main__":
    main()
