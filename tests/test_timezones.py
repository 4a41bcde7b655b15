"""Issue 9, time zones: staff see and enter times in their own zone (``TIME_ZONE`` by default, a
per-user choice), always with the zone's name; no "Nov. 29, 2026, 10:39 a.m..", no bare times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from campaigns.models import CampaignStatus
from tests.conftest import make_campaign
from tgcampaigns.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

# 10:39 UTC is 11:39 in Berlin (CET, winter) and 05:39 in New York (EST).
START = datetime(2026, 11, 29, 10, 39, tzinfo=UTC)


def choose(client, zone: str):
    return client.post(reverse("time_zone"), {"time_zone": zone}, follow=True)


def test_times_are_shown_in_the_sites_zone_with_its_name_by_default(client, mark, people, alpha, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    campaign = make_campaign("Later", [people], [alpha], status=CampaignStatus.SCHEDULED, scheduled_at=START)
    client.force_login(mark)

    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()

    assert "Starts at 2026-11-29 11:39 CET." in page
    assert "a.m." not in page and "Nov. 29" not in page
    assert "Times in <a" in page and "Europe/Berlin (CET)" in page


def test_a_user_chooses_their_zone_and_sees_every_time_in_it(client, mark, people, alpha):
    campaign = make_campaign("Later", [people], [alpha], status=CampaignStatus.SCHEDULED, scheduled_at=START)
    client.force_login(mark)

    response = choose(client, "America/New_York")
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()

    assert "Times are now shown in America/New_York (EST)." in [str(m) for m in response.context["messages"]]
    assert "Starts at 2026-11-29 05:39 EST." in page
    assert AuditEvent.objects.filter(action="staff.time_zone", user=mark).exists()


def test_a_scheduled_start_is_entered_in_the_users_zone(client, mark, people, alpha):
    client.force_login(mark)
    choose(client, "Europe/Berlin")
    data = {
        "name": "Berlin morning", "parse_mode": "plain", "message": "Hi", "media_type": "", "strategy": "round_robin",
        "delay_seconds": "0", "max_attempts": "3", "priority": "5", "lists": [people.pk], "sessions": [alpha.pk],
        "scheduled_at_0": "2026-11-29", "scheduled_at_1": "11:39",
    }  # fmt: skip

    page = client.get(reverse("admin:campaigns_campaign_add")).content.decode()
    client.post(reverse("admin:campaigns_campaign_add"), data)

    assert "In your time zone, Europe/Berlin (CET)" in page
    from campaigns.models import Campaign

    assert Campaign.objects.get().scheduled_at == START


def test_each_user_keeps_their_own_zone(client, mark, rita, people, alpha):
    campaign = make_campaign("Later", [people], [alpha], status=CampaignStatus.SCHEDULED, scheduled_at=START)
    client.force_login(mark)
    choose(client, "Asia/Tokyo")
    client.force_login(rita)

    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()

    assert "Starts at 2026-11-29 10:39 UTC." in page


def test_an_unknown_zone_is_refused(client, mark):
    client.force_login(mark)

    response = client.post(reverse("time_zone"), {"time_zone": "Mars/Olympus"})

    assert response.context["form"].errors["time_zone"]
