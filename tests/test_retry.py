"""Issue 9, *Retry failed*: "re-sends to people who blocked us without asking". The dialog offers
the retryable failures (ticked) and lists the permanent ones (blocked, no account, privacy) apart,
unticked, each with its count; retrying a permanent one takes an explicit confirmation; the engine
retries only the chosen codes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns import engine
from campaigns.models import CampaignStatus, MessageResult, ResultStatus
from campaigns.reporting.errorcodes import PERMANENT, RETRYABLE, explain
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed(people, alpha):
    """A completed campaign whose five rows failed: 2 timeouts, 2 blocked, 1 no account."""
    campaign = make_campaign("Failures", [people], [alpha], status=CampaignStatus.COMPLETED)
    codes = ["TIMEOUT", "TIMEOUT", "USER_IS_BLOCKED", "USER_IS_BLOCKED", "PHONE_NOT_OCCUPIED"]
    for i, code in enumerate(codes):
        MessageResult.objects.create(
            campaign=campaign, key=f"@failed_{i}", dedupe_key=f"@failed_{i}", status=ResultStatus.FAILED,
            error_code=code, attempts=3,
        )  # fmt: skip
    return campaign


def pending_codes(campaign) -> list[str]:
    return sorted(campaign.results.filter(status=ResultStatus.PENDING).values_list("error_code", flat=True))


def test_the_engine_retries_only_the_chosen_codes(failed):
    n = engine.retry_failed(failed, codes=["TIMEOUT"], enqueue=False)

    assert n == 2
    assert sorted(failed.results.filter(status="failed").values_list("error_code", flat=True)) == [
        "PHONE_NOT_OCCUPIED",
        "USER_IS_BLOCKED",
        "USER_IS_BLOCKED",
    ]
    assert engine.retry_failed(failed, codes=[], enqueue=False) == 0


def test_the_dialog_ticks_the_retryable_and_lists_the_permanent_apart_with_counts(client, mark, failed):
    client.force_login(mark)

    page = client.get(reverse("admin:campaigns_campaign_retry", args=[failed.pk]))

    html = page.content.decode()
    retryable = html.split('id="tgc-retryable"')[1].split("</table>")[0]
    permanent = html.split('id="tgc-permanent"')[1].split("</table>")[0]
    assert 'value="TIMEOUT" checked' in retryable and "<strong>2</strong>" in retryable
    assert 'value="USER_IS_BLOCKED">' in permanent and "<strong>2</strong>" in permanent
    assert 'value="PHONE_NOT_OCCUPIED">' in permanent and "blocked you" in html


def test_retrying_as_offered_sends_again_to_the_retryable_only(client, mark, failed):
    client.force_login(mark)
    url = reverse("admin:campaigns_campaign_retry", args=[failed.pk])

    response = client.post(url, {"confirmed": "yes", "codes": ["TIMEOUT"]}, follow=True)

    assert pending_codes(failed) == ["", ""]  # reopened: error cleared
    assert failed.results.filter(status="failed", error_code="USER_IS_BLOCKED").count() == 2
    assert any(
        "2 failed messages queued to be sent again (TIMEOUT)" in str(m) for m in response.context["messages"]
    )


def test_a_permanent_failure_is_retried_only_with_the_explicit_confirmation(client, mark, failed):
    client.force_login(mark)
    url = reverse("admin:campaigns_campaign_retry", args=[failed.pk])

    refused = client.post(url, {"confirmed": "yes", "codes": ["TIMEOUT", "USER_IS_BLOCKED"]})
    assert "You ticked 2 permanent failures (USER_IS_BLOCKED)" in refused.content.decode()
    assert failed.results.filter(status="failed").count() == 5

    client.post(
        url, {"confirmed": "yes", "codes": ["TIMEOUT", "USER_IS_BLOCKED"], "confirm_permanent": "yes"}
    )
    assert (
        failed.results.filter(status="failed").values_list("error_code", flat=True).get()
        == "PHONE_NOT_OCCUPIED"
    )


def test_the_list_action_opens_the_same_dialog(client, mark, failed):
    client.force_login(mark)
    url = reverse("admin:campaigns_campaign_changelist")
    data = {"action": "retry_failed_selected", "_selected_action": [failed.pk]}

    asked = client.post(url, data)
    assert 'id="tgc-permanent"' in asked.content.decode()
    assert failed.results.filter(status="failed").count() == 5

    client.post(url, data | {"confirmed": "yes", "codes": ["TIMEOUT"]})
    assert failed.results.filter(status="failed").count() == 3


@pytest.mark.parametrize(
    ("code", "retry"),
    [
        ("TIMEOUT", RETRYABLE),
        ("RPC_CALL_FAIL", RETRYABLE),
        ("CONNECTION_FAILED", RETRYABLE),
        ("USER_IS_BLOCKED", PERMANENT),
        ("USER_PRIVACY_RESTRICTED", PERMANENT),
        ("PHONE_NOT_OCCUPIED", PERMANENT),
        ("ALLOW_PAYMENT_REQUIRED_100", PERMANENT),
        ("SOMETHING_TELEGRAM_INVENTED", PERMANENT),  # when in doubt, ask
        ("MESSAGE_TOO_LONG", PERMANENT),
    ],
)
def test_each_error_code_is_explained_and_classified(code, retry):
    explained = explain(code)

    assert explained.retry == retry
    assert explained.explanation and code not in explained.explanation
