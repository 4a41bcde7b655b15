"""A ``manage.py`` command run as one named worker of ``bench/faults.py``, optionally with its
wall clock off by some seconds (issue 18's ``--clock-skew``)::

    python bench/skewed_worker.py NAME SKEW_SECONDS qcluster

``NAME`` becomes the host name in its lease owners (``drive:NAME:pid:…``) and, through
``PGAPPNAME``, its database connections' ``application_name``, so the benchmark can tell which
worker recorded what. ``SKEW_SECONDS`` shifts ``time.time()`` and ``django.utils.timezone.now()``
(what the product reads for wall time); the monotonic clock and the database's are untouched, as
on a host whose NTP is off. django-q2's worker processes are forked, so they inherit both.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    name, skew, *command = sys.argv[1:]
    seconds = float(skew)
    os.environ["PGAPPNAME"] = name
    socket.gethostname = lambda: name
    if seconds:
        real_time = time.time
        time.time = lambda: real_time() + seconds
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tgcampaigns.settings")
    import django

    django.setup()
    if seconds:
        from datetime import timedelta

        from django.utils import timezone

        real_now = timezone.now
        timezone.now = lambda: real_now() + timedelta(seconds=seconds)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["manage.py", *command])


if __name__ == "__main__":
    main()
