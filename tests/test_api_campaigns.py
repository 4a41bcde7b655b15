"""The API's campaigns: drafts made and edited through the admin's own form, the launch summary
and a launch with its fingerprint (the admin's refusals), pause, resume, cancel and progress;
permissions per role; the admin and the API agree."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns import engine
from campaigns.models import Campaign, CampaignStatus
from tests.conftest import make_campaign
from tgcampaigns.audit.models import AuditEvent

CAMPAIGNS = "/api/v1/campaigns/"


def draft(api, people, alpha, **fields) -> dict:
    body = {"name": "Weekly", "message": "Hi {{ first_name }}!", "lists": [people.pk], **fields}
    body.setdefault("sessions", [alpha.pk] if alpha else [])
    response = api.post(CAMPAIGNS, body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_draft_made_through_the_api_is_the_admins_draft(client, mark, people, alpha, api_for):
    made = draft(api_for(mark, name="Shop CRM"), people, alpha)
    campaign = Campaign.objects.get(pk=made["id"])
    assert campaign.status == CampaignStatus.DRAFT and campaign.created_by == mark
    assert list(campaign.lists.all()) == [people]
    client.force_login(mark)
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    assert "Hi {{ first_name }}!" in page
    assert AuditEvent.objects.get(action="campaign.save").actor == "mark via API token “Shop CRM”"


def test_a_campaign_made_in_the_admin_is_read_by_the_api(mark, people, alpha, api_for):
    campaign = make_campaign("From the admin", [people], [alpha])
    body = api_for(mark).get(f"{CAMPAIGNS}{campaign.pk}/").json()
    assert body["name"] == "From the admin" and body["lists"] == [people.pk] and body["status"] == "draft"
    assert api_for(mark).get(CAMPAIGNS).json()["results"][0]["id"] == campaign.pk


def test_a_draft_is_refused_as_the_admin_form_refuses_it(mark, people, alpha, api_for):
    response = api_for(mark).post(
        CAMPAIGNS,
        {"name": "Bad window", "message": "Hi", "lists": [people.pk], "send_window_start": "09:00"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["field"] == "send_window_end"


def test_a_draft_is_edited_and_a_launched_campaign_is_not(mark, people, alpha, api_for):
    api = api_for(mark)
    made = draft(api, people, alpha)
    edited = api.patch(f"{CAMPAIGNS}{made['id']}/", {"message": "Hello {{ first_name }}"}, format="json")
    assert edited.status_code == 200, edited.json()
    campaign = Campaign.objects.get(pk=made["id"])
    assert campaign.message == "Hello {{ first_name }}" and list(campaign.sessions.all()) == [alpha]
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.RUNNING)
    refused = api.patch(f"{CAMPAIGNS}{made['id']}/", {"message": "x"}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "not_draft"


def test_a_launch_with_the_summarys_fingerprint_sends_and_progress_counts_it(mark, people, alpha, api_for):
    api = api_for(mark)
    made = draft(api, people, alpha)
    summary = api.get(f"{CAMPAIGNS}{made['id']}/launch/").json()
    assert summary["can_launch"] and summary["counts"]["to_send"] == 5
    launched = api.post(
        f"{CAMPAIGNS}{made['id']}/launch/", {"fingerprint": summary["fingerprint"]}, format="json"
    )
    assert launched.status_code == 200, launched.json()
    assert "launched: 5 recipients" in launched.json()["detail"]
    campaign = Campaign.objects.get(pk=made["id"])
    engine.run_until_done(campaign, max_seconds=10)
    progress = api.get(f"{CAMPAIGNS}{made['id']}/progress/").json()
    assert progress["counts"]["sent"] == 5 and progress["status"] == "completed"


def test_a_launch_after_a_change_is_refused_as_in_the_admin(mark, people, alpha, api_for):
    api = api_for(mark)
    made = draft(api, people, alpha)
    fingerprint = api.get(f"{CAMPAIGNS}{made['id']}/launch/").json()["fingerprint"]
    api.patch(f"{CAMPAIGNS}{made['id']}/", {"message": "Changed"}, format="json")
    refused = api.post(f"{CAMPAIGNS}{made['id']}/launch/", {"fingerprint": fingerprint}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "fingerprint_mismatch"
    assert Campaign.objects.get(pk=made["id"]).status == CampaignStatus.DRAFT


def test_a_launch_the_engine_refuses_is_a_409_with_its_reason(mark, people, api_for):
    api = api_for(mark)
    made = draft(api, people, None, sessions=[])
    fingerprint = api.get(f"{CAMPAIGNS}{made['id']}/launch/").json()["fingerprint"]
    refused = api.post(f"{CAMPAIGNS}{made['id']}/launch/", {"fingerprint": fingerprint}, format="json")
    assert refused.status_code == 409 and "was not launched" in refused.json()["detail"]


def test_pause_resume_and_cancel_do_what_the_buttons_do(mark, people, alpha, api_for):
    api = api_for(mark)
    campaign = make_campaign("Running", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    paused = api.post(f"{CAMPAIGNS}{campaign.pk}/pause/")
    assert paused.status_code == 200 and paused.json()["campaign"]["status"] == "paused"
    assert api.post(f"{CAMPAIGNS}{campaign.pk}/pause/").status_code == 409  # not running
    assert api.post(f"{CAMPAIGNS}{campaign.pk}/resume/").json()["campaign"]["status"] == "running"
    cancelled = api.post(f"{CAMPAIGNS}{campaign.pk}/cancel/").json()
    assert cancelled["campaign"]["status"] == "cancelled" and "5 unsent" in cancelled["detail"]
    actions = set(AuditEvent.objects.filter(actor__contains="API token").values_list("action", flat=True))
    assert {"campaign.pause", "campaign.resume", "campaign.cancel"} <= actions


@pytest.mark.parametrize(
    ("who", "read", "make", "launch", "control"),
    [
        ("mark", 200, 201, 200, 409),
        ("rita", 200, 403, 403, 403),
        ("otto", 200, 403, 403, 403),
    ],
)
def test_each_role_may_do_with_campaigns_what_the_admin_lets_it(
    request, people, alpha, api_for, who, read, make, launch, control
):
    api = api_for(request.getfixturevalue(who))
    campaign = make_campaign("Roles", [people], [alpha])
    assert api.get(f"{CAMPAIGNS}{campaign.pk}/").status_code == read
    body = {"name": "x", "message": "Hi", "lists": [people.pk]}
    assert api.post(CAMPAIGNS, body, format="json").status_code == make
    assert api.get(f"{CAMPAIGNS}{campaign.pk}/launch/").status_code == launch
    assert api.post(f"{CAMPAIGNS}{campaign.pk}/pause/").status_code == control


def test_the_sessions_a_campaign_may_use_are_listed_for_who_composes(mark, rita, alpha, api_for):
    body = api_for(mark).get("/api/v1/sessions/").json()
    assert [(s["id"], s["name"], s["simulated"]) for s in body] == [(alpha.pk, "alpha", True)]
    assert api_for(rita).get("/api/v1/sessions/").status_code == 403


def test_media_is_attached_to_a_draft_checked_as_in_the_admin_and_removed(
    mark, people, alpha, api_for, cases_dir
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    api = api_for(mark)
    made = draft(api, people, alpha)
    url = f"{CAMPAIGNS}{made['id']}/media/"
    photo = SimpleUploadedFile("photo.jpg", (cases_dir / "media" / "photo.jpg").read_bytes())
    attached = api.post(url, {"media": photo}, format="multipart")
    assert attached.status_code == 200, attached.json()
    assert attached.json()["media_type"] == "photo"
    assert Campaign.objects.get(pk=made["id"]).message == "Hi {{ first_name }}!"  # now its caption
    empty = SimpleUploadedFile("empty.jpg", (cases_dir / "media" / "empty.jpg").read_bytes())
    refused = api.post(url, {"media": empty}, format="multipart")
    assert refused.status_code == 400 and refused.json()["field"] == "media"
    removed = api.delete(url)
    assert removed.status_code == 200 and removed.json()["media_type"] == ""
    assert not Campaign.objects.get(pk=made["id"]).media


def test_a_draft_targets_segments_through_the_api_and_segments_are_listed(mark, rita, people, alpha, api_for):
    from campaigns.models import Segment

    vips = Segment.objects.create(name="VIPs", definition={"lists": {"ids": [people.pk], "match": "any"}})
    listed = api_for(rita).get("/api/v1/segments/").json()
    assert [(s["id"], s["name"]) for s in listed] == [(vips.pk, "VIPs")]

    made = draft(api_for(mark), people, alpha, lists=[], segments=[vips.pk])

    campaign = Campaign.objects.get(pk=made["id"])
    assert list(campaign.segments.all()) == [vips] and not campaign.lists.exists()
    assert api_for(mark).get(f"{CAMPAIGNS}{campaign.pk}/").json()["segments"] == [vips.pk]
    edited = api_for(mark).patch(f"{CAMPAIGNS}{campaign.pk}/", {"name": "Weekly VIPs"}, format="json")
    assert edited.status_code == 200 and edited.json()["segments"] == [vips.pk]
