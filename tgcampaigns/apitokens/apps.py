from django.apps import AppConfig


class ApiTokensConfig(AppConfig):
    name = "tgcampaigns.apitokens"
    label = "apitokens"
    verbose_name = "API tokens"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
