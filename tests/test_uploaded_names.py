"""A file is shown by the name staff uploaded it with, not by the name the storage gave it: a second
``price_list.pdf`` is stored as ``price_list_aB3dE9x.pdf``, and every page (the campaign's form,
its composer, the launch summary, the test send, the locked page; a list's mapping step and page)
and Telegram itself (a document's file name) still say ``price_list.pdf``."""

from __future__ import annotations

import os
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns import engine
from campaigns.content.outgoing import message_builder
from campaigns.models import Campaign, CampaignStatus, RecipientList
from tests.conftest import make_campaign
from tests.test_admin import campaign_form, mapping_data

pytestmark = pytest.mark.django_db

PDF = "price_list.pdf"


def _without_addresses(page: str) -> str:
    """The page less its links' and sources' addresses (where the stored name belongs)."""
    return re.sub(r'(href|src|data-media-url)="[^"]*"', "", page)


def _upload_media(client, cases_dir, campaign: Campaign | None = None) -> Campaign:
    """``price_list.pdf`` attached through the campaign's form (a new draft, or ``campaign``)."""
    media = SimpleUploadedFile(PDF, (cases_dir / "media" / PDF).read_bytes())
    if campaign is None:
        data = campaign_form(media=media, message="Our prices")
        client.post(reverse("admin:campaigns_campaign_add"), data)
        return Campaign.objects.latest("pk")
    data = campaign_form(
        name=campaign.name,
        message="Our prices",
        media=media,
        lists=[x.pk for x in campaign.lists.all()],
        sessions=[s.pk for s in campaign.sessions.all()],
    )
    response = client.post(reverse("admin:campaigns_campaign_change", args=[campaign.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign.refresh_from_db()
    return campaign


def test_a_reuploaded_media_file_is_shown_and_sent_by_the_name_it_was_uploaded_with(
    client, mark, cases_dir, people, alpha
):
    client.force_login(mark)
    _upload_media(client, cases_dir)  # the first price_list.pdf: the name is taken in the storage
    campaign = _upload_media(client, cases_dir, make_campaign("Prices", [people], [alpha]))
    stored = os.path.basename(campaign.media.name)
    assert stored != PDF and stored.startswith("price_list_")  # renamed by the storage

    def shown(url: str) -> str:
        page = _without_addresses(client.get(url).content.decode())
        assert stored not in page, url
        return page

    change = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    assert shown(change).count(PDF) >= 2  # the file input's "Currently" and the composer's file
    assert PDF in shown(reverse("admin:campaigns_campaign_launch", args=[campaign.pk]))
    assert PDF in shown(reverse("admin:campaigns_campaign_test_send", args=[campaign.pk]))

    engine.launch(campaign, enqueue=False)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING
    assert PDF in shown(change)  # read-only now
    assert message_builder(campaign)({}).media.file_name == PDF  # the document's name in Telegram
    assert campaign.clone().media_file_name == PDF


def _upload_list(client, cases_dir, name: str):
    with (cases_dir / "recipients" / "basic.csv").open("rb") as fh:
        data = {
            "name": name,
            "consent_basis": "opt_in",
            "consent_note": "",
            "file": SimpleUploadedFile("basic.csv", fh.read()),
        }
    return client.post(reverse("admin:campaigns_recipientlist_add"), data, follow=True)


def test_a_reuploaded_list_file_is_shown_by_the_name_it_was_uploaded_with(client, mark, cases_dir):
    client.force_login(mark)
    _upload_list(client, cases_dir, "First")
    mapping = _upload_list(client, cases_dir, "Second")
    second = RecipientList.objects.get(name="Second")
    stored = os.path.basename(second.file.name)
    assert stored != "basic.csv" and stored.startswith("basic_")

    shown = _without_addresses(mapping.content.decode())
    assert "basic.csv" in shown and stored not in shown
    client.post(mapping.request["PATH_INFO"], mapping_data(mapping) | {"_import": "1"})
    page = client.get(reverse("admin:campaigns_recipientlist_change", args=[second.pk])).content.decode()
    assert "basic.csv" in _without_addresses(page) and stored not in _without_addresses(page)
    download = client.get(second.file.url)  # saved under the name it was uploaded with
    assert download["Content-Disposition"] == 'attachment; filename="basic.csv"'


def test_a_list_file_given_through_the_api_keeps_its_name(api_for, mark, cases_dir):
    api = api_for(mark)
    made = api.post("/api/v1/lists/", {"name": "CRM", "consent_basis": "opt_in"}, format="json").json()
    for _ in range(2):  # the second upload of the same name is renamed by the storage
        with (cases_dir / "recipients" / "basic.csv").open("rb") as fh:
            answer = api.post(f"/api/v1/lists/{made['id']}/file/", {"file": fh}, format="multipart")
        assert answer.status_code in (201, 202), answer.json()
    recipient_list = RecipientList.objects.get(pk=made["id"])
    assert recipient_list.file.name.startswith("lists/")  # the file is the list's (it was not, once)
    assert os.path.basename(recipient_list.file.name) != "basic.csv"
    assert recipient_list.file_name == "basic.csv"
