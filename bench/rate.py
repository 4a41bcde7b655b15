"""Benchmark 1: achieved send rate / ideal rate with realistic latency.

Ideal = the sum over sessions of their allowed rate (1 / delay). Each simulated session answers in
50–300 ms (uniform, seeded). Prints one line per configuration; asserts nothing.

    .venv/bin/python bench/rate.py [--recipients 20000] [--sessions 10 50] [--rate-per-session R]
"""

from __future__ import annotations

import argparse

from common import make_campaign, make_list, make_sessions, now, throwaway_database


def run(n_sessions: int, n_recipients: int, per_session_rate: float) -> dict:
    from django.db.models import Max, Min

    from campaigns import engine
    from campaigns.models import MessageResult

    delay = 1.0 / per_session_rate
    # The in-memory ledger: in production a send is network I/O, not a database write.
    sessions = make_sessions(n_sessions, delay=delay, latency_ms=(50, 300), ledger="memory")
    rl = make_list(n_recipients)
    campaign = make_campaign(rl, sessions)
    engine.launch(campaign, enqueue=False)
    t0 = now()
    status = engine.run_until_done(campaign, max_seconds=3600)
    wall = now() - t0
    sent = MessageResult.objects.filter(campaign=campaign, status="sent")
    span = sent.aggregate(a=Min("sending_at"), b=Max("sent_at"))
    active = (span["b"] - span["a"]).total_seconds()
    achieved = sent.count() / active
    ideal = n_sessions * per_session_rate
    return {
        "sessions": n_sessions,
        "recipients": n_recipients,
        "status": status,
        "sent": sent.count(),
        "wall_s": wall,
        "achieved_per_s": achieved,
        "ideal_per_s": ideal,
        "ratio": achieved / ideal,
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
    args = p.parse_args()
    for n in args.sessions:
        with throwaway_database() as vendor:
            rate = args.rate_per_session or 200.0 / n
            r = run(n, args.recipients, rate)
            print(
                f"rate [{vendor}] sessions={r['sessions']} recipients={r['recipients']} "
                f"allowed/session={rate:.2f}/s ideal={r['ideal_per_s']:.1f}/s achieved={r['achieved_per_s']:.1f}/s "
                f"ratio={r['ratio']:.3f} sent={r['sent']} wall={r['wall_s']:.1f}s status={r['status']}",
                flush=True,
            )


if __name__ == "__main__":
    main()
