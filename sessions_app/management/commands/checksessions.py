"""Check every session (or the named ones) with get_me and print one line each."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from sessions_app.health import check_health
from sessions_app.models import TelegramSession


class Command(BaseCommand):
    help = "Check the health of Telegram sessions (who they are, authorised, flood wait, last error)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("names", nargs="*", help="Session names (default: all).")

    def handle(self, *args, names: list[str], **options) -> None:
        sessions = TelegramSession.objects.all()
        if names:
            sessions = sessions.filter(name__in=names)
        for session in sessions:
            health = check_health(session)
            ok = health.checked and health.authorized and not health.error
            self.stdout.write((self.style.SUCCESS if ok else self.style.WARNING)(health.summary()))
