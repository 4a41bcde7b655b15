"""Issue 9, "a paused campaign cannot be rescued": *Clone* makes a new draft with the message,
lists, sessions and settings and no results; a paused campaign's sessions may be changed (its
content stays locked), and the change is recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from campaigns import engine
from campaigns.models import Campaign, CampaignStatus
from tests.conftest import make_campaign, make_session
from tgcampaigns.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client, mark):
    client.force_login(mark)
    return client


def test_clone_copies_message_lists_sessions_and_settings_and_no_results(
    client, mark, people, alpha, beta, cases_dir
):
    original = make_campaign(
        "Spring", [people], [alpha, beta], parse_mode="html", message="<b>Hi</b> {{ first_name }}",
        strategy="weighted", priority=8, delay_seconds=0, max_attempts=5, media_type="photo",
        scheduled_at=timezone.now() - timedelta(days=1),
    )  # fmt: skip
    original.media.save("photo.jpg", ContentFile((cases_dir / "media" / "photo.jpg").read_bytes()))
    engine.launch(original, enqueue=False)
    engine.run_until_done(original, max_seconds=10)

    response = client.post(
        reverse("admin:campaigns_campaign_operation", args=[original.pk, "clone"]), follow=True
    )

    copy = Campaign.objects.exclude(pk=original.pk).get()
    assert response.request["PATH_INFO"] == reverse("admin:campaigns_campaign_change", args=[copy.pk])
    assert (copy.name, copy.status, copy.created_by) == ("Spring (copy)", CampaignStatus.DRAFT, mark)
    same = (
        "message",
        "parse_mode",
        "media",
        "media_type",
        "media_info",
        "strategy",
        "priority",
        "delay_seconds",
        "max_attempts",
    )
    assert all(getattr(copy, f) == getattr(original, f) for f in same)
    assert list(copy.lists.all()) == [people] and set(copy.sessions.all()) == {alpha, beta}
    assert copy.scheduled_at is None  # a start in the past is not copied
    assert not copy.results.exists() and copy.counts()["total"] == 0
    assert AuditEvent.objects.filter(action="campaign.clone", object_id=str(copy.pk)).exists()


def test_a_paused_campaigns_sessions_can_be_changed_and_its_message_cannot(client, people, alpha, beta):
    campaign = make_campaign("Rescue", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    engine.pause(campaign)
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])

    form = client.get(url).context["adminform"].form
    assert "sessions" in form.fields and "message" not in form.fields and "lists" not in form.fields

    client.post(
        url,
        {"name": "Rescue", "sessions": [beta.pk], "delay_seconds": "0", "max_attempts": "3", "priority": "5"},
    )

    campaign.refresh_from_db()
    assert list(campaign.sessions.all()) == [beta]
    assert AuditEvent.objects.filter(action="campaign.sessions", message__contains="beta").exists()
    engine.resume(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=10)
    assert set(campaign.results.values_list("session__name", flat=True)) == {"beta"}


def test_a_running_campaigns_sessions_stay_locked(client, people, alpha):
    campaign = make_campaign("Running", [people], [alpha], status=CampaignStatus.RUNNING)

    form = (
        client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).context["adminform"].form
    )

    assert "sessions" not in form.fields


def test_a_session_state_cannot_be_typed_in_even_for_a_paused_campaign(client, olga):
    """The issue: a never-logged-in session set Active by hand paused a campaign with
    SESSION_UNREADABLE. Its state is read-only for everyone, the superuser too."""
    session = make_session("never", backend="telethon", status="new")
    client.force_login(olga)

    client.post(
        reverse("admin:sessions_app_telegramsession_change", args=[session.pk]),
        {"name": "never", "kind": "user", "backend": "telethon", "status": "active", "weight": "1",
         "send_delay": "20", "max_per_minute": "3", "daily_cap": "40", "simulator_config": "{}"},
    )  # fmt: skip

    session.refresh_from_db()
    assert session.status == "new"
