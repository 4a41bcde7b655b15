"""Uploaded files (recipient lists, campaign media) under MEDIA_URL: staff with the owner's view
permission only, whatever DEBUG says, and never a file outside MEDIA_ROOT or one no row owns."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.urls import reverse

from campaigns.models import Campaign, RecipientList

pytestmark = pytest.mark.django_db

LIST_CSV = b"recipient,first_name\n@alice_w,Alice\n"


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def stored_list(media_root) -> RecipientList:
    recipient_list = RecipientList(name="Spring", consent_basis="opt_in")
    recipient_list.file.save("spring.csv", ContentFile(LIST_CSV))
    return recipient_list


def test_an_anonymous_visitor_is_sent_to_the_login_page(client, stored_list):
    response = client.get(stored_list.file.url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_download_a_recipient_lists_file_as_an_attachment(client, mark, stored_list):
    client.force_login(mark)

    response = client.get(stored_list.file.url)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == LIST_CSV
    assert response["Content-Disposition"].startswith("attachment;")
    assert "private" in response["Cache-Control"]


def test_staff_see_a_campaigns_image_inline(client, mark, media_root, cases_dir):
    campaign = Campaign.objects.create(name="Photo")
    campaign.media.save("photo.jpg", ContentFile((cases_dir / "media" / "photo.jpg").read_bytes()))
    client.force_login(mark)

    response = client.get(campaign.media.url)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith("inline;")


def test_staff_without_the_lists_view_permission_are_refused(client, stored_list):
    client.force_login(User.objects.create_user("temp", password="x", is_staff=True))

    assert client.get(stored_list.file.url).status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "lists/../../secret.txt",
        "lists/%2e%2e/%2e%2e/secret.txt",
        "..%2fsecret.txt",
        "lists/left_behind.csv",  # a refused upload's file: no list refers to it
        "other/notes.txt",  # a folder no model uploads to
    ],
)
def test_only_files_a_row_owns_inside_the_media_folder_are_served(
    client, olga, stored_list, media_root, path
):
    (media_root.parent / "secret.txt").write_text("not for the web")
    for stray in ("lists/left_behind.csv", "other/notes.txt"):
        (media_root / stray).parent.mkdir(parents=True, exist_ok=True)
        (media_root / stray).write_bytes(LIST_CSV)
    client.force_login(olga)

    assert client.get(stored_list.file.url).status_code == 200
    assert client.get("/media/" + path).status_code == 404
