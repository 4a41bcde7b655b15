from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "tgcampaigns.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (keeps the delivery sweep's schedule)
