"""What ``migrate`` keeps in place for the webhooks: the every-minute delivery sweep's schedule."""

from django.db.models.signals import post_migrate
from django.dispatch import receiver

from tgcampaigns.schedules import keep_every_minutes

SWEEP_SCHEDULE_NAME = "tgcampaigns webhook sweep"


@receiver(post_migrate)
def install_sweep_schedule(sender, app_config=None, **kwargs) -> None:
    """Keep exactly one every-minute django-q2 schedule for ``tgcampaigns.webhooks.tasks.sweep``."""
    if app_config is None or app_config.label != "webhooks":
        return
    keep_every_minutes(SWEEP_SCHEDULE_NAME, "tgcampaigns.webhooks.tasks.sweep")
