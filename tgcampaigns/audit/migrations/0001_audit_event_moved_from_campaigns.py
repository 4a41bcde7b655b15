"""AuditEvent moves from ``campaigns`` to this app without touching its table: the model is created
in this app's migration state only (its table, ``campaigns_auditevent``, already exists, made by
``campaigns`` 0003), and ``campaigns`` 0011 deletes it from its own state only. Its content type is
renamed, so the ``view_auditevent`` permission (and every group holding it) follows the model.
On a fresh database the table is created by ``campaigns`` 0003 as before."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if ContentType.objects.filter(app_label="audit", model="auditevent").exists():
        return
    ContentType.objects.filter(app_label="campaigns", model="auditevent").update(app_label="audit")


def move_content_type_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if ContentType.objects.filter(app_label="campaigns", model="auditevent").exists():
        return
    ContentType.objects.filter(app_label="audit", model="auditevent").update(app_label="campaigns")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("campaigns", "0010_same_person_under_two_keys"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ("actor", models.CharField(blank=True, max_length=150)),
                        (
                            "action",
                            models.CharField(
                                choices=[('campaign.launch', 'Campaign launched'), ('campaign.pause', 'Campaign paused'), ('campaign.resume', 'Campaign resumed'), ('campaign.cancel', 'Campaign cancelled'), ('campaign.retry_failed', 'Failed messages retried'), ('campaign.resend_unknown', 'Unknown messages resent'), ('campaign.test_send', 'Test message sent'), ('campaign.clone', 'Campaign cloned'), ('campaign.sessions', 'Sessions of a paused campaign changed'), ('campaign.winner', 'A/B test winner chosen'), ('seedlist.change', 'Seed list saved or deleted'), ('staff.time_zone', 'Own time zone chosen'), ('results.export', 'Results exported'), ('results.delete', 'Results deleted'), ('list.import', 'Recipient list imported'), ('list.delete', 'Recipient list deleted'), ('session.login', 'Session login step'), ('session.disable', 'Session disabled'), ('session.reactivate', 'Session re-activated'), ('session.unquarantine', 'Session un-quarantined'), ('session.release_lease', 'Session lease released'), ('session.health', 'Session health checked'), ('suppression.add', 'Suppression added'), ('suppression.change', 'Suppression changed'), ('suppression.delete', 'Suppression deleted'), ('suppression.import', 'Suppressions added in bulk'), ('person.erase', 'Person erased'), ('retention.purge', 'Old data purged')], db_index=True, max_length=40
                            ),
                        ),
                        ("message", models.TextField()),
                        ("object_id", models.CharField(blank=True, max_length=64)),
                        ("object_repr", models.CharField(blank=True, max_length=200)),
                        (
                            "content_type",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="contenttypes.contenttype",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "campaigns_auditevent",
                        "ordering": ["-at", "-id"],
                        "default_permissions": ("view",),
                        "indexes": [models.Index(fields=["content_type", "object_id"], name="audit_object_idx")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
