"""System checks of the API's settings."""

from __future__ import annotations

from django.core.checks import Error, register
from rest_framework.throttling import SimpleRateThrottle

from tgcampaigns import conf


@register()
def api_settings_check(app_configs, **kwargs) -> list[Error]:
    """apitokens.E001: ``TGC_API_RATE`` is no rate (``N/s``, ``N/min``, ``N/hour``, ``N/day``).
    apitokens.E002: ``TGC_API_MAX_BODY_BYTES`` is not positive."""
    errors = []
    rate = conf.api_rate()
    try:
        number, period = rate.split("/")
        SimpleRateThrottle.parse_rate(None, rate)
        valid = int(number) > 0 and period[:1] in "smhd" and period != ""
    except (ValueError, KeyError, IndexError):
        valid = False
    if not valid:
        errors.append(
            Error(
                f"TGC_API_RATE={rate!r} is no rate.",
                hint="Write requests per period, e.g. 600/min, 20/s, 10000/hour.",
                id="apitokens.E001",
            )
        )
    if conf.api_max_body_bytes() <= 0:
        errors.append(Error("TGC_API_MAX_BODY_BYTES must be positive.", id="apitokens.E002"))
    return errors
