"""AuditEvent now lives in the ``audit`` app (:mod:`tgcampaigns.audit`): removed from this app's
migration state only; its table ``campaigns_auditevent`` and its rows stay where they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0012_recipient_name_search_keys"),
        ("audit", "0001_audit_event_moved_from_campaigns"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent")],
            database_operations=[],
        ),
    ]
