"""Shared set-up for the benchmarks: Django on a throwaway database, simulated sessions, a list.

The database is the one ``DATABASE_URL`` names (default: the SQLite file), created fresh as
Django's test database (``test_…``) and dropped at the end, so a benchmark never touches real data.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tgcampaigns.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# The settings refuse a public SECRET_KEY in every process (issue 19.15); a bench run signs with
# a throwaway one, inherited by the workers it starts.
if not os.environ.get("SECRET_KEY"):
    import secrets

    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)
if not os.environ.get("FIELD_ENCRYPTION_KEY"):
    from cryptography.fernet import Fernet

    os.environ["FIELD_ENCRYPTION_KEY"] = Fernet.generate_key().decode()

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402


@contextlib.contextmanager
def throwaway_database():
    """A fresh, migrated database for the duration of the block (Django's test database)."""
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        yield connection.vendor
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def make_sessions(
    n: int, *, delay: float, latency_ms: tuple[int, int], ledger: str = "db", kind: str = "bot"
):
    from sessions_app.models import Backend, SessionStatus, TelegramSession

    return [
        TelegramSession.objects.create(
            name=f"bench-{i:03d}",
            kind=kind,
            backend=Backend.SIMULATOR,
            status=SessionStatus.ACTIVE,
            send_delay=delay,
            max_per_minute=0,
            daily_cap=0,
            simulator_config={"seed": i, "latency_ms": list(latency_ms), "ledger": ledger},
        )
        for i in range(n)
    ]


def make_list(n: int, mixed: bool = False):
    """A list of ``n`` valid recipients, written with the engine's bulk writer (COPY on PostgreSQL);
    ``mixed``: every other one by user id instead of @username (a campaign mixing kinds of key
    checks each resolved user against the rows that reached them)."""
    from campaigns.engine.sql import insert_rows
    from campaigns.models import Recipient, RecipientList

    rl = RecipientList.objects.create(name=f"bench {n}", consent_basis="opt_in", total_rows=n, valid_count=n)
    columns = ("recipient_list_id", "row_number", "raw_value", "key", "kind", "status", "error", "fields")
    insert_rows(
        Recipient,
        columns,
        (
            (
                rl.pk,
                i + 2,
                key,
                key,
                "user_id" if key.isdigit() else "username",
                "valid",
                "",
                {"first_name": f"User{i}"},
            )
            for i in range(n)
            for key in [str(5_000_000_000 + i) if mixed and i % 2 else f"@bench_user_{i:07d}"]
        ),
    )
    return rl


def make_campaign(rl, sessions, **fields):
    from campaigns.models import Campaign

    campaign = Campaign.objects.create(name="bench", message="Hi {{ first_name }}, news for you.", **fields)
    campaign.lists.set([rl])
    campaign.sessions.set(sessions)
    return campaign


class QueryCounter:
    """Counts SQL statements executed on the default connection (``connection.execute_wrapper``)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def now() -> float:
    return time.perf_counter()
