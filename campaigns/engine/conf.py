"""The engine's settings, read at call time so ``override_settings`` works (post_office's
``get_batch_size()`` pattern)."""

from __future__ import annotations

from django.conf import settings

# Lease owners of the send loop are named "drive:host:pid:…" (sessions_app.leases.owner_name).
DRIVE_PURPOSE = "drive"


def slice_seconds() -> float:
    """Longest slice of one drive task (seconds; ``TGC_SLICE_SECONDS``)."""
    return float(settings.TGC_SLICE_SECONDS)


def sessions_per_driver() -> int:
    """Sessions one drive task leases; more fan out to other workers (``TGC_SESSIONS_PER_DRIVER``)."""
    return int(settings.TGC_SESSIONS_PER_DRIVER)


def max_in_flight() -> int:
    """Requests one session may have awaiting Telegram's answer at once (``TGC_MAX_IN_FLIGHT``)."""
    return int(settings.TGC_MAX_IN_FLIGHT)


def delete_imported_contacts() -> bool:
    """Delete contacts imported to reach phones after a campaign (``TGC_DELETE_IMPORTED_CONTACTS``)."""
    return bool(settings.TGC_DELETE_IMPORTED_CONTACTS)


def inline_launch_rows() -> int:
    """Lists with more valid recipients than this are prepared by a worker, not in the web request
    (``TGC_INLINE_LAUNCH_ROWS``): a million rows take seconds, past a proxy's request timeout."""
    return int(settings.TGC_INLINE_LAUNCH_ROWS)
