"""Admin login throttling with django-axes: a user name is locked out from an IP address after
``AXES_FAILURE_LIMIT`` wrong passwords, for ``AXES_COOLOFF_HOURS``. ``manage.py
axes_reset_username NAME`` (or ``axes_reset_ip IP``, ``axes_reset`` for everyone) lifts it early.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest

from tgcampaigns import conf


class LoginThrottle(AxesStandaloneBackend):
    """django-axes' check before every web login. An authentication with no request (a
    management command, the test client's ``login()``) has no IP address to lock out: it is
    passed on to the next backend instead of refused."""

    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address for lockouts: ``REMOTE_ADDR``, or behind ``TGC_TRUSTED_PROXIES`` trusted
    proxies (each appending to ``X-Forwarded-For``) the address the outermost one saw. Entries
    further left are the client's own claims and are never trusted."""
    count = conf.trusted_proxies()
    if count > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= count:
            return hops[-count]
    return request.META.get("REMOTE_ADDR")
