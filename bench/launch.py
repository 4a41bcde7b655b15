"""Benchmark 3: launching a 1,000,000-recipient campaign (materialising its rows): seconds and
peak memory of the process.

    .venv/bin/python bench/launch.py [--recipients 1000000]
"""

from __future__ import annotations

import argparse
import resource

from common import make_campaign, make_list, make_sessions, now, throwaway_database


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipients", type=int, default=1_000_000)
    p.add_argument("--sessions", type=int, default=10)
    args = p.parse_args()
    from campaigns import engine

    with throwaway_database() as vendor:
        sessions = make_sessions(args.sessions, delay=1.0, latency_ms=(0, 0))
        t0 = now()
        rl = make_list(args.recipients)
        made = now() - t0
        campaign = make_campaign(rl, sessions)
        before = peak_rss_mib()
        t0 = now()
        counts = engine.launch(campaign, enqueue=False)
        took = now() - t0
        print(
            f"launch [{vendor}] recipients={args.recipients} rows={counts['total']} launch={took:.1f}s "
            f"({counts['total'] / took:.0f} rows/s) peak_rss={peak_rss_mib():.0f} MiB "
            f"(before launch {before:.0f} MiB; list import setup {made:.1f}s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
