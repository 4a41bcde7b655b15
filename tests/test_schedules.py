"""The django-q2 schedules ``migrate`` keeps (tgcampaigns.schedules): one per name, every N
minutes for ever, updated in place when a migrate runs again with other settings."""

from __future__ import annotations

import pytest
from django.apps import apps
from django_q.models import Schedule

from campaigns.signals import install_reaper_schedule
from tgcampaigns.schedules import keep_every_minutes
from tgcampaigns.webhooks.signals import install_sweep_schedule

pytestmark = pytest.mark.django_db


def test_keep_every_minutes_makes_one_schedule_and_updates_it_in_place():
    keep_every_minutes("tgc test", "campaigns.tasks.reap")
    first = Schedule.objects.get(name="tgc test")

    keep_every_minutes("tgc test", "campaigns.tasks.reap", minutes=7)

    [schedule] = Schedule.objects.filter(name="tgc test")
    assert schedule.pk == first.pk
    fields = (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats)
    assert fields == ("campaigns.tasks.reap", Schedule.MINUTES, 7, -1)


def test_every_minute_schedule_of_both_apps_is_kept_once_as_before(settings):
    settings.TGC_OPTOUT_SCHEDULE = True
    settings.TGC_CATCH_UP_MINUTES = 0  # at least every minute
    for _ in range(2):
        install_reaper_schedule(sender=None, app_config=apps.get_app_config("campaigns"))
        install_sweep_schedule(sender=None, app_config=apps.get_app_config("webhooks"))

    kept = {
        s.func: (s.schedule_type, s.minutes, s.repeats)
        for s in Schedule.objects.exclude(schedule_type=Schedule.DAILY)
    }
    assert kept == {
        "campaigns.tasks.reap": (Schedule.MINUTES, 1, -1),
        "campaigns.tasks.listen_optouts": (Schedule.MINUTES, 1, -1),
        "campaigns.tasks.catch_up_after_send": (Schedule.MINUTES, 1, -1),
        "tgcampaigns.webhooks.tasks.sweep": (Schedule.MINUTES, 1, -1),
    }
    assert Schedule.objects.count() == Schedule.objects.values("name").distinct().count()
