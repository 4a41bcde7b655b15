"""Benchmark 3: launching a 1,000,000-recipient campaign (materialising its rows): seconds and
peak memory of the process.

    .venv/bin/python bench/launch.py [--recipients 1000000] [--window]

``--window``: the campaign has a 09:00–20:00 send window, so each row's time zone is placed at
launch: a list with a default zone (no zone column; ``--lists 2``: two, Berlin's and New York's),
half phone numbers of several countries (three in ten of them of countries with several clocks:
US, RU, BR), half usernames.
"""

from __future__ import annotations

import argparse
import resource
from datetime import time

from common import make_campaign, make_list, make_sessions, now, throwaway_database


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Countries of the phone numbers: 7 of 10 of one clock, 3 of several (numbers of each are its
# fixed-line and mobile example numbers with their last five digits counted up).
ONE_CLOCK, SEVERAL_CLOCKS = ("DE", "FR", "GB", "IT", "IN", "JP", "AR"), ("US", "RU", "BR")


def _templates() -> list[str]:
    import phonenumbers

    kinds = (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE)
    return list(
        dict.fromkeys(
            phonenumbers.format_number(
                phonenumbers.example_number_for_type(region, kind), phonenumbers.PhoneNumberFormat.E164
            )
            for region in ONE_CLOCK + SEVERAL_CLOCKS
            for kind in kinds
        )
    )  # one number per template (the US gives the same example for both)


def _parts(n: int, lists: int) -> list[tuple[int, int, str]]:
    """(rows, first index, default zone) of each list."""
    defaults = ("Europe/Berlin", "America/New_York")
    bounds = [n * i // lists for i in range(lists + 1)]
    return [(bounds[i + 1] - bounds[i], bounds[i], defaults[i % 2]) for i in range(lists)]


def _zoned_row(list_id: int, i: int, templates: list[str]) -> tuple:
    if i % 2:
        template = templates[(i // 2) % len(templates)]
        key = f"{template[:-5]}{(i // (2 * len(templates))) % 100_000:05d}"
        return (list_id, i + 2, key, key, "phone", "valid", "", {"first_name": f"User{i}"})
    key = f"@bench_user_{i:07d}"
    return (list_id, i + 2, key, key, "username", "valid", "", {"first_name": f"User{i}"})


def make_zoned_list(n: int, start: int, default_zone: str):
    """A list of ``n`` valid recipients (rows ``start``…) with ``default_zone`` and no zone
    column: every other one a phone number (:data:`ONE_CLOCK`, :data:`SEVERAL_CLOCKS`), the others usernames."""
    from campaigns.engine.sql import insert_rows
    from campaigns.models import Recipient, RecipientList

    rl = RecipientList.objects.create(
        name=f"bench {default_zone}",
        consent_basis="opt_in",
        total_rows=n,
        valid_count=n,
        default_time_zone=default_zone,
        report={"columns": ["first_name"]},
    )
    columns = ("recipient_list_id", "row_number", "raw_value", "key", "kind", "status", "error", "fields")
    templates = _templates()
    insert_rows(Recipient, columns, (_zoned_row(rl.pk, i, templates) for i in range(start, start + n)))
    return rl


def analyze() -> None:
    """PostgreSQL: fresh statistics for the recipients just written (autovacuum's job after an
    import). Without them the materialising INSERT's check of two lists' linked identities plans
    nested loops over rows it takes for none: more than ten minutes at 100,000."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipients", type=int, default=1_000_000)
    p.add_argument("--sessions", type=int, default=10)
    p.add_argument("--window", action="store_true", help="a send window: zones placed at launch")
    p.add_argument("--lists", type=int, default=1, help="with --window: lists the recipients are split into")
    args = p.parse_args()
    from campaigns import engine

    with throwaway_database() as vendor:
        sessions = make_sessions(args.sessions, delay=1.0, latency_ms=(0, 0))
        t0 = now()
        if args.window:
            lists = [
                make_zoned_list(part, start, zone)
                for part, start, zone in _parts(args.recipients, args.lists)
            ]
            analyze()  # as autovacuum does after an import: several lists' de-duplication needs them
            made = now() - t0
            campaign = make_campaign(lists[0], sessions, send_window_start=time(9), send_window_end=time(20))
            campaign.lists.set(lists)
        else:
            rl = make_list(args.recipients)
            made = now() - t0
            campaign = make_campaign(rl, sessions)
        before = peak_rss_mib()
        t0 = now()
        counts = engine.launch(campaign, enqueue=False)
        took = now() - t0
        window = f" window lists={args.lists}" if args.window else ""
        print(
            f"launch{window} [{vendor}] recipients={args.recipients} rows={counts['total']} launch={took:.1f}s "
            f"({counts['total'] / took:.0f} rows/s) peak_rss={peak_rss_mib():.0f} MiB "
            f"(before launch {before:.0f} MiB; list import setup {made:.1f}s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
