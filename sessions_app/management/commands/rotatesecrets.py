"""Re-encrypt every stored secret under the newest ``FIELD_ENCRYPTION_KEY``.

Rotation: prepend a new key (``FIELD_ENCRYPTION_KEY=new,old``), restart, run this command, then
drop the old key. Rows are rewritten one UPDATE each, so a crash midway leaves every row readable.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from sessions_app import crypto
from sessions_app.models import TelegramSession


class Command(BaseCommand):
    help = (
        "Re-encrypt session strings, bot tokens, API hashes and webhook signing secrets under the "
        "newest FIELD_ENCRYPTION_KEY."
    )

    def handle(self, *args, **options) -> None:
        if len(crypto.get_keys()) < 2:
            self.stdout.write("Only one key configured: secrets are re-encrypted under it anyway.")
        count = self._rotate_sessions()
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted the secrets of {count} session(s)."))
        count = self._rotate_webhook_secrets()
        self.stdout.write(
            self.style.SUCCESS(f"Re-encrypted the signing secrets of {count} webhook subscription(s).")
        )

    def _rotate_sessions(self) -> int:
        count = 0
        secrets = ("session_string_encrypted", "bot_token_encrypted", "api_hash_encrypted")
        rows = TelegramSession.objects.values_list("pk", *secrets)
        for pk, *values in rows.iterator():
            try:
                fields = {name: crypto.rotate(value) for name, value in zip(secrets, values, strict=True)}
            except crypto.InvalidToken:
                raise CommandError(
                    f"Session id {pk}: no configured key opens its secrets; nothing more was changed."
                ) from None
            with transaction.atomic():
                TelegramSession.objects.filter(pk=pk).update(**fields)
            count += 1
        return count

    def _rotate_webhook_secrets(self) -> int:
        from tgcampaigns.webhooks.models import WebhookSubscription

        count = 0
        for pk, value in WebhookSubscription.objects.values_list("pk", "secret_encrypted").iterator():
            try:
                rotated = crypto.rotate(value)
            except crypto.InvalidToken:
                raise CommandError(
                    f"Webhook subscription id {pk}: no configured key opens its secret; nothing more was changed."
                ) from None
            WebhookSubscription.objects.filter(pk=pk).update(secret_encrypted=rotated)
            count += 1
        return count
