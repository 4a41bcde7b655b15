"""Listen for opt-out replies (STOP, UNSUBSCRIBE, СТОП) on the Telethon sessions; record them.

Runs until SIGTERM/SIGINT, which let the current window finish (at most ``--window`` seconds,
checked every second). Each window leases the sessions no other process holds, listens, releases.
"""

from __future__ import annotations

import signal
import time

from django.core.management.base import BaseCommand, CommandError

from campaigns.engine import listener
from sessions_app import leases
from tgcampaigns.bounds import Bounds

# A round holds its sessions' leases (no campaign sends from them meanwhile) and connects each to
# Telegram: past an hour campaigns wait too long for them; 0 catches up and leaves (--once, from
# cron). Round after round, one under half a minute would reconnect the sessions in a loop. The
# wait when no session is free: a second at least (else the rounds spin on the database).
WINDOW = Bounds(0, 3600, "seconds", whole=False)
LOOP_WINDOW_MIN = 30.0
IDLE = Bounds(1, 3600, "seconds", whole=False)


class Command(BaseCommand):
    help = "Record private opt-out replies to the Telethon sessions as suppressions."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--window",
            type=WINDOW.argument,
            default=60.0,
            help=f"Seconds per listening round, {WINDOW.span} (default 60).",
        )
        parser.add_argument(
            "--idle",
            type=IDLE.argument,
            default=15.0,
            help=f"Seconds to wait when no session is free, {IDLE.span} (default 15).",
        )
        parser.add_argument("--once", action="store_true", help="Run one round and exit.")

    def handle(self, *args, window: float, idle: float, once: bool, **options) -> None:
        if window < LOOP_WINDOW_MIN and not once:
            raise CommandError(
                f"--window: at least {LOOP_WINDOW_MIN:g} seconds round after round (shorter rounds "
                "reconnect the sessions to Telegram in a loop); --once for a single catch-up."
            )
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
