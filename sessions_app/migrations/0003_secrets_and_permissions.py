"""API hashes encrypted at rest like session strings (existing values are encrypted with
FIELD_ENCRYPTION_KEY, which must then be set), and the session actions' permissions."""

from django.db import migrations, models


def encrypt_api_hashes(apps, schema_editor):
    from tgcampaigns import crypto

    TelegramSession = apps.get_model("sessions_app", "TelegramSession")
    rows = TelegramSession.objects.exclude(api_hash="").values_list("pk", "api_hash")
    for pk, api_hash in rows.iterator():
        # Raises ImproperlyConfigured without a key: the migration stops, nothing is lost.
        TelegramSession.objects.filter(pk=pk).update(api_hash_encrypted=crypto.encrypt(api_hash.strip()))


def decrypt_api_hashes(apps, schema_editor):
    from tgcampaigns import crypto

    TelegramSession = apps.get_model("sessions_app", "TelegramSession")
    rows = TelegramSession.objects.exclude(api_hash_encrypted="").values_list("pk", "api_hash_encrypted")
    for pk, token in rows.iterator():
        TelegramSession.objects.filter(pk=pk).update(api_hash=crypto.decrypt(token))


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_app", "0002_sent_media"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="telegramsession",
            options={
                "ordering": ["name"],
                "permissions": [
                    ("login_telegramsession", "Can log a session in to Telegram"),
                    ("operate_telegramsession", "Can check, disable and re-activate a session"),
                    ("release_lease_telegramsession", "Can release a session's lease"),
                    ("unquarantine_telegramsession", "Can un-quarantine a spam-limited session, with a reason"),
                ],
            },
        ),
        migrations.AddField(
            model_name="telegramsession",
            name="api_hash_encrypted",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RunPython(encrypt_api_hashes, decrypt_api_hashes),
        migrations.RemoveField(
            model_name="telegramsession",
            name="api_hash",
        ),
    ]
