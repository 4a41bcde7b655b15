"""Listen for opt-out replies (STOP, UNSUBSCRIBE, СТОП) on the Telethon sessions; record them.

Runs until SIGTERM/SIGINT, which let the current window finish (at most ``--window`` seconds,
checked every second). Each window leases the sessions no other process holds, listens, releases.
"""

from __future__ import annotations

import signal
import time

from django.core.management.base import BaseCommand

from campaigns.engine import listener
from sessions_app import leases


class Command(BaseCommand):
    help = "Record private opt-out replies to the Telethon sessions as suppressions."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--window", type=float, default=60.0, help="Seconds per listening round (default 60)."
        )
        parser.add_argument(
            "--idle", type=float, default=15.0, help="Seconds to wait when no session is free."
        )
        parser.add_argument("--once", action="store_true", help="Run one round and exit.")

    def handle(self, *args, window: float, idle: float, once: bool, **options) -> None:
        self.stopping = False

        def stop(signum, frame) -> None:
            self.stopping = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        owner = leases.owner_name("optout")
        try:
            while not self.stopping:
                listened = listener.listen_round(owner, window=window, should_stop=lambda: self.stopping)
                self.stdout.write(f"listened on {len(listened)} session(s)")
                if once:
                    break
                if not listened:
                    deadline = time.monotonic() + idle
                    while not self.stopping and time.monotonic() < deadline:
                        time.sleep(0.5)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
