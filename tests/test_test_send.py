"""Issue 9, *Send test*: the rendered message through a chosen session to a chosen account or a saved
seed list, recorded apart from the campaign's results; a session a campaign is driving is in use
(and said so); the session's pace holds (FloodWait, daily cap); opt-outs are honoured."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import engine
from campaigns.admin.seed_list_admin import SeedListForm
from campaigns.engine.testsending import TestTarget, send_test
from campaigns.models import MessageResult, SeedList, Suppression, TestSend
from sessions_app.models import SessionStatus, SimulatedDelivery
from tests.conftest import make_campaign, make_session
from tgcampaigns.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client, mark):
    client.force_login(mark)
    return client


def url(campaign) -> str:
    return reverse("admin:campaigns_campaign_test_send", args=[campaign.pk])


def test_a_test_goes_to_the_typed_account_recorded_apart_from_the_results(client, mark, people, alpha):
    campaign = make_campaign("Tested", [people], [alpha], message="Hi {{ first_name }}, see you Friday")

    response = client.post(url(campaign), {"session": alpha.pk, "to": "t.me/Mark_Own"}, follow=True)

    test = TestSend.objects.get()
    assert (test.to_key, test.status, test.session, test.sent_by) == ("@mark_own", "sent", alpha, mark)
    assert test.text == "Hi Alice, see you Friday" and test.personalised_as == "row 2 of “people”"
    assert test.telegram_message_id and test.requested
    delivered = SimulatedDelivery.objects.get()
    assert (delivered.peer_key, delivered.random_id, delivered.text) == (
        "@mark_own",
        test.random_id,
        test.text,
    )
    assert not MessageResult.objects.exists() and campaign.counts()["total"] == 0
    assert any("Test sent to @mark_own" in str(m) for m in response.context["messages"])
    assert "@mark_own" in response.content.decode()  # listed on the page
    assert AuditEvent.objects.filter(action="campaign.test_send", object_id=str(campaign.pk)).exists()


def test_a_test_is_personalised_as_the_chosen_recipient(client, people, alpha):
    campaign = make_campaign("Tested", [people], [alpha], message="Hi {{ first_name }}")
    dave = people.recipients.get(key="@dave_user")

    client.post(url(campaign), {"session": alpha.pk, "to": "@mark_own", "recipient": dave.pk})

    assert TestSend.objects.get().text == "Hi Dave"


def test_each_test_gets_a_fresh_random_id(people, alpha):
    campaign = make_campaign("Twice", [people], [alpha])

    first = send_test(campaign, alpha, TestTarget(["@mark_own"]))
    second = send_test(campaign, alpha, TestTarget(["@mark_own"]))

    assert [t.status for t in first + second] == ["sent", "sent"]
    assert first[0].random_id != second[0].random_id


def test_a_seed_list_gets_the_test_one_message_each(client, people, alpha):
    seeds = SeedList.objects.create(name="Team", entries="@mark_own\n+12025550182")
    campaign = make_campaign("Seeded", [people], [make_session("user_acct", kind="user")])

    client.post(url(campaign), {"session": campaign.sessions.get().pk, "seed_list": seeds.pk})

    assert sorted(TestSend.objects.values_list("to_key", "status")) == [
        ("+12025550182", "sent"),
        ("@mark_own", "sent"),
    ]


def test_a_seed_list_is_small_and_stored_normalised():
    too_many = SeedListForm({"name": "Big", "entries": "\n".join(f"@seed_{i:03d}" for i in range(6))})
    fine = SeedListForm({"name": "Fine", "entries": "t.me/Ann_Seed\n@bad-name\n"})
    good = SeedListForm({"name": "Good", "entries": "t.me/Ann_Seed\n+1 202 555 0182\n"})

    assert "At most 5" in str(too_many.errors)
    assert "@bad-name" in str(fine.errors)
    assert good.is_valid() and good.cleaned_data["entries"] == "@ann_seed\n+12025550182"


def test_a_session_a_campaign_is_driving_is_in_use_and_nothing_is_sent(people, alpha):
    running = make_campaign("Busy one", [people], [alpha])
    engine.launch(running, enqueue=False)
    alpha.lease_owner = "drive:host:1:abc"
    alpha.lease_expires_at = timezone.now() + timedelta(seconds=30)
    alpha.save()
    campaign = make_campaign("Tested", [people], [alpha])

    [test] = send_test(campaign, alpha, TestTarget(["@mark_own"]))

    assert test.status == "not_sent" and not test.requested
    assert "in use: it is sending campaign “Busy one” right now" in test.error_text
    assert not SimulatedDelivery.objects.exists()


def test_a_session_in_floodwait_sends_no_test_and_says_when_it_may(people, alpha):
    alpha.flood_wait_until = timezone.now() + timedelta(minutes=6)
    alpha.save()
    campaign = make_campaign("Tested", [people], [alpha])

    [test] = send_test(campaign, alpha, TestTarget(["@mark_own"]))

    assert test.status == "not_sent" and "may send again at" in test.error_text
    assert not SimulatedDelivery.objects.exists()


def test_tests_count_towards_the_daily_cap(people):
    capped = make_session("capped", daily_cap=1)
    campaign = make_campaign("Tested", [people], [capped])

    first, second = send_test(campaign, capped, TestTarget(["@mark_own", "@mark_other"]))

    assert (first.status, second.status) == ("sent", "not_sent")
    assert engine.assignment.requests_today([capped.pk]) == {capped.pk: 1}


def test_an_opted_out_account_gets_no_test(people, alpha):
    Suppression.objects.create(key="@mark_own")
    campaign = make_campaign("Tested", [people], [alpha])

    [test] = send_test(campaign, alpha, TestTarget(["@mark_own"]))

    assert test.status == "not_sent" and "suppression" in test.error_text


def test_a_session_that_is_not_logged_in_sends_no_test(people):
    new = make_session("new", status=SessionStatus.NEW)
    campaign = make_campaign("Tested", [people], [new])

    [test] = send_test(campaign, new, TestTarget(["@mark_own"]))

    assert test.status == "not_sent" and "is not logged in" in test.error_text


def test_a_telegram_refusal_is_recorded_with_its_code(people):
    scripted = make_session(
        "scripted", simulator_config={"script": {"@mark_own": ["USER_PRIVACY_RESTRICTED"]}}
    )
    campaign = make_campaign("Tested", [people], [scripted])

    [test] = send_test(campaign, scripted, TestTarget(["@mark_own"]))

    assert (test.status, test.error_code, test.requested) == ("failed", "USER_PRIVACY_RESTRICTED", True)


def test_a_reviewer_sends_no_test(client, rita, people, alpha):
    campaign = make_campaign("Tested", [people], [alpha])
    client.force_login(rita)

    assert client.get(url(campaign)).status_code == 403
    assert client.post(url(campaign), {"session": alpha.pk, "to": "@rita_own"}).status_code == 403
    assert not TestSend.objects.exists()


def test_after_a_test_the_page_keeps_the_recipient_and_the_account_for_the_next(client, people, alpha):
    """Found trying the demo: the page came back personalised as the first recipient, not the one
    the test was sent as, and with the account to type again."""
    campaign = make_campaign("Tested", [people], [alpha], message="Hi {{ first_name }}")
    dave = people.recipients.get(key="@dave_user")

    page = client.post(
        url(campaign), {"session": alpha.pk, "to": "@mark_own", "recipient": dave.pk}, follow=True
    )

    assert page.context["preview"]["html"] == "Hi Dave"
    assert page.context["form"]["to"].value() == "@mark_own"


def test_each_wording_of_an_ab_test_can_be_sent_as_a_test(client, people, alpha):
    campaign = make_campaign(
        "AB",
        [people],
        [alpha],
        message="A: hi {{ first_name }}",
        variants=["B: hey {{ first_name }}"],
        split={"A": 50, "B": 50},
    )
    page = client.get(url(campaign) + "?variant=B").content.decode()
    assert 'name="variant"' in page and "B: hey" in page  # the preview shows the chosen wording

    client.post(url(campaign), {"session": alpha.pk, "to": "@mark_own", "variant": "B"})
    client.post(url(campaign), {"session": alpha.pk, "to": "@mark_own", "variant": "A"})

    texts = list(TestSend.objects.order_by("created_at").values_list("text", "personalised_as"))
    assert texts[0][0] == "B: hey Alice" and texts[0][1].endswith("variant B")
    assert texts[1][0] == "A: hi Alice" and texts[1][1].endswith("variant A")


def test_a_campaign_with_one_wording_offers_no_choice(client, people, alpha):
    campaign = make_campaign("One", [people], [alpha])
    assert 'name="variant"' not in client.get(url(campaign)).content.decode()
