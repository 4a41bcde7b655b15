"""Worker hooks: a qcluster worker recovers abandoned rows when it starts."""

from django.conf import settings
from django.db.models.signals import post_migrate
from django.dispatch import receiver
from django_q.signals import post_spawn

REAPER_SCHEDULE_NAME = "tgcampaigns reaper"
OPTOUT_SCHEDULE_NAME = "tgcampaigns opt-out listener"


@receiver(post_spawn)
def recover_on_worker_start(sender, proc_name, **kwargs) -> None:
    """Run the reaper once as each worker process starts (DESIGN.md "Reaper")."""
    from django_q.conf import Conf

    from . import engine

    if Conf.SYNC:  # tasks run inline (tests): there is no worker process starting
        return
    try:
        engine.reap()
    except Exception:  # a worker must start even when the database is briefly unavailable
        import logging

        logging.getLogger(__name__).exception("reaper at worker start failed")


@receiver(post_migrate)
def ensure_tally_triggers(sender, app_config=None, using="default", **kwargs) -> None:
    """Re-install the result tally's triggers if a migration dropped them (SQLite rebuilds a table
    to alter some fields, and its triggers go with the old table); the tally is then recounted."""
    if app_config is None or app_config.label != "campaigns":
        return
    from django.db import connections

    from .models.tally import ensure_triggers

    if ensure_triggers(connections[using]):
        import logging

        logging.getLogger(__name__).info("result tally triggers (re)installed and the tally recounted")


@receiver(post_migrate)
def install_reaper_schedule(sender, app_config=None, **kwargs) -> None:
    """Keep exactly one every-minute django-q2 schedule for ``campaigns.tasks.reap``."""
    if app_config is None or app_config.label != "campaigns":
        return
    from django_q.models import Schedule

    if settings.TGC_OPTOUT_SCHEDULE:
        Schedule.objects.update_or_create(
            name=OPTOUT_SCHEDULE_NAME,
            defaults={
                "func": "campaigns.tasks.listen_optouts",
                "schedule_type": Schedule.MINUTES,
                "minutes": 1,
                "repeats": -1,
            },
        )
    else:
        Schedule.objects.filter(name=OPTOUT_SCHEDULE_NAME).delete()
    Schedule.objects.update_or_create(
        name=REAPER_SCHEDULE_NAME,
        defaults={
            "func": "campaigns.tasks.reap",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
