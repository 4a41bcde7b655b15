"""System checks: the django-q2 settings the delivery engine relies on."""

from __future__ import annotations

import difflib
import os

from django.conf import settings
from django.core.checks import Error, Warning, register

from tgcampaigns import conf

# Every Q_CLUSTER key django-q2 (1.x, django_q/conf.py) reads; anything else is ignored by it,
# silently — so a misspelled "worker" leaves the default of 4 workers without a word.
Q_CLUSTER_KEYS = frozenset(
    "ack_failures broker_class bulk cache cached catch_up cluster_name compress cpu_affinity "
    "daemonize_workers django_redis error_reporter guard_cycle iron_mq label log_level max_attempts "
    "max_rss mongo mongo_db name orm poll queue_limit recycle redis retry save_limit save_limit_per "
    "scheduler sqs sync testing time_zone timeout workers ALT_CLUSTERS".split()
)
# The environment variables tgcampaigns/settings.py reads into Q_CLUSTER.
Q_ENVIRONMENT = frozenset({"Q_WORKERS", "Q_TIMEOUT", "Q_RETRY", "Q_CLUSTER_NAME"})


def _near(name: str, known: frozenset[str]) -> str:
    match = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


@register()
def q_cluster_check(app_configs, **kwargs):
    """campaigns.E001: ``Q_CLUSTER['timeout']`` must exceed the drive slice by 10 s.
    campaigns.E003: ``retry`` must be well above ``timeout``, or the ORM broker re-delivers a
    slice that is still running. campaigns.E002: a lease of at least 2 s (renewed every third).
    campaigns.E004: a ``Q_CLUSTER`` key django-q2 does not know (it would be ignored silently).
    campaigns.W005: a ``Q_…`` environment variable these settings do not read."""
    errors = []
    q = settings.Q_CLUSTER
    slice_s = conf.slice_seconds()
    timeout, retry = q.get("timeout"), q.get("retry")
    if timeout is None or timeout < slice_s + 10:
        errors.append(
            Error(
                f"Q_CLUSTER['timeout'] ({timeout}) must be at least TGC_SLICE_SECONDS + 10 ({slice_s + 10:.0f}).",
                id="campaigns.E001",
            )
        )
    if timeout is not None and (retry is None or retry < timeout * 1.5 + 30):
        errors.append(
            Error(
                f"Q_CLUSTER['retry'] ({retry}) must be comfortably above 'timeout' ({timeout}): "
                "at least 1.5 × timeout + 30 s, or a slow slice is delivered twice.",
                id="campaigns.E003",
            )
        )
    if conf.lease_seconds() < 2:
        errors.append(Error("TGC_LEASE_SECONDS must be at least 2 seconds.", id="campaigns.E002"))
    unknown = sorted(k for k in q if k not in Q_CLUSTER_KEYS)
    if unknown:
        named = ", ".join(f"{k!r}{_near(k, Q_CLUSTER_KEYS)}" for k in unknown)
        errors.append(
            Error(
                f"Q_CLUSTER has keys django-q2 does not know and would ignore: {named}.",
                hint="Fix the spelling; the keys are listed in django-q2's documentation (Configuration).",
                id="campaigns.E004",
            )
        )
    strays = sorted(k for k in os.environ if k.startswith("Q_") and k not in Q_ENVIRONMENT)
    if strays:
        named = ", ".join(f"{k}{_near(k, Q_ENVIRONMENT)}".replace("'", "") for k in strays)
        errors.append(
            Warning(
                f"Environment variables that tgcampaigns does not read: {named}.",
                hint=f"The django-q2 settings read from the environment are {', '.join(sorted(Q_ENVIRONMENT))}.",
                id="campaigns.W005",
            )
        )
    return errors
