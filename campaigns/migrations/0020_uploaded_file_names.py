from django.db import migrations, models


def names_known(apps, schema_editor):
    """A campaign's media name as its form recorded it (``media_info["file_name"]``, kept until a
    launch read the stored file again). A list's upload name was never kept: its pages show the
    stored name's last part, as before, until a file is uploaded again."""
    Campaign = apps.get_model("campaigns", "Campaign")
    for campaign in Campaign.objects.exclude(media="").only("pk", "media_info").iterator():
        name = (campaign.media_info or {}).get("file_name", "")
        if name:
            Campaign.objects.filter(pk=campaign.pk).update(media_name=name[:255])


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0019_no_consent_error_code"),
    ]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="media_name",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="recipientlist",
            name="file_name",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.RunPython(names_known, migrations.RunPython.noop),
    ]
