"""The benchmarks run at any size (bench/, docs/performance.md): a small ``--recipients`` is how a
developer tries one before the long run. Each runs as its own process on a throwaway SQLite
database, as its docstring says; only that it runs and what it probes is checked, never a time."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bench(script: str, *args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """``bench/SCRIPT ARGS`` on a SQLite file of its own, also in the PostgreSQL run: a benchmark's
    throwaway database is ``test_`` + the database's name, the one this run's tests are using."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TEST_", "REDIS_URL"))}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'bench.sqlite3'}", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, f"bench/{script}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_results_benchmark_probes_the_last_page_when_the_campaign_has_fewer_than_2001(tmp_path):
    done = bench("results.py", "--recipients", "250", tmp_path=tmp_path)  # 3 pages of 100

    assert done.returncode == 0, done.stderr[-2000:]
    assert re.findall(r"results, page (\d+):", done.stdout) == ["3"]
    assert "export: 250 rows" in done.stdout
