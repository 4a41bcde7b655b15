"""Benchmark 4: importing a recipient file, this project against django-import-export, side by side.

One generated CSV (usernames, national and international phones, user ids, three
personalisation columns, 1% bad rows) is imported twice into the project's ``Recipient`` table,
each in a fresh process and throwaway database (peak RSS is per process):

- **project**: ``campaigns.lists.importing.import_recipient_list`` with full validation (every
  value normalised, phones checked with phonenumbers, duplicates found, a report), as a worker
  runs it for a file this size (``atomic=False``: a commit per batch);
- **django-import-export** in bulk mode (``use_bulk``, ``skip_diff``, ``force_init_instance``),
  no validation: each row's value stored as it is.

It prints rows/s and peak RSS of each and the ratio (project / django-import-export).

    .venv/bin/pip install -r bench/requirements.txt     # django-import-export, for this benchmark only
    .venv/bin/python bench/import.py [--rows 100000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tgc_wt8 .venv/bin/python bench/import.py
    .venv/bin/python bench/import.py --rows 1000000 --only project   # the million-row figure
    .venv/bin/python bench/import.py --only project --tags           # with a tags column
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
AREAS = ("212", "312", "415", "646", "718", "202", "617", "305")
CITIES = ("Berlin", "New York", "São Paulo", "Zürich", "Kraków", "Chicago", "Lyon", "Osaka")


TAGS = ("VIP", "Newsletter", "Berlin", "Wholesale", "Returning", "Spring 2026", "Lead", "Partner")


def generate(path: Path, rows: int, seed: int = 8, tags: bool = False) -> None:
    """A CRM-shaped export: ``telegram`` (mixed identities), first and last name, city; with
    ``tags``, a ``tags`` column of 0–3 tags a row (Shopify-like, comma-separated)."""
    rnd = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("telegram,first_name,last_name,city" + (",tags\n" if tags else "\n"))
        for i in range(rows):
            roll = rnd.random()
            if roll < 0.01:
                value = rnd.choice(["@abc", "not a number", "+999 123", "4.91511E+12", ""])
            elif roll < 0.40:
                value = f"@member_{i:07d}"
            elif roll < 0.55:
                value = f"+49 151 {rnd.randrange(10_000_000, 99_999_999)}"
            elif roll < 0.70:
                value = f"({rnd.choice(AREAS)}) {rnd.randrange(200, 999)}-{rnd.randrange(0, 9999):04d}"
            else:
                value = str(rnd.randrange(100_000_000, 8_000_000_000))
            first = f"Name{i % 9973}"
            line = f'{value},{first},"Surname, {i % 7919}",{rnd.choice(CITIES)}'
            if tags:
                line += ',"' + ", ".join(rnd.sample(TAGS, rnd.randrange(0, 4))) + '"'
            out.write(line + "\n")


def child(engine: str, csv_path: str) -> None:
    """Run one import in this process and print one machine-readable line."""
    sys.path.insert(0, str(HERE))
    import resource
    import time

    from common import throwaway_database

    from campaigns.models import Recipient, RecipientList, RecipientTag

    with throwaway_database() as vendor:
        recipient_list = RecipientList.objects.create(
            name="bench", consent_basis="opt_in", default_region="US"
        )
        start = time.perf_counter()
        if engine == "project":
            from campaigns.lists.importing import import_recipient_list
            from campaigns.lists.mapping import Mapping

            # As a worker imports a file this large: a commit per batch (and, on PostgreSQL, the
            # batches written by a second connection while the next rows are read).
            report = import_recipient_list(
                recipient_list, csv_path, mapping=Mapping(default_region="US"), atomic=False
            )
            rows = report.total_rows
        else:
            rows = _import_export(recipient_list, csv_path)
        took = time.perf_counter() - start
        stored = Recipient.objects.filter(recipient_list=recipient_list).count()
        tagged = RecipientTag.objects.count()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"RESULT {engine} {vendor} rows={rows} stored={stored} tags={tagged} seconds={took:.2f} "
            f"peak_rss_mib={peak:.0f}"
        )


def _import_export(recipient_list, csv_path: str) -> int:
    """django-import-export in bulk mode, no validation: the raw value is the key."""
    import tablib
    from import_export import resources

    from campaigns.models import Recipient

    class RecipientResource(resources.ModelResource):
        class Meta:
            model = Recipient
            fields = ("key", "raw_value")
            use_bulk = True
            batch_size = 5000
            skip_diff = True
            force_init_instance = True
            skip_unchanged = False
            use_transactions = True
            clean_model_instances = False

        def __init__(self):
            super().__init__()
            self.row_number = 1

        def init_instance(self, row=None):
            self.row_number += 1
            return Recipient(
                recipient_list=recipient_list,
                row_number=self.row_number,
                key=row["telegram"][:64],
                raw_value=row["telegram"],
                fields={"first_name": row["first_name"], "last_name": row["last_name"], "city": row["city"]},
            )

    with open(csv_path, encoding="utf-8") as source:
        dataset = tablib.Dataset().load(source.read(), format="csv")
    result = RecipientResource().import_data(
        dataset, dry_run=False, raise_errors=True, collect_failed_rows=False
    )
    return result.total_rows


def run_child(engine: str, csv_path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", engine, "--csv", str(csv_path)],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ.copy(),
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    values = dict(re.findall(r"(\w+)=([\d.]+)", line))
    _, name, vendor = line.split()[:3]
    return {"engine": name, "vendor": vendor, **{k: float(v) for k, v in values.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--only", choices=["project", "import-export"])
    p.add_argument("--tags", action="store_true", help="add a tags column (0-3 tags a row)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--csv", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child, args.csv)
        return
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "recipients.csv"
        generate(csv_path, args.rows, tags=args.tags)
        size = csv_path.stat().st_size / 1024 / 1024
        print(f"file: {args.rows:,} rows, {size:.1f} MiB", flush=True)
        results = {}
        for engine in ("project", "import-export"):
            if args.only and args.only != engine:
                continue
            r = run_child(engine, csv_path)
            results[engine] = r
            print(
                f"import [{r['vendor']}] {engine:>13}: {r['rows']:,.0f} rows in {r['seconds']:.1f} s = "
                f"{r['rows'] / r['seconds']:,.0f} rows/s, peak RSS {r['peak_rss_mib']:.0f} MiB"
                + (f", {r['tags']:,.0f} tag links" if r.get("tags") else ""),
                flush=True,
            )
        if len(results) == 2:
            ratio = (results["project"]["rows"] / results["project"]["seconds"]) / (
                results["import-export"]["rows"] / results["import-export"]["seconds"]
            )
            print(f"ratio project / django-import-export: {ratio:.2f}x")


if __name__ == "__main__":
    main()
