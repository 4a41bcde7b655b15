""" "Why it waits" from the campaign's state now (issue 19 item 4): a wake-up time the driver left
for the reaper (``Campaign.wake_at``) is a scheduling hint, not a reason; once what it waited for
is gone (quiet hours cleared, the winner chosen) the page must not still say every session waits
beside a rate and an ETA of a minute."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import engine
from campaigns.models import Campaign, CampaignStatus
from campaigns.reporting import forecast
from campaigns.reporting.progress import progress_snapshot
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db

EVERY_SESSION_WAITS = "Every session is waiting"


def _running(people, sessions) -> Campaign:
    campaign = make_campaign("Spring teaser", [people], sessions)
    engine.launch(campaign, enqueue=False)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING
    return campaign


def test_a_wake_up_time_left_from_cleared_quiet_hours_is_no_reason_to_wait(people, alpha):
    campaign = _running(people, [alpha])
    # The driver left 14:00 for the reaper while the window was closed; staff have since cleared
    # the quiet hours, and the session may send now.
    Campaign.objects.filter(pk=campaign.pk).update(wake_at=timezone.now() + timedelta(hours=3))
    campaign.refresh_from_db()

    reasons = forecast.waits(campaign, forecast.session_paces(campaign))
    pace = progress_snapshot(campaign)["pace"]

    assert not [r for r in reasons if EVERY_SESSION_WAITS in r], reasons
    assert not [r for r in pace["waits"] if EVERY_SESSION_WAITS in r]
    assert pace["allowed_per_minute"] > 0


def test_every_session_in_a_flood_wait_is_said_with_the_time_of_the_next_send(people, alpha):
    campaign = _running(people, [alpha])
    until = timezone.now() + timedelta(hours=1)
    alpha.flood_wait_until = until
    alpha.save(update_fields=["flood_wait_until"])
    Campaign.objects.filter(pk=campaign.pk).update(wake_at=until)
    campaign.refresh_from_db()

    reasons = forecast.waits(campaign, forecast.session_paces(campaign))

    assert any(r.startswith("FloodWait on alpha") for r in reasons), reasons
    assert any(EVERY_SESSION_WAITS in r for r in reasons), reasons
