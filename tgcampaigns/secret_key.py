"""The SECRET_KEY guard (sessions_app.E002), without Django: the settings module runs it, so it
holds in every process that loads the settings — the web server, ``qcluster`` and the workers it
starts, ``--skip-checks``, ``shell``, a script calling ``django.setup()`` — not only where the
system checks run. It signs sessions and password-reset links, and django-q2 signs its broker
payloads (pickles) with it: with a published key, anyone who can write to the broker runs code
in the workers."""

from __future__ import annotations

import sys
from pathlib import Path

# Django's own criteria for a weak key (django.core.checks.security.base, W009).
MIN_LENGTH = 50
MIN_UNIQUE_CHARACTERS = 5

# Management commands that only compare the models with the migration files: they sign nothing
# and reach no broker, so a developer's checkout without a .env may run them.
CODE_ONLY_COMMANDS = ("makemigrations",)

HINT = (
    "Set SECRET_KEY in the environment or .env to the output of: "
    "python -c 'import secrets; print(secrets.token_urlsafe(50))' (scripts/demo writes one), "
    "or set DEBUG=1 for a local run."
)


def problem(key: str, public_default: str) -> str:
    """Why ``key`` must not be used with DEBUG off ("" when it is fine): unset, the public
    default ``public_default`` of ``tgcampaigns/settings.py``, Django's ``django-insecure-``
    placeholder, or weak by Django's measure (under 50 characters or under 5 distinct ones)."""
    if not key:
        return "SECRET_KEY is not set"
    if key == public_default or key.startswith("django-insecure"):
        return "SECRET_KEY is the public default from the repository"
    if len(key) < MIN_LENGTH or len(set(key)) < MIN_UNIQUE_CHARACTERS:
        return f"SECRET_KEY is weak (fewer than {MIN_LENGTH} characters or few distinct ones)"
    return ""


def code_only_command(argv: list[str] | None = None) -> bool:
    """Whether this process is ``manage.py`` (or ``django-admin``) running a
    :data:`CODE_ONLY_COMMANDS` command."""
    argv = sys.argv if argv is None else argv
    return (
        len(argv) > 1
        and Path(argv[0]).name in ("manage.py", "django-admin", "django-admin.py")
        and argv[1] in CODE_ONLY_COMMANDS
    )


def refuse_an_insecure_key(key: str, public_default: str, debug: bool) -> None:
    """Ends the process (``SystemExit``, one line on stderr naming the fix) when DEBUG is off and
    ``key`` has a :func:`problem`, unless the process runs a code-only command."""
    if debug or code_only_command():
        return
    if found := problem(key, public_default):
        raise SystemExit(f"sessions_app.E002: {found}: refusing to run with DEBUG off. {HINT}")
