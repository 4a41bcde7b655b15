"""A campaign's numeric settings are held to one range each (``Campaign.BOUNDS``), refused alike
by the admin's form and the REST API with a sentence naming the field and the range: a negative or
absurd delay, no attempt at all, a priority out of 1–10, NaN and infinity. Values in range do what
they did. The other numbers the API reads (a campaign id in a filter) and the campaign's other
limits (how far ahead it starts, a follow-up's hours, the scripting API's settings) are bounded too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import api as scripting
from campaigns.audience.followups import FollowUpRefused, create_follow_up
from campaigns.models import Campaign, CampaignStatus
from tests.conftest import make_campaign

CAMPAIGNS = "/api/v1/campaigns/"

# Each setting with values its range refuses: below, above, absurd, and no number at all.
REFUSED = [
    ("delay_seconds", -1),
    ("delay_seconds", -0.001),
    ("delay_seconds", 3600.5),
    ("delay_seconds", 1e308),
    ("delay_seconds", "nan"),
    ("delay_seconds", "inf"),
    ("delay_seconds", "-inf"),
    ("max_attempts", 0),
    ("max_attempts", -1),
    ("max_attempts", 21),
    ("max_attempts", 10**30),
    ("priority", 0),
    ("priority", 11),
]
# And the edges of each range, which are allowed and stored as given.
ALLOWED = [
    ("delay_seconds", 0),
    ("delay_seconds", 2.5),
    ("delay_seconds", 3600),
    ("max_attempts", 1),
    ("max_attempts", 20),
    ("priority", 1),
    ("priority", 10),
]


def refusal(response, field: str) -> str:
    body = response.json()
    assert response.status_code == 400, body
    assert body["field"] == field, body
    return body["detail"]


@pytest.mark.parametrize(("field", "value"), REFUSED)
def test_the_api_refuses_a_setting_out_of_its_range_naming_the_field_and_the_range(
    mark, people, alpha, api_for, field, value
):
    body = {"name": "Weekly", "message": "Hi", "lists": [people.pk], "sessions": [alpha.pk], field: value}

    detail = refusal(api_for(mark).post(CAMPAIGNS, body, format="json"), field)

    assert detail == f"{field}: {Campaign.BOUNDS[field].message}"
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(("field", "value"), REFUSED)
def test_an_edit_of_a_draft_out_of_range_is_refused_and_changes_nothing(
    mark, people, alpha, api_for, field, value
):
    campaign = make_campaign("Weekly", [people], [alpha], delay_seconds=1.5, max_attempts=4, priority=6)

    response = api_for(mark).patch(f"{CAMPAIGNS}{campaign.pk}/", {field: value}, format="json")

    assert refusal(response, field) == f"{field}: {Campaign.BOUNDS[field].message}"
    campaign.refresh_from_db()
    assert (campaign.delay_seconds, campaign.max_attempts, campaign.priority) == (1.5, 4, 6)


def test_a_delay_too_large_for_a_float_is_refused_with_the_range(mark, people, api_for):
    # A JSON integer of 400 digits is no float at all (DRF: "too large to convert").
    response = api_for(mark).post(
        CAMPAIGNS,
        {"name": "W", "message": "Hi", "lists": [people.pk], "delay_seconds": 10**400},
        format="json",
    )

    assert refusal(response, "delay_seconds").endswith(Campaign.BOUNDS["delay_seconds"].message)


@pytest.mark.parametrize(("field", "value"), ALLOWED)
def test_a_setting_at_the_edge_of_its_range_is_stored_as_given(mark, people, alpha, api_for, field, value):
    body = {"name": "Weekly", "message": "Hi", "lists": [people.pk], "sessions": [alpha.pk], field: value}

    response = api_for(mark).post(CAMPAIGNS, body, format="json")

    assert response.status_code == 201, response.json()
    assert getattr(Campaign.objects.get(), field) == value


def admin_form(people, alpha, **fields) -> dict:
    data = {
        "name": "Opening",
        "parse_mode": "plain",
        "message": "Hi {{ first_name }}",
        "media_type": "",
        "strategy": "round_robin",
        "delay_seconds": "0",
        "max_attempts": "3",
        "priority": "5",
        "scheduled_at_0": "",
        "scheduled_at_1": "",
        "lists": [people.pk],
        "sessions": [alpha.pk],
    }
    return data | {name: str(value) for name, value in fields.items()}


@pytest.mark.parametrize(("field", "value"), REFUSED)
def test_the_admins_form_refuses_what_the_api_refuses_with_the_same_sentence(
    client, mark, people, alpha, field, value
):
    client.force_login(mark)

    response = client.post(
        reverse("admin:campaigns_campaign_add"), admin_form(people, alpha, **{field: value})
    )

    assert response.status_code == 200  # the form again, not a redirect
    assert response.context["adminform"].form.errors[field] == [Campaign.BOUNDS[field].message]
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(("field", "value"), ALLOWED)
def test_the_admins_form_keeps_a_setting_at_the_edge_of_its_range(client, mark, people, alpha, field, value):
    client.force_login(mark)

    response = client.post(
        reverse("admin:campaigns_campaign_add"), admin_form(people, alpha, **{field: value})
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert getattr(Campaign.objects.get(), field) == value


def test_the_admins_inputs_and_the_api_schema_carry_the_models_ranges(client, mark, api_for):
    client.force_login(mark)
    form = client.get(reverse("admin:campaigns_campaign_add")).context["adminform"].form
    schema = api_for(mark).get("/api/v1/schema/", {"format": "json"}).json()
    properties = schema["components"]["schemas"]["Campaign"]["properties"]

    for name in ("delay_seconds", "max_attempts", "priority"):
        bounds = Campaign.BOUNDS[name]
        attrs = form.fields[name].widget.attrs
        assert (attrs["min"], attrs["max"]) == (bounds.low, bounds.high)
        assert (properties[name]["minimum"], properties[name]["maximum"]) == (bounds.low, bounds.high)


# The campaign's other limits -------------------------------------------------------------------
def test_a_start_years_ahead_is_refused_by_the_api_and_the_admin_and_one_within_a_year_is_kept(
    client, mark, people, alpha, api_for
):
    api = api_for(mark)
    base = {"name": "W", "message": "Hi", "lists": [people.pk], "sessions": [alpha.pk]}

    far = api.post(CAMPAIGNS, {**base, "scheduled_at": "9999-12-31T23:59:59Z"}, format="json")
    near = api.post(
        CAMPAIGNS, {**base, "scheduled_at": (timezone.now() + timedelta(days=300)).isoformat()}, format="json"
    )
    client.force_login(mark)
    in_admin = client.post(
        reverse("admin:campaigns_campaign_add"),
        admin_form(people, alpha, scheduled_at_0="9999-12-31", scheduled_at_1="12:00"),
    )

    assert "at most 366 days ahead" in refusal(far, "scheduled_at")
    assert near.status_code == 201
    assert api.get(f"{CAMPAIGNS}{near.json()['id']}/launch/").status_code == 200
    assert "at most 366 days ahead" in in_admin.context["adminform"].form.errors["scheduled_at"][0]
    assert Campaign.objects.count() == 1


@pytest.mark.parametrize(
    "path",
    ["/api/v1/results/", "/api/v1/replies/", "/api/v1/results/export/"],
    ids=["results", "replies", "export"],
)
@pytest.mark.parametrize("value", [0, 2**63, 10**30])
def test_a_campaign_id_no_campaign_can_have_is_a_problem_naming_it(olga, api_for, path, value):
    response = api_for(olga).get(path, {"campaign": value})

    assert response.status_code == 400 and response.json()["field"] == "campaign"


def test_a_follow_up_further_than_a_year_or_sooner_than_an_hour_is_refused(people, alpha):
    campaign = make_campaign("Spring", [people], [alpha], status=CampaignStatus.COMPLETED)
    bounds = Campaign.BOUNDS["follow_up_hours"]

    for hours in (0, bounds.high + 1, 10**12):
        with pytest.raises(FollowUpRefused, match=f"{bounds.span} hours"):
            create_follow_up(campaign, "not_read", after_hours=hours)
    kept = create_follow_up(campaign, "not_read", after_hours=bounds.high)

    assert kept.follow_up_hours == bounds.high and Campaign.objects.count() == 2


@pytest.mark.parametrize(
    ("setting", "value"), [("delay", -1.0), ("delay", float("nan")), ("max_attempts", 0)]
)
def test_the_scripting_api_refuses_settings_out_of_range_before_making_anything(alpha, setting, value):
    with pytest.raises(ValueError, match="Must be"):
        scripting.send_text_messages_bulk(["@alice_user"], "Hi", sessions=[alpha], **{setting: value})

    assert not Campaign.objects.exists()


def test_the_api_documents_each_writable_settings_range_as_the_model_holds_it():
    from pathlib import Path

    from campaigns.rest.campaigns_api import WRITABLE

    text = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text(encoding="utf-8")
    for name, bounds in Campaign.BOUNDS.items():
        if name in WRITABLE:
            assert f"| `{name}` | {bounds.span}" in text, name


# A setting stored out of its range anyway (a raw UPDATE, a row from before the ranges) -----------
def test_a_campaigns_stored_settings_out_of_range_are_obeyed_as_the_nearest_end(people, alpha):
    campaign = make_campaign("odd", [people], [alpha])
    Campaign.objects.filter(pk=campaign.pk).update(
        delay_seconds=1e308, priority=0, max_attempts=32767, follow_up_hours=10**9
    )
    campaign.refresh_from_db()

    held = {name: campaign.held(name) for name in Campaign.BOUNDS}

    assert held == {"delay_seconds": 3600, "priority": 1, "max_attempts": 20, "follow_up_hours": 8760}


def test_a_stored_delay_that_is_no_number_is_obeyed_as_the_default(people, alpha):
    campaign = make_campaign("odd", [people], [alpha])
    campaign.delay_seconds = float("nan")  # as PostgreSQL returns a stored 'NaN'

    assert campaign.held("delay_seconds") == 0.0


def test_a_campaign_stored_with_no_priority_and_an_absurd_delay_is_summarised_and_sent_slowly(people, alpha):
    from campaigns import engine
    from campaigns.reporting.forecast import session_paces, waits
    from campaigns.reporting.summary import launch_summary

    campaign = make_campaign("odd", [people], [alpha])
    Campaign.objects.filter(pk=campaign.pk).update(delay_seconds=1e308, priority=0)
    campaign.refresh_from_db()

    summary = launch_summary(campaign)  # was a ZeroDivisionError: a share of no priority
    engine.launch(campaign, enqueue=False)
    outcome = engine.drive(campaign.pk, seconds=2, enqueue_next=False)

    campaign.refresh_from_db()
    said = waits(campaign, session_paces(campaign))  # why it waits: the delay's hold, in range

    assert summary.finish_at is not None
    assert outcome == "waiting" and campaign.results.filter(status="sent").count() == 1
    assert campaign.wake_at <= timezone.now() + timedelta(seconds=3601)
    assert any("waits out the 3600 s between sends" in line for line in said), said


def test_a_follow_up_stored_a_billion_hours_ahead_is_armed_a_year_after_the_first_ends(people, alpha):
    from campaigns.engine.reaper import arm_follow_ups

    first = make_campaign("Spring", [people], [alpha], status=CampaignStatus.COMPLETED)
    Campaign.objects.filter(pk=first.pk).update(finished_at=timezone.now())
    follow_up = create_follow_up(first, "not_read", after_hours=1)
    Campaign.objects.filter(pk=follow_up.pk).update(status=CampaignStatus.SCHEDULED, follow_up_hours=10**9)

    assert arm_follow_ups(timezone.now()) == 1  # was an OverflowError: a date past the calendar

    follow_up.refresh_from_db()
    assert follow_up.scheduled_at <= timezone.now() + timedelta(hours=8761)


def test_a_campaign_delay_longer_than_the_slice_ends_the_slice_instead_of_sleeping_past_it(
    people, alpha, monkeypatch
):
    from campaigns import engine
    from campaigns.engine.slice import SliceRunner

    naps: list[float] = []
    nap = SliceRunner.nap

    async def recorded(self, seconds: float) -> None:
        naps.append(seconds)
        if seconds > 5:  # would hold the worker (and the campaign's leases) for an hour
            raise AssertionError(f"napped {seconds} s in a 2 s slice")
        await nap(self, seconds)

    monkeypatch.setattr(SliceRunner, "nap", recorded)
    campaign = make_campaign("hourly", [people], [alpha], delay_seconds=3600)  # in range
    engine.launch(campaign, enqueue=False)

    outcome = engine.drive(campaign.pk, seconds=2, enqueue_next=False)
    again = engine.drive(campaign.pk, seconds=2, enqueue_next=False)  # the delay outlives the slice

    assert max(naps, default=0) <= 2
    assert (outcome, again) == ("waiting", "waiting")
    assert campaign.results.filter(status="sent").count() == 1
    campaign.refresh_from_db()
    assert campaign.wake_at > timezone.now() + timedelta(seconds=3500)
