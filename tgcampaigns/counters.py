"""Counters of events that happen inside one process (a worker taking over a lease, an import, an
export), for the Prometheus endpoint (:mod:`tgcampaigns.metrics`). Importing this module touches
no model, so any app may count.

With ``PROMETHEUS_MULTIPROC_DIR`` set (to a directory every process of the machine can write,
emptied at boot), prometheus-client keeps these in files shared by the machine's processes — the
gunicorn workers and the qcluster workers — so a scrape sees them all and a restarted worker's
counts survive it. Without it each process counts for itself (enough for one-process setups and
tests). What the database knows (messages by status and error code, sessions by state, rows
waiting) is read from it at each scrape instead, so it is the same whichever process answers.
"""

from __future__ import annotations

import os

from prometheus_client import Counter

# prometheus-client opens its file in the directory when a counter is made, and fails when the
# directory is missing: a worker started before gunicorn made it (or after a reboot emptied /run)
# would not start at all.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

LEASE_TAKEOVERS = Counter(
    "tgc_lease_takeovers",
    "Session leases taken over from a holder whose lease had expired (a worker that died or froze).",
)
CLAIM_TAKEOVERS = Counter(
    "tgc_claim_takeovers",
    "Rows a process left claimed or sending, taken back after it was gone (by the reaper, or by"
    " the session's next lease holder).",
)
IMPORT_ROWS = Counter("tgc_import_rows", "Recipient rows read by imports.")
IMPORT_SECONDS = Counter("tgc_import_seconds", "Seconds spent importing recipient lists.")
EXPORT_ROWS = Counter("tgc_export_rows", "Result rows written by exports (CSV and XLSX).", ["format"])
EXPORT_SECONDS = Counter("tgc_export_seconds", "Seconds spent streaming exports.", ["format"])
WEBHOOK_ATTEMPTS = Counter(
    "tgc_webhook_attempts",
    "Webhook requests made, by event type and outcome (delivered, retry: failed with retries left, "
    "failed: failed for good, refused: the address is not allowed).",
    ["event", "outcome"],
)
FLOODWAIT_SECONDS = Counter(
    "tgc_floodwait_seconds",
    "Seconds of FloodWait Telegram imposed, by session (counted when the FloodWait is answered).",
    ["session"],
)


def count_export(file_format: str, rows: int, seconds: float) -> None:
    """One export of ``rows`` result rows in ``file_format`` (``csv`` | ``xlsx``) that took ``seconds``."""
    EXPORT_ROWS.labels(file_format).inc(rows)
    EXPORT_SECONDS.labels(file_format).inc(seconds)


def count_import(rows: int, seconds: float) -> None:
    """One import (or a part of one) that read ``rows`` rows in ``seconds``."""
    IMPORT_ROWS.inc(rows)
    IMPORT_SECONDS.inc(seconds)
