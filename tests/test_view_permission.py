"""Django's rule, held in every view that checks by hand (issue 19.16): the change permission of a
model implies its view permission (``ModelAdmin.has_view_permission``), so a user allowed to change
campaigns may read their progress, charts and media, and a user allowed to change results may read
and export them like one who may view them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.base import ContentFile
from django.urls import reverse

from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db


def staff_with(*perms: str) -> User:
    user = User.objects.create_user("changer", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return User.objects.get(pk=user.pk)


@pytest.fixture
def campaign(people, alpha):
    return make_campaign("Spring", [people], [alpha])


@pytest.mark.parametrize("name", ["progress", "charts"])
def test_the_change_permission_reads_a_campaigns_json(client, campaign, name):
    client.force_login(staff_with("campaigns.change_campaign"))

    response = client.get(reverse(f"campaigns:{name}", args=[campaign.pk]))

    assert response.status_code == 200


@pytest.mark.parametrize("name", ["progress", "charts"])
def test_without_view_or_change_a_campaigns_json_is_refused(client, campaign, name):
    client.force_login(staff_with("campaigns.add_campaign"))

    assert client.get(reverse(f"campaigns:{name}", args=[campaign.pk])).status_code == 403


def test_the_change_permissions_read_the_report_and_export_the_results(client, campaign):
    client.force_login(
        staff_with(
            "campaigns.change_campaign", "campaigns.change_messageresult", "campaigns.export_messageresult"
        )
    )

    assert client.get(reverse("campaigns:report", args=[campaign.pk])).status_code == 200
    assert client.get(reverse("campaigns:export", args=[campaign.pk])).status_code == 200


def test_the_change_permission_opens_a_campaigns_media(client, campaign, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    campaign.media.save("note.txt", ContentFile(b"hello"))
    client.force_login(staff_with("campaigns.change_campaign"))

    assert client.get(f"/media/{campaign.media.name}").status_code == 200


def test_the_home_page_lists_campaigns_for_the_change_permission(client, campaign):
    client.force_login(staff_with("campaigns.change_campaign"))

    assert "Spring" in client.get(reverse("admin:index")).content.decode()
