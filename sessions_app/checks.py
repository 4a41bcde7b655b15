"""System checks for secrets configuration."""

from django.conf import settings
from django.core.checks import Error, Warning, register

from tgcampaigns import crypto, secret_key


def secret_key_problem() -> str:
    """Why ``SECRET_KEY`` must not be used with DEBUG off ("" when it is fine): the criteria of
    :func:`tgcampaigns.secret_key.problem`, applied to the settings in force."""
    key = str(getattr(settings, "SECRET_KEY", "") or "")
    return secret_key.problem(key, getattr(settings, "INSECURE_SECRET_KEY", ""))


@register()
def secret_key_check(app_configs, **kwargs):
    """sessions_app.E002: with DEBUG off, a missing, default or weak ``SECRET_KEY``. It signs
    sessions and password-reset links, and django-q2 signs its broker payloads (pickles) with it:
    with a published key, anyone who can write to the broker runs code in the workers. An Error
    (not Django's deploy-only W009) so runserver, qcluster and migrate refuse to start; only
    ``makemigrations`` (:data:`tgcampaigns.secret_key.CODE_ONLY_COMMANDS`) runs without a key of one's own."""
    problem = secret_key_problem()
    if settings.DEBUG or not problem or secret_key.code_only_command():
        return []
    return [
        Error(
            f"{problem}: refusing to run with DEBUG off.",
            hint="Set SECRET_KEY in the environment or .env to the output of: "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))' (scripts/demo writes one).",
            id="sessions_app.E002",
        )
    ]


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
    if (
        not settings.TELEGRAM_API_ID or not settings.TELEGRAM_API_HASH
    ) and _telethon_sessions_lack_credentials():
        return [
            Warning(
                "TELEGRAM_API_ID/TELEGRAM_API_HASH are not set: Telethon sessions need them "
                "(here or on each session).",
                hint="Get them at https://my.telegram.org/apps",
                id="sessions_app.W002",
            )
        ]
    return []


def _telethon_sessions_lack_credentials() -> bool:
    """Whether a Telethon (not simulated) session exists without its own API id: only then do the
    settings matter. A simulator-only install (the demo) needs none. False when the database is
    not there yet (before ``migrate``)."""
    from django.db import DatabaseError

    from .models import Backend, TelegramSession

    try:
        return TelegramSession.objects.filter(backend=Backend.TELETHON, api_id=None).exists()
    except DatabaseError:
        return False


@register()
def telegram_server_check(app_configs, **kwargs):
    """``TELEGRAM_DC`` and ``TELEGRAM_PUBLIC_KEY`` readable (docs/staging.md): else every login and
    send would fail with the same message; said once at startup instead."""
    from django.core.exceptions import ImproperlyConfigured

    from . import servers

    try:
        servers.telegram_dc()
        servers.telegram_public_keys()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="See docs/staging.md.", id="sessions_app.E003")]
    return []
