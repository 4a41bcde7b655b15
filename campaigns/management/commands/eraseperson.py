"""``manage.py eraseperson IDENTITY``: erase a person everywhere, by any identity
(campaigns.people.erasure)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from campaigns.people import erasure
from tgcampaigns import audit


class Command(BaseCommand):
    help = (
        "Erase a person everywhere by any identity (@username, phone, user id, t.me link). Cannot be undone."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("identity")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, identity: str, yes: bool, **options) -> None:
        if (
            not yes
            and input("Erase this person everywhere? This cannot be undone. [y/N] ").strip().lower() != "y"
        ):
            raise CommandError("Nothing erased.")
        try:
            report = erasure.erase_person(identity, actor=audit.COMMAND_LINE)
        except erasure.ErasureError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(report.summary()))
