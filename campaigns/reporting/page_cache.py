"""A campaign page's computed blocks, reused for a couple of seconds: the progress snapshot, the
preview and the composer's sample of recipients cost tens of milliseconds of CPU each, and a team
watching a big send asks for them many times a second (the page, and every open page's poll of
``progress.json``).

Each entry is keyed by what it was computed from: the campaign's own fields, lists, segments and
sessions and its counts per status from the maintained tally (:meth:`Campaign.counts`), so a message sent,
a status change or an edit is shown at the next request; what moves without them (a session's FloodWait, the time
left) is at most :func:`~tgcampaigns.conf.page_cache_seconds` old. Django's cache of the process
(``CACHES``); nothing is kept once the time is up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.utils import timezone, translation

from tgcampaigns import conf

from ..models import Campaign

T = TypeVar("T")


def saved_state(campaign: Campaign) -> str:
    """A digest of what was saved of ``campaign``: its fields and the ids of its lists, segments and
    sessions (not its counts: they move on every send). Read once per instance (up to three
    small queries: none for a relation prefetched with it)."""
    known = getattr(campaign, "_saved_state", None)
    if known is None:
        fields = tuple(getattr(campaign, f.attname) for f in Campaign._meta.concrete_fields)
        related = tuple(
            # all(): the sessions prefetched with the campaign (its admin's rows) cost no query.
            tuple(sorted(row.pk for row in getattr(campaign, name).all()))
            if name in getattr(campaign, "_prefetched_objects_cache", {})
            else tuple(getattr(campaign, name).order_by("pk").values_list("pk", flat=True))
            for name in ("lists", "segments", "sessions")
        )
        known = hashlib.blake2b(repr((fields, related)).encode(), digest_size=16).hexdigest()
        campaign._saved_state = known
    return known


def campaign_state(campaign: Campaign) -> str:
    """A digest of :func:`saved_state` and ``campaign``'s counts per status (from the tally): it
    changes whenever one of them does. Read once per instance (one query more), so the blocks of
    one page share it."""
    known = getattr(campaign, "_page_state", None)
    if known is None:
        parts = (saved_state(campaign), sorted(campaign.counts().items()))
        known = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
        campaign._page_state = known
    return known


def reused(name: str, key: tuple, build: Callable[[], T]) -> T:
    """``build()``, or what it returned for the same ``name`` and ``key`` (hashable parts, e.g.
    the campaign's id and :func:`campaign_state`) at most ``TGC_PAGE_CACHE_SECONDS`` ago, built
    in the same time zone and language (what it wrote, a clock or an ETA, is in the asker's)."""
    seconds = conf.page_cache_seconds()
    if seconds <= 0:
        return build()
    where = (timezone.get_current_timezone_name(), translation.get_language())
    entry = (
        "tgc-page:" + name + ":" + hashlib.blake2b(repr((key, where)).encode(), digest_size=16).hexdigest()
    )
    found = cache.get(entry)
    if found is not None:
        return found
    value = build()
    cache.set(entry, value, seconds)
    return value
