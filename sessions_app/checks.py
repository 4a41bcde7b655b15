"""System checks for secrets configuration."""

from django.conf import settings
from django.core.checks import Error, Warning, register

from . import crypto


@register()
def encryption_key_check(app_configs, **kwargs):
    """sessions_app.E001: a configured FIELD_ENCRYPTION_KEY must be a valid Fernet key;
    sessions_app.W001: without one, no Telegram session can be logged in."""
    keys = crypto.get_keys()
    if not keys:
        return [
            Warning(
                "FIELD_ENCRYPTION_KEY is not set: Telegram sessions cannot be logged in.",
                hint="Set it to the output of: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
                id="sessions_app.W001",
            )
        ]
    try:
        crypto.encrypt("check")
    except Exception as exc:  # ImproperlyConfigured with the reason
        return [Error(str(exc), id="sessions_app.E001")]
    if not settings.TELEGRAM_API_ID or not settings.TELEGRAM_API_HASH:
        return [
            Warning(
                "TELEGRAM_API_ID/TELEGRAM_API_HASH are not set: Telethon sessions need them "
                "(here or on each session).",
                hint="Get them at https://my.telegram.org/apps",
                id="sessions_app.W002",
            )
        ]
    return []
