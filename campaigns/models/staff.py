"""What a staff user chose for themselves: the time zone they see and enter times in."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class StaffPreference(models.Model):
    """``time_zone``: an IANA name (``Europe/Berlin``); "" means the site's ``TIME_ZONE``."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tgc_preference"
    )
    time_zone = models.CharField(max_length=63, blank=True)

    class Meta:
        app_label = "campaigns"

    def __str__(self) -> str:
        return f"{self.user}: {self.time_zone or 'site time zone'}"
