"""Re-encrypt every stored secret under the newest ``FIELD_ENCRYPTION_KEY``: the columns each
model names in ``ENCRYPTED_FIELDS`` (:func:`tgcampaigns.crypto.encrypted_models`: sessions'
StringSession, bot token and API hash, webhook subscriptions' signing secrets).

Rotation: prepend a new key (``FIELD_ENCRYPTION_KEY=new,old``), restart, run this command, then
drop the old key. Rows are rewritten one UPDATE each, so a crash midway leaves every row readable.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tgcampaigns import crypto


class Command(BaseCommand):
    help = "Re-encrypt every stored secret (session strings, bot tokens, API hashes, webhook signing secrets) under the newest FIELD_ENCRYPTION_KEY."

    def handle(self, *args, **options) -> None:
        if len(crypto.get_keys()) < 2:
            self.stdout.write("Only one key configured: secrets are re-encrypted under it anyway.")
        for model, fields in crypto.encrypted_models():
            count = self._rotate(model, fields)
            plural = model._meta.verbose_name_plural if count != 1 else model._meta.verbose_name
            self.stdout.write(self.style.SUCCESS(f"Re-encrypted the secrets of {count} {plural}."))

    @staticmethod
    def _rotate(model, fields: tuple[str, ...]) -> int:
        """Rows of ``model`` rewritten (every one); raises CommandError at the first row no
        configured key opens, the rows before it already rewritten and readable."""
        count = 0
        for pk, *values in model.objects.values_list("pk", *fields).iterator():
            try:
                rotated = {name: crypto.rotate(value) for name, value in zip(fields, values, strict=True)}
            except crypto.InvalidToken:
                raise CommandError(
                    f"{model._meta.verbose_name.capitalize()} id {pk}: no configured key opens its secrets; "
                    "nothing more was changed."
                ) from None
            with transaction.atomic():
                model.objects.filter(pk=pk).update(**rotated)
            count += 1
        return count
