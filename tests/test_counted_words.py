"""A count said to staff agrees with its noun: "1 message", "2 messages" — in the campaign
operations' messages and in the progress block (found walking the demo as a new user)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import CampaignStatus, MessageResult, ResultStatus
from tests.conftest import make_campaign, make_list

pytestmark = pytest.mark.django_db


def operate(client, campaign, operation: str, **data) -> list[str]:
    url = reverse("admin:campaigns_campaign_operation", args=[campaign.pk, operation])
    return [str(m) for m in client.post(url, data, follow=True).context["messages"]]


@pytest.fixture
def one_row(client, mark, alpha):
    """A paused campaign to one person whose row is ``pending``; marketing staff logged in."""
    client.force_login(mark)
    campaign = make_campaign(
        "One", [make_list("one", [("@solo_user", {})])], [alpha], status=CampaignStatus.PAUSED
    )
    row = MessageResult.objects.create(campaign=campaign, key="@solo_user", dedupe_key="@solo_user")
    return campaign, row


def test_cancelling_one_unsent_message_says_message(client, one_row):
    campaign, _ = one_row

    said = operate(client, campaign, "cancel", confirmed="yes")

    assert "“One” cancelled: 1 unsent message will not be sent." in said


def test_the_progress_of_a_campaign_cancelled_with_one_row_unsent_says_was(client, one_row):
    campaign, _ = one_row
    operate(client, campaign, "cancel", confirmed="yes")

    data = client.get(reverse("campaigns:progress", args=[campaign.pk])).json()

    assert "0 of 1 deliverable messages were sent; 1 was never sent" in data["html"]


def test_resending_one_unknown_and_retrying_one_failed_say_message(client, one_row):
    campaign, row = one_row
    row.status = ResultStatus.UNKNOWN
    row.save()

    assert "“One”: 1 message of unknown outcome queued to be sent again." in operate(
        client, campaign, "resend_unknown", confirmed="yes"
    )
    MessageResult.objects.filter(pk=row.pk).update(status=ResultStatus.FAILED, error_code="TIMEOUT")
    url = reverse("admin:campaigns_campaign_retry", args=[campaign.pk])
    said = [
        str(m)
        for m in client.post(url, {"confirmed": "yes", "codes": ["TIMEOUT"]}, follow=True).context["messages"]
    ]
    assert "“One”: 1 failed message queued to be sent again (TIMEOUT)." in said


def test_launching_to_one_recipient_says_recipient(client, mark, alpha):
    client.force_login(mark)
    campaign = make_campaign("Solo", [make_list("solo", [("@solo_user", {})])], [alpha])
    launched = client.post(
        reverse("admin:campaigns_campaign_launch", args=[campaign.pk]),
        {"confirmed": campaign.fingerprint()},
        follow=True,
    )

    assert "“Solo” launched: 1 recipient (1 pending)." in [str(m) for m in launched.context["messages"]]
