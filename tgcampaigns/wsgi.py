"""WSGI entry point. A WSGI server runs no system checks, so the one that guards every signed
payload (sessions_app.E002: a missing or public SECRET_KEY with DEBUG off) is run here too."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tgcampaigns.settings")
application = get_wsgi_application()


def _refuse_an_insecure_secret_key() -> None:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from sessions_app.checks import secret_key_problem

    if not settings.DEBUG and (problem := secret_key_problem()):
        raise ImproperlyConfigured(f"{problem}: refusing to serve with DEBUG off (sessions_app.E002).")


_refuse_an_insecure_secret_key()
