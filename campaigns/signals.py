"""Worker hooks (a qcluster worker recovers abandoned rows when it starts) and what ``migrate``
keeps in place: the reaper's and the retention purge's schedules, and the staff roles."""

from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_migrate
from django.dispatch import receiver
from django_q.signals import post_spawn

from tgcampaigns import conf
from tgcampaigns.schedules import keep_every_minutes

REAPER_SCHEDULE_NAME = "tgcampaigns reaper"
RETENTION_SCHEDULE_NAME = "tgcampaigns retention purge"
OPTOUT_SCHEDULE_NAME = "tgcampaigns opt-out listener"
CATCH_UP_SCHEDULE_NAME = "tgcampaigns after-send catch-up"


@receiver(post_spawn)
def recover_on_worker_start(sender, proc_name, **kwargs) -> None:
    """Run the reaper once as each worker process starts (docs/design.md "How the work is driven", reaper)."""
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
    """Keep exactly one every-minute django-q2 schedule for ``campaigns.tasks.reap``, one daily
    for ``campaigns.tasks.purge_old_data`` (it does nothing while retention is off) and one every
    ``TGC_CATCH_UP_MINUTES`` (5) for ``campaigns.tasks.catch_up_after_send`` (reads and replies)."""
    if app_config is None or app_config.label != "campaigns":
        return
    from django_q.models import Schedule

    if conf.optout_schedule():
        keep_every_minutes(OPTOUT_SCHEDULE_NAME, "campaigns.tasks.listen_optouts")
    else:
        Schedule.objects.filter(name=OPTOUT_SCHEDULE_NAME).delete()
    Schedule.objects.update_or_create(
        name=RETENTION_SCHEDULE_NAME,
        defaults={"func": "campaigns.tasks.purge_old_data", "schedule_type": Schedule.DAILY, "repeats": -1},
    )
    keep_every_minutes(
        CATCH_UP_SCHEDULE_NAME,
        "campaigns.tasks.catch_up_after_send",
        minutes=max(1, conf.catch_up_minutes()),
    )
    keep_every_minutes(REAPER_SCHEDULE_NAME, "campaigns.tasks.reap")


@receiver(post_migrate)
def keep_roles(sender, app_config=None, apps=None, **kwargs) -> None:
    """Keep the Marketing, Reviewer and Operator groups as :data:`campaigns.people.roles.ROLES` says
    (after a flush, and when a release adds a permission). Runs after Django created this app's
    permissions: ``campaigns`` is the last app that has any."""
    if app_config is None or app_config.label != "campaigns":
        return
    from django.apps import apps as global_apps

    from .people.roles import install_roles

    install_roles(global_apps)


def _drop_list_file(sender, instance, **kwargs) -> None:
    """A deleted recipient list takes its uploaded file with it: the file holds personal data
    that no row refers to any more. After the transaction commits, so a rolled-back delete keeps
    it."""
    from django.db import transaction

    if instance.file:
        name, storage = instance.file.name, instance.file.storage
        transaction.on_commit(lambda: storage.delete(name))


def connect_model_signals() -> None:
    from django.db.models.signals import post_delete

    from .models import RecipientList

    post_delete.connect(_drop_list_file, sender=RecipientList, dispatch_uid="tgc_drop_list_file")


@receiver(user_logged_in)
def remember_time_zone(sender, request, user, **kwargs) -> None:
    """Keep the user's time zone in their session from the login on, so no page reads it again
    (campaigns.people.timezones.StaffTimeZoneMiddleware)."""
    from .people.timezones import SESSION_KEY, preferred_zone_name

    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = preferred_zone_name(user)
