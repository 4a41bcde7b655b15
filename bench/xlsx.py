"""Benchmark: reading a 100,000-row XLSX workbook, the project's reader against openpyxl.

Issue 17's goal: the import reads a 100,000-row XLSX at least twice as fast as openpyxl's
read-only mode (``load_workbook(read_only=True)``, ``iter_rows(values_only=True)``), which the
project used before it read workbooks through python-calamine.

One generated workbook (a username or a phone stored as a number, first and last name, city, a
signup date; openpyxl's write-only mode) is read row by row, to the last row, by:

- **project**: ``campaigns.lists.reading.open_table`` as the import opens a file (limits checked
  from the zip directory, the sheet and header row found, numbers turned into digits);
- **openpyxl read-only**: every row's values, nothing else.

Runs alternate (three of each by default); it prints each run's seconds, the best of each and the
ratio openpyxl / project (above 2 meets the goal).

    .venv/bin/python bench/xlsx.py [--rows 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CITIES = ("Berlin", "New York", "São Paulo", "Zürich", "Kraków", "Chicago", "Lyon", "Osaka")


def generate(path: Path, rows: int, seed: int = 17) -> None:
    """A CRM-shaped workbook of ``rows`` data rows under one header row."""
    from openpyxl import Workbook

    rnd = random.Random(seed)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Contacts")
    sheet.append(["Telegram", "Mobile", "First name", "Last name", "City", "Signed up"])
    start = datetime.date(2024, 1, 1)
    for i in range(rows):
        username = f"@member_{i:07d}" if rnd.random() < 0.5 else None
        mobile = 4915100000000 + rnd.randrange(0, 99_999_999)
        day = start + datetime.timedelta(days=i % 700)
        sheet.append([username, mobile, f"Name{i % 9973}", f"Surname {i % 7919}", rnd.choice(CITIES), day])
    workbook.save(path)


def read_project(path: Path) -> int:
    from campaigns.lists.columns import names_recipients
    from campaigns.lists.reading import open_table

    count = 0
    with open(path, "rb") as stream:
        table = open_table(stream, path, None, names_recipients)
        for _number, _cells in table.rows:
            count += 1
    return count


def read_openpyxl(path: Path) -> int:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    count = 0
    for _values in workbook.worksheets[0].iter_rows(values_only=True):
        count += 1
    workbook.close()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tgcampaigns.settings_test")
    import django

    django.setup()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "contacts.xlsx"
        generate(path, args.rows)
        print(f"{args.rows:,} rows, {path.stat().st_size / 2**20:.1f} MiB")
        times: dict[str, list[float]] = {"project": [], "openpyxl read-only": []}
        for _run in range(args.runs):
            for name, read in (("project", read_project), ("openpyxl read-only", read_openpyxl)):
                began = time.perf_counter()
                rows = read(path)
                times[name].append(time.perf_counter() - began)
                print(f"  {name:<20} {times[name][-1]:6.2f} s  ({rows:,} rows)")
    best = {name: min(seconds) for name, seconds in times.items()}
    for name, seconds in best.items():
        print(f"{name:<20} best {seconds:6.2f} s  {args.rows / seconds:,.0f} rows/s")
    print(f"openpyxl / project: {best['openpyxl read-only'] / best['project']:.2f}× (goal ≥ 2)")


if __name__ == "__main__":
    main()
