"""Memory per session: the resident memory (RSS) of one process driving N simulated sessions in
one slice, and of N Telethon clients built offline (never connected).

Each measurement runs in a fresh child process (Python's allocator keeps what it once took, so
one process measuring two sizes would hide the second). The per-session figure is the growth
between the process ready to drive (Django loaded, campaign launched) and its peak while the
slice runs, divided by N; the difference between two sizes gives the marginal cost of one more
session, without the fixed cost of a slice. Prints one line per measurement; asserts nothing.

    .venv/bin/python bench/memory.py [--sessions 50 500] [--seconds 15] [--telethon 500]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time


def rss_mib() -> float:
    """This process's resident memory (MiB), from /proc."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRss:
    """The highest RSS seen by a thread sampling every 50 ms while the block runs."""

    def __enter__(self):
        self.peak, self._stop = rss_mib(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_mib())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib())


def one_slice(n: int, seconds: float) -> None:
    """Child: drive ``n`` simulated sessions at 1 msg/s for one slice of ``seconds``."""
    from common import make_campaign, make_list, make_sessions, throwaway_database

    with throwaway_database() as vendor:
        from campaigns import engine

        sessions = make_sessions(n, delay=1.0, latency_ms=(50, 300), ledger="memory")
        campaign = make_campaign(make_list(n * int(seconds + 5)), sessions)
        engine.launch(campaign, enqueue=False)
        before = rss_mib()
        with PeakRss() as peak:
            outcome = engine.drive(campaign.pk, seconds=seconds, enqueue_next=False)
        grown = peak.peak - before
        print(
            f"memory [{vendor}] sessions={n} slice={seconds:.0f}s outcome={outcome} rss_before={before:.1f}MiB "
            f"rss_peak={peak.peak:.1f}MiB grown={grown:.1f}MiB per_session={1024 * grown / n:.0f}KiB",
            flush=True,
        )


def telethon_clients(n: int) -> None:
    """Child: build ``n`` Telethon clients the way the transport does, offline."""
    import common  # noqa: F401  (Django set up: the client factory reads the settings)

    from sessions_app.transport.telethon_client import build_client

    build_client("", 1, "0" * 32)  # the first one imports and caches what all share
    before = rss_mib()
    clients = [build_client("", 1, "0" * 32) for _ in range(n)]
    grown = rss_mib() - before
    print(
        f"memory telethon clients={len(clients)} (offline, not connected) grown={grown:.1f}MiB "
        f"per_client={1024 * grown / n:.0f}KiB",
        flush=True,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, nargs="+", default=[50, 500])
    p.add_argument("--seconds", type=float, default=15.0, help="length of the measured slice")
    p.add_argument("--telethon", type=int, default=500, help="Telethon clients to build (0: none)")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        kind, n = args.child[0], int(args.child[1])
        one_slice(n, args.seconds) if kind == "slice" else telethon_clients(n)
        return
    me = [sys.executable, __file__, "--seconds", str(args.seconds), "--child"]
    for n in args.sessions:
        subprocess.run([*me, "slice", str(n)], check=True)
    if args.telethon:
        subprocess.run([*me, "telethon", str(args.telethon)], check=True)
    print(f"load={os.getloadavg()[0]:.1f} at {time.strftime('%H:%M')}", flush=True)


if __name__ == "__main__":
    main()
