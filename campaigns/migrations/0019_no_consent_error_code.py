"""Results skipped at an earlier launch for want of consent get their own error code, NO_CONSENT,
as launches now write it (they had INVALID_RECIPIENT, like a malformed line). Such a row kept its
recipient row's reason as its error text, which starts as the import words a refusal of the list's
consent or opt-out column (campaigns.models.lists.NO_CONSENT_PREFIXES, copied here: a migration
keeps the words of its day). One UPDATE; the results' tally follows by its triggers."""

from django.db import migrations
from django.db.models import Q

PREFIXES = ("no consent", "opted out (column")


def _refused():
    refused = Q()
    for prefix in PREFIXES:
        refused |= Q(error_text__startswith=prefix)
    return refused


def forwards(apps, schema_editor):
    MessageResult = apps.get_model("campaigns", "MessageResult")
    MessageResult.objects.filter(_refused(), status="skipped", error_code="INVALID_RECIPIENT").update(
        error_code="NO_CONSENT"
    )


def backwards(apps, schema_editor):
    MessageResult = apps.get_model("campaigns", "MessageResult")
    MessageResult.objects.filter(status="skipped", error_code="NO_CONSENT").update(error_code="INVALID_RECIPIENT")


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0018_campaign_setting_ranges"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=True),
    ]
