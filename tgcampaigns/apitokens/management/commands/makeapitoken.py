"""``manage.py makeapitoken USER NAME``: make an API token for ``USER`` named ``NAME`` and print it
(once: only its hash is kept), as the user's admin page does. Audited."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from tgcampaigns import audit
from tgcampaigns.apitokens.models import ApiToken
from tgcampaigns.audit import AuditAction


class Command(BaseCommand):
    help = "Make an API token for a user and print it (it is not shown again)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("name", help="What will use it, e.g. “Shop CRM”.")

    def handle(self, *args, username: str, name: str, **options) -> None:
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user “{username}”.")
        token, clear = ApiToken.objects.mint(user, name[:100])
        audit.record(
            audit.COMMAND_LINE, AuditAction.API_TOKEN_CREATE, f"API token “{token.name}” made.", token
        )
        self.stdout.write(clear)
