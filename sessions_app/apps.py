from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    verbose_name = "Telegram sessions"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers system checks)
