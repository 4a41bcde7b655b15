"""Every ``TGC_*`` setting, one small accessor each, read at call time (so ``override_settings``
works in tests and a changed value reaches the next call, as post_office's ``get_batch_size()``).

The settings are set from the environment in :mod:`tgcampaigns.settings`; each accessor's
docstring gives the unit and the default, and ``docs/operating.md`` "Settings" lists them all
(``tests/test_layout.py`` holds the list and this module to each other). Code reads a ``TGC_*``
setting only through here, never ``settings.TGC_…`` itself. This module imports nothing of the
project, so every app may import it.
"""

from __future__ import annotations

from django.conf import settings

MIB = 1024 * 1024


def _get(name: str, default):
    return getattr(settings, name, default)


# --- Sending: the drive slices, leases and pace ---------------------------------------------------


def slice_seconds() -> float:
    """Longest slice of one drive task (seconds; ``TGC_SLICE_SECONDS``, default 60). Django-q2's
    ``timeout`` must stay above it (check ``campaigns.E001``)."""
    return float(_get("TGC_SLICE_SECONDS", 60.0))


def lease_seconds() -> float:
    """How long a session's lease lasts without renewal (seconds; ``TGC_LEASE_SECONDS``, default
    30, at least 2: check ``campaigns.E002``)."""
    return float(_get("TGC_LEASE_SECONDS", 30.0))


def sessions_per_driver() -> int:
    """Sessions one drive task leases; more fan out to other workers (``TGC_SESSIONS_PER_DRIVER``,
    default 50)."""
    return int(_get("TGC_SESSIONS_PER_DRIVER", 50))


def max_in_flight() -> int:
    """Requests one session may have awaiting Telegram's answer at once (``TGC_MAX_IN_FLIGHT``,
    default 8)."""
    return int(_get("TGC_MAX_IN_FLIGHT", 8))


def inline_launch_rows() -> int:
    """Lists with more valid recipients than this are prepared by a worker, not in the web request
    (rows; ``TGC_INLINE_LAUNCH_ROWS``, default 20,000): a million rows take seconds, past a proxy's
    request timeout."""
    return int(_get("TGC_INLINE_LAUNCH_ROWS", 20_000))


def schedule_grace_seconds() -> float:
    """A scheduled start missed by more than this pauses the campaign for a human instead of
    sending late (seconds; ``TGC_SCHEDULE_GRACE_SECONDS``, default 3600)."""
    return float(_get("TGC_SCHEDULE_GRACE_SECONDS", 3600.0))


def username_max_age() -> float:
    """How long a resolved username is trusted before it is looked up again: usernames change
    hands (seconds; ``TGC_USERNAME_MAX_AGE``, default 86,400 = one day)."""
    return float(_get("TGC_USERNAME_MAX_AGE", 24 * 3600.0))


def delete_imported_contacts() -> bool:
    """Delete the contacts a campaign's user sessions imported to reach phones, after the campaign
    (``TGC_DELETE_IMPORTED_CONTACTS``, default False: Telegram does not say whether a phone was
    already a contact, so the clean-up would also delete the account's own)."""
    return bool(_get("TGC_DELETE_IMPORTED_CONTACTS", False))


# --- After the send: replies, reads, opt-outs ----------------------------------------------------


def after_send_days() -> int:
    """Days after a campaign's launch during which the catch-up asks Telegram for its recipients'
    read marks and missed replies (days; ``TGC_AFTER_SEND_DAYS``, default 7)."""
    return int(_get("TGC_AFTER_SEND_DAYS", 7))


def catch_up_minutes() -> int:
    """How often the after-the-send catch-up runs (minutes; ``TGC_CATCH_UP_MINUTES``, default 5)."""
    return int(_get("TGC_CATCH_UP_MINUTES", 5))


def optout_schedule() -> bool:
    """Listen for opt-out replies inside the django-q2 workers, every minute, instead of (or
    besides) the ``listenoptouts`` command (``TGC_OPTOUT_SCHEDULE``, default False)."""
    return bool(_get("TGC_OPTOUT_SCHEDULE", False))


def opt_out_keywords() -> list[str]:
    """Words or phrases that opt a person out wherever they stand in a private reply, added to the
    built-in ones of ``campaigns.people.opt_out_words`` (``TGC_OPT_OUT_KEYWORDS``, comma-separated
    in the environment; default none): a brand's own word ("basta"), a language not built in."""
    return list(_get("TGC_OPT_OUT_KEYWORDS", []))


# --- Personal data: retention ----------------------------------------------------------------------


def results_retention_days() -> int:
    """Results of campaigns finished longer ago are deleted by the daily purge (days;
    ``TGC_RESULTS_RETENTION_DAYS``, default 0 = kept)."""
    return int(_get("TGC_RESULTS_RETENTION_DAYS", 0) or 0)


def lists_retention_days() -> int:
    """Recipient lists uploaded longer ago that no unfinished campaign uses are deleted by the daily
    purge (days; ``TGC_LISTS_RETENTION_DAYS``, default 0 = kept)."""
    return int(_get("TGC_LISTS_RETENTION_DAYS", 0) or 0)


# --- Recipient file imports ------------------------------------------------------------------------


def default_region() -> str:
    """The phone region offered by default in the mapping step and in *Add many* suppressions: the
    country of a phone written without its country code (ISO 3166 code such as ``DE``;
    ``TGC_DEFAULT_REGION``, default "": none). Returned as written."""
    return _get("TGC_DEFAULT_REGION", "") or ""


def import_max_bytes() -> int:
    """A recipient file's largest size, checked while it uploads (bytes; ``TGC_IMPORT_MAX_BYTES``,
    default 100 MiB)."""
    return int(_get("TGC_IMPORT_MAX_BYTES", 100 * MIB))


def import_max_rows() -> int:
    """Data rows one list may hold; the import stops at the first row over it (rows;
    ``TGC_IMPORT_MAX_ROWS``, default 1,000,000)."""
    return int(_get("TGC_IMPORT_MAX_ROWS", 1_000_000))


def import_max_cell_chars() -> int:
    """Characters in one cell; a longer cell makes its row invalid (characters;
    ``TGC_IMPORT_MAX_CELL_CHARS``, default 10,000)."""
    return int(_get("TGC_IMPORT_MAX_CELL_CHARS", 10_000))


def import_max_uncompressed_bytes() -> int:
    """What an XLSX workbook may expand to, read from its zip directory before it is opened (bytes;
    ``TGC_IMPORT_MAX_UNCOMPRESSED_BYTES``, default 200 MiB)."""
    return int(_get("TGC_IMPORT_MAX_UNCOMPRESSED_BYTES", 200 * MIB))


def import_inline_max_bytes() -> int:
    """Files up to this size are imported while the page waits; larger ones in a django-q2 worker
    (bytes; ``TGC_IMPORT_INLINE_MAX_BYTES``, default 2 MiB)."""
    return int(_get("TGC_IMPORT_INLINE_MAX_BYTES", 2 * MIB))


# --- The web side ----------------------------------------------------------------------------------


def trusted_proxies() -> int:
    """Reverse proxies in front of the site, each appending to ``X-Forwarded-For``: the login
    lockout counts the address the outermost one saw (proxies; ``TGC_TRUSTED_PROXIES``, default 0:
    ``REMOTE_ADDR`` is the client)."""
    return int(_get("TGC_TRUSTED_PROXIES", 0) or 0)


def metrics_token() -> str:
    """The bearer token a Prometheus scrape of ``/metrics`` must send (``TGC_METRICS_TOKEN``,
    default empty: no token is accepted)."""
    return str(_get("TGC_METRICS_TOKEN", "") or "")


def metrics_networks() -> list[str]:
    """CIDRs whose connections may read ``/metrics`` without the token (``TGC_METRICS_NETWORKS``,
    comma-separated, default none). With neither this nor the token, metrics are off (404)."""
    return [n.strip() for n in (_get("TGC_METRICS_NETWORKS", []) or []) if n.strip()]


# --- Webhooks --------------------------------------------------------------------------------------


def webhook_allow_private() -> bool:
    """Let webhook requests reach private, loopback, link-local and other non-public addresses
    (``TGC_WEBHOOK_ALLOW_PRIVATE``, default False: refused, against server-side request forgery).
    On only for a receiver inside your own network, and for tests."""
    return bool(_get("TGC_WEBHOOK_ALLOW_PRIVATE", False))


def webhook_timeout() -> float:
    """Seconds a webhook request may take to connect, and between two reads of its answer
    (seconds; ``TGC_WEBHOOK_TIMEOUT``, default 10); the whole answer is read within three times it."""
    return float(_get("TGC_WEBHOOK_TIMEOUT", 10.0))


def webhook_disable_after() -> int:
    """Deliveries to one subscription that fail for good in a row (every retry used, no success
    between) before it is disabled, with the reason shown (``TGC_WEBHOOK_DISABLE_AFTER``, default 5)."""
    return max(1, int(_get("TGC_WEBHOOK_DISABLE_AFTER", 5)))


def webhook_retention_days() -> int:
    """Webhook events (and their deliveries and log) older than this are deleted by the sweep; their
    payloads may hold a reply's text and a person's identities (days; ``TGC_WEBHOOK_RETENTION_DAYS``,
    default 30)."""
    return max(1, int(_get("TGC_WEBHOOK_RETENTION_DAYS", 30)))


# --- The REST API ----------------------------------------------------------------------------------


def api_rate() -> str:
    """Requests one API token may make, as DRF writes a rate: ``"600/min"``, ``"20/s"``,
    ``"10000/hour"`` (``TGC_API_RATE``, default 600/min). Over it: 429 with ``Retry-After``."""
    return str(_get("TGC_API_RATE", "600/min") or "600/min")


def api_max_body_bytes() -> int:
    """The largest request body under ``/api/`` that is not a file upload (bytes;
    ``TGC_API_MAX_BODY_BYTES``, default 8 MiB: 10,000 recipients with a few fields each). Larger:
    413. File uploads are held to ``TGC_IMPORT_MAX_BYTES``."""
    return int(_get("TGC_API_MAX_BODY_BYTES", 8 * MIB))


# --- Pages ----------------------------------------------------------------------------------------


def page_cache_seconds() -> float:
    """How long a campaign page's computed blocks (progress, preview, the composer's sample, its
    drawn fieldsets) are reused while the campaign and its counts are unchanged, and the admin's navigation sidebar
    per user, permissions, language and page (seconds; ``TGC_PAGE_CACHE_SECONDS``, default 2,
    the progress block's polling interval; 0: never reused)."""
    return float(_get("TGC_PAGE_CACHE_SECONDS", 2.0) or 0)
