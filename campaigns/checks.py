"""System checks: the django-q2 settings the delivery engine relies on."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def q_cluster_check(app_configs, **kwargs):
    """campaigns.E001: ``Q_CLUSTER['timeout']`` must exceed the drive slice by 10 s.
    campaigns.E003: ``retry`` must be well above ``timeout``, or the ORM broker re-delivers a
    slice that is still running. campaigns.E002: a lease of at least 2 s (renewed every third)."""
    errors = []
    q = settings.Q_CLUSTER
    slice_s = float(settings.TGC_SLICE_SECONDS)
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
    if settings.TGC_LEASE_SECONDS < 2:
        errors.append(Error("TGC_LEASE_SECONDS must be at least 2 seconds.", id="campaigns.E002"))
    return errors
