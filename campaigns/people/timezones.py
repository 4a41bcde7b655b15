"""Staff see and enter times in their own time zone: the site's ``TIME_ZONE`` unless they chose
another (:class:`~campaigns.models.StaffPreference`), always shown with the zone's name.

:class:`StaffTimeZoneMiddleware` activates the zone for each request (the admin's forms then read
and show datetimes in it, as Django does for the active zone); :func:`when` and :func:`clock`
format a time for sentences ("until 10:47 CET"). Which names are zones at all, and which column of
a recipient file holds one, is :mod:`campaigns.lists.zonenames`.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import datetime, tzinfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from ..lists.zonenames import valid_zone

SESSION_KEY = "tgc_time_zone"


def preferred_zone_name(user) -> str:
    """The zone ``user`` chose, or the site's ``TIME_ZONE``."""
    from ..models import StaffPreference

    chosen = StaffPreference.objects.filter(user_id=user.pk).values_list("time_zone", flat=True).first()
    return chosen if chosen and valid_zone(chosen) else settings.TIME_ZONE


def set_preferred_zone(request: HttpRequest, name: str) -> None:
    """Store ``name`` ("" for the site's zone) as the request's user's zone, for this session too."""
    from ..models import StaffPreference

    StaffPreference.objects.update_or_create(user=request.user, defaults={"time_zone": name})
    request.session[SESSION_KEY] = name or settings.TIME_ZONE
    timezone.activate(zoneinfo.ZoneInfo(request.session[SESSION_KEY]))


class StaffTimeZoneMiddleware:
    """Activate the signed-in user's zone for the request. The name is kept in the session after
    the first request, so a page costs no query for it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            name = request.session.get(SESSION_KEY)
            if not name or not valid_zone(name):
                name = preferred_zone_name(user)
                request.session[SESSION_KEY] = name
            timezone.activate(zoneinfo.ZoneInfo(name))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def zone_label(zone: tzinfo | None = None, at: datetime | None = None) -> str:
    """The active (or given) zone for staff: "Europe/Berlin (CET)", "UTC"."""
    zone = zone or timezone.get_current_timezone()
    name = str(getattr(zone, "key", zone))
    abbreviation = (at or timezone.now()).astimezone(zone).tzname() or ""
    return name if abbreviation in ("", name) else f"{name} ({abbreviation})"


def when(value: datetime | None, *, seconds: bool = False) -> str:
    """``value`` in the active zone with its name: "2026-11-29 10:39 CET" ("—" for None)."""
    if value is None:
        return "—"
    local = timezone.localtime(value)
    return local.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "")) + f" {local.tzname()}"


def clock(value: datetime | None, now: datetime | None = None) -> str:
    """``value`` as a time of day with the zone's name when it is today ("10:47 CET"), else as
    :func:`when` does ("2026-11-30 00:00 CET")."""
    if value is None:
        return "—"
    local, today = timezone.localtime(value), timezone.localtime(now or timezone.now())
    if local.date() == today.date():
        return local.strftime("%H:%M") + f" {local.tzname()}"
    return when(value)


def duration(seconds: float) -> str:
    """A span for people: "under a minute", "6 min", "2 h 5 min", "3 days 4 h"."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def about(seconds: float) -> str:
    """A span as an estimate: "under a minute", "about 6 min"."""
    span = duration(seconds)
    return span if span.startswith("under") else f"about {span}"
