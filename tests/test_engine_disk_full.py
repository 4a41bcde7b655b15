"""A full disk under the database (issue 18, item 10): ``launchcampaign`` says so in one line, a
campaign stops sending with a status reason saying so, and both clear by themselves once space is
back; nothing is lost or sent twice."""

from __future__ import annotations

from collections import Counter
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError

from campaigns import engine
from campaigns.engine.storage import DISK_FULL_REASON
from campaigns.models import CampaignStatus
from sessions_app.models import SimulatedDelivery, TelegramSession

from .conftest import make_campaign

pytestmark = pytest.mark.django_db

DiskFull = type("DiskFull", (OperationalError,), {})  # psycopg's class for SQLSTATE 53100, as Django wraps it
FULL = [
    OperationalError("database or disk is full"),
    DiskFull('could not extend file "base/16384/16402": No space left on device'),
]


@pytest.mark.parametrize("error", FULL, ids=["sqlite", "postgresql"])
def test_launchcampaign_says_the_disk_is_full_in_one_line_and_works_once_space_is_back(people, alpha, error):
    campaign = make_campaign("full", [people], [alpha])
    with mock.patch("campaigns.engine.launcher.materialise_rows", side_effect=error):
        with pytest.raises(CommandError) as raised:
            call_command("launchcampaign", str(campaign.pk), "--run", "--max-seconds", "5")
    message = str(raised.value)
    assert "disk is full" in message and "\n" not in message
    campaign.refresh_from_db()
    assert campaign.status != CampaignStatus.RUNNING and not campaign.results.exists()
    call_command("launchcampaign", str(campaign.pk), "--run", "--max-seconds", "20")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED


@pytest.mark.parametrize("error", FULL, ids=["sqlite", "postgresql"])
def test_a_full_disk_mid_send_stops_the_campaign_with_a_reason_that_clears_when_space_is_back(
    people, alpha, beta, error
):
    campaign = make_campaign("mid-send", [people], [alpha, beta])
    engine.launch(campaign, enqueue=False)
    with mock.patch("campaigns.engine.settling.apply_batches", side_effect=error):
        assert engine.drive(campaign.pk, seconds=5, enqueue_next=False) == "disk full"
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING
    assert campaign.status_reason == DISK_FULL_REASON and campaign.wake_at is not None
    sent_while_full = SimulatedDelivery.objects.count()
    assert sent_while_full <= 2 * 8  # each session stopped after the batch it had in flight
    # Space is back: the claims of the rows whose outcome could not be written expire, the reaper
    # returns them, and the campaign finishes by itself, sending nobody a second message.
    campaign.results.filter(status="sending").update(claim_expires_at=None)
    TelegramSession.objects.update(lease_owner="", lease_expires_at=None)
    engine.reap(dispatch=False)
    type(campaign).objects.filter(pk=campaign.pk).update(wake_at=None)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    campaign.refresh_from_db()
    assert campaign.status_reason != DISK_FULL_REASON
    assert Counter(SimulatedDelivery.objects.values_list("peer_key", flat=True)) == {
        key: 1 for key in campaign.results.values_list("key", flat=True)
    }


def test_a_full_disk_before_the_slice_sends_is_a_reason_too(people, alpha):
    campaign = make_campaign("early", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    with mock.patch("campaigns.engine.driver.recover_rows", side_effect=FULL[0]):
        assert engine.drive(campaign.pk, seconds=5, enqueue_next=False) == "disk full"
    campaign.refresh_from_db()
    assert campaign.status_reason == DISK_FULL_REASON
    assert not SimulatedDelivery.objects.exists()
