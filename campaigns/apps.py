from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from . import checks, signals  # noqa: F401  (registers system checks and worker hooks)

        signals.connect_model_signals()
