"""The rate limit per API token (``TGC_API_RATE``), counted in the ``api`` cache (Redis when
``REDIS_URL`` is set, so every web process counts together). Over it: 429 with ``Retry-After``."""

from __future__ import annotations

from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

from tgcampaigns import conf


class TokenRateThrottle(SimpleRateThrottle):
    """One bucket per token; requests without a token are not counted here (they get 401)."""

    scope = "token"

    def __init__(self) -> None:
        self.cache = caches["api"]
        self.rate = conf.api_rate()  # read at call time: override_settings reaches it
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_cache_key(self, request, view) -> str | None:
        token = getattr(request, "auth", None)
        if token is None or not hasattr(token, "pk"):
            return None
        return self.cache_format % {"scope": self.scope, "ident": token.pk}
