"""Quiet hours in the recipient's time zone: zones from phone numbers, columns and list defaults;
the engine sends only inside each recipient's window (frozen time, the simulator), waits through
``wake_at`` otherwise, follows daylight saving time, and refuses a launch it cannot place."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from freezegun import freeze_time

from campaigns import engine
from campaigns.engine import window, zones
from campaigns.models import CampaignStatus, ResultStatus
from campaigns.reporting.forecast import waits
from campaigns.reporting.progress import progress_snapshot
from sessions_app.models import SimulatedDelivery

from .conftest import make_campaign, make_list, make_session


@pytest.fixture(autouse=True)
def _database_clock_travels_too(monkeypatch):
    """These tests move the whole world's clock (freezegun), the database's included: the engine's
    database clock (sessions_app.clock) follows the frozen one instead of measuring a 'skew'."""
    from sessions_app import clock

    monkeypatch.setattr(clock, "offset_seconds", lambda: 0.0)
    monkeypatch.setattr(clock, "sync", lambda: 0.0)


pytestmark = pytest.mark.django_db

TOKYO, BERLIN, NEW_YORK = "+81312345678", "+493012345678", "+12125551234"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def nine_to_eight(**overrides):
    """A campaign with a 09:00–20:00 window to one recipient in Tokyo, Berlin and New York, sent
    from a simulated user account (bots cannot message phone numbers)."""
    session = make_session("alpha", kind="user")
    rl = make_list("world", [(TOKYO, {"first_name": "Aiko"}), (BERLIN, {}), (NEW_YORK, {})])
    fields = {"send_window_start": time(9), "send_window_end": time(20)} | overrides
    return make_campaign("quiet", [rl], [session], **fields)


def delivered() -> set[str]:
    return set(SimulatedDelivery.objects.values_list("peer_key", flat=True))


def drive(campaign) -> str:
    outcome = engine.drive(campaign.pk, seconds=3, enqueue_next=False)
    campaign.refresh_from_db()
    return outcome


# Zones ----------------------------------------------------------------------------------------
def test_a_phone_number_of_a_one_zone_country_gives_its_zone_unless_the_column_says_another():
    assert window.zone_for(TOKYO, "phone", {}, "") == ("Asia/Tokyo", window.PHONE)
    assert window.zone_for(BERLIN, "phone", {}, "America/Chicago") == ("Europe/Berlin", window.PHONE)
    # An expat: a German mobile whose own column says New York is in New York.
    expat = {"timezone": "America/New_York"}
    assert window.zone_for(BERLIN, "phone", expat, "") == ("America/New_York", window.COLUMN)
    # A column that names no zone is no zone: the phone tells it.
    assert window.zone_for(BERLIN, "phone", {"tz": "UTC+3"}, "") == ("Europe/Berlin", window.PHONE)


def test_phone_zones_are_canonical_names_and_the_main_zone_of_one_clock():
    # phonenumbers answers link names (Asia/Calcutta) and every zone of the UK's numbering plan
    # (Europe/Guernsey first); the tz database's links make them the names people know.
    assert window.zone_for("+919812345678", "phone", {}, "") == ("Asia/Kolkata", window.PHONE)
    assert window.zone_for("+447911123456", "phone", {}, "") == ("Europe/London", window.PHONE)
    assert window.canonical_zone("Asia/Saigon") == "Asia/Ho_Chi_Minh"
    assert window.canonical_zone("Europe/Kiev") == "Europe/Kyiv"
    assert window.canonical_zone("America/Buenos_Aires") == "America/Argentina/Buenos_Aires"
    assert window.canonical_zone("Asia/Katmandu") == "Asia/Kathmandu"
    assert window.canonical_zone("Asia/Rangoon") == "Asia/Yangon"
    assert window.canonical_zone("Europe/Berlin") == "Europe/Berlin"
    assert window.canonical_zone("Mars/Olympus") == "Mars/Olympus"
    # Several zones of one clock: the country's first zone in the tz database's zone.tab.
    assert window.main_zone(("America/Argentina/Cordoba", "America/Argentina/Buenos_Aires"), "AR") == (
        "America/Argentina/Buenos_Aires"
    )


def test_an_australian_mobile_has_several_clocks_and_is_not_placed_without_a_column_or_default(alpha):
    mobile = "+61412345678"  # phonenumbers: Perth to Lord Howe, three hours apart
    zone, how = window.zone_for(mobile, "phone", {}, "")
    assert how == window.GUESS
    assert window.zone_for(mobile, "phone", {}, "Australia/Sydney") == ("Australia/Sydney", window.DEFAULT)
    rl = make_list("aussies", [(mobile, {})])
    campaign = make_campaign("oz", [rl], [alpha], send_window_start=time(9), send_window_end=time(20))
    problems = engine.check_launch(campaign).problems
    assert any("1 phone number of “aussies”" in p and "several time zones" in p for p in problems)


def test_a_country_with_several_zones_takes_the_column_then_the_list_default_then_a_flagged_guess():
    moscow = "+79161234567"  # Russia spans eleven zones
    assert window.zone_for(moscow, "phone", {"Time Zone": "Europe/Moscow"}, "") == (
        "Europe/Moscow",
        window.COLUMN,
    )
    assert window.zone_for(moscow, "phone", {"timezone": "Mars/Olympus"}, "Europe/Samara") == (
        "Europe/Samara",
        window.DEFAULT,
    )
    zone, how = window.zone_for(moscow, "phone", {}, "")
    assert how == window.GUESS and zone in window.phone_zones(moscow)


def test_usernames_take_the_column_or_the_list_default_or_nothing():
    assert window.zone_for("@anna_user", "username", {"tz": "Asia/Tokyo"}, "UTC") == ("Asia/Tokyo", "column")
    assert window.zone_for("@anna_user", "username", {}, "Europe/Berlin") == ("Europe/Berlin", "default")
    assert window.zone_for("12345", "user_id", {}, "") == ("", window.NONE)


# The window -----------------------------------------------------------------------------------
def test_the_window_opens_at_nine_local_time_across_the_spring_dst_change_in_berlin():
    # Clocks go from 02:00 CET to 03:00 CEST on Sunday 29 March 2026: 09:00 is 08:00 UTC before
    # that day and 07:00 UTC on it.
    nine, eight = time(9), time(20)
    assert window.next_opening(nine, eight, "Europe/Berlin", utc(2026, 3, 28, 0)) == utc(2026, 3, 28, 8)
    assert window.next_opening(nine, eight, "Europe/Berlin", utc(2026, 3, 29, 0)) == utc(2026, 3, 29, 7)
    assert not window.is_open(nine, eight, "Europe/Berlin", utc(2026, 3, 29, 7, 59).replace(hour=6))
    assert window.is_open(nine, eight, "Europe/Berlin", utc(2026, 3, 29, 7, 30))  # 09:30 CEST


def test_new_york_follows_its_own_dst_date():
    # US clocks change on 8 March 2026, three weeks before Europe's: 09:00 EDT is 13:00 UTC.
    assert window.next_opening(time(9), time(20), "America/New_York", utc(2026, 3, 9, 5)) == utc(
        2026, 3, 9, 13
    )
    assert window.next_opening(time(9), time(20), "America/New_York", utc(2026, 3, 7, 5)) == utc(
        2026, 3, 7, 14
    )


def test_a_window_spanning_midnight_is_open_late_and_early_and_shut_in_the_day():
    late, early = time(22), time(6)
    assert window.is_open(late, early, "UTC", utc(2026, 5, 1, 23))
    assert window.is_open(late, early, "UTC", utc(2026, 5, 2, 5, 59))
    assert not window.is_open(late, early, "UTC", utc(2026, 5, 2, 6))
    assert not window.is_open(late, early, "UTC", utc(2026, 5, 2, 12))
    assert window.next_opening(late, early, "UTC", utc(2026, 5, 2, 12)) == utc(2026, 5, 2, 22)
    assert window.open_zones(late, early, ["Asia/Tokyo", "UTC", ""], utc(2026, 5, 2, 14)) == {"Asia/Tokyo"}


# The engine -----------------------------------------------------------------------------------
def test_nothing_goes_to_a_recipient_at_three_in_the_morning_and_it_goes_after_nine():
    with freeze_time(utc(2026, 3, 10, 18), tick=True):  # Tokyo 03:00, Berlin 19:00, New York 14:00
        campaign = nine_to_eight()
        engine.launch(campaign, enqueue=False)
        assert dict(campaign.results.values_list("key", "time_zone")) == {
            TOKYO: "Asia/Tokyo",
            BERLIN: "Europe/Berlin",
            NEW_YORK: "America/New_York",
        }
        assert drive(campaign) == "waiting"
        assert delivered() == {BERLIN, NEW_YORK}
        assert campaign.status == CampaignStatus.RUNNING  # a waiting row is not done
        assert campaign.wake_at == utc(2026, 3, 11, 0)  # 09:00 in Tokyo
        assert campaign.results.get(key=TOKYO).status == ResultStatus.PENDING
        said = " ".join(progress_snapshot(campaign)["pace"]["waits"])
        assert "waits for 09:00 in Asia/Tokyo" in said
    with freeze_time(utc(2026, 3, 10, 23, 59), tick=True):  # still 08:59 in Tokyo
        assert drive(campaign) == "waiting"
        assert delivered() == {BERLIN, NEW_YORK}
    with freeze_time(utc(2026, 3, 11, 0, 1), tick=True):  # 09:01 in Tokyo
        engine.reap(dispatch=False)
        assert drive(campaign) == "completed"
        assert delivered() == {TOKYO, BERLIN, NEW_YORK}
        assert campaign.status == CampaignStatus.COMPLETED


def test_a_midnight_spanning_window_sends_at_night_only():
    with freeze_time(utc(2026, 6, 1, 12), tick=True):  # noon in Berlin (CEST)
        campaign = nine_to_eight()
        campaign.send_window_start, campaign.send_window_end = time(22), time(6)
        campaign.save()
        engine.launch(campaign, enqueue=False)
        drive(campaign)
        # Tokyo 21:00, New York 08:00: all shut.
        assert delivered() == set()
        assert campaign.wake_at == utc(2026, 6, 1, 13)  # 22:00 in Tokyo
    with freeze_time(utc(2026, 6, 1, 13, 1), tick=True):
        drive(campaign)
        assert delivered() == {TOKYO}


def test_the_engine_follows_the_berlin_dst_change_on_the_last_sunday_of_march():
    session = make_session("alpha", kind="user")
    rl = make_list("berlin", [(BERLIN, {})])
    campaign = make_campaign("dst", [rl], [session], send_window_start=time(9), send_window_end=time(20))
    with freeze_time(utc(2026, 3, 29, 6, 30), tick=True):  # 08:30 CEST (it would be 07:30 CET)
        engine.launch(campaign, enqueue=False)
        drive(campaign)
        assert delivered() == set()
        assert campaign.wake_at == utc(2026, 3, 29, 7)
    with freeze_time(utc(2026, 3, 29, 7, 0, 30), tick=True):  # 09:00:30 CEST
        assert drive(campaign) == "completed"
        assert delivered() == {BERLIN}


def test_a_campaign_without_a_window_sends_at_any_hour():
    with freeze_time(utc(2026, 3, 10, 18), tick=True):
        campaign = nine_to_eight(send_window_start=None, send_window_end=None)
        engine.launch(campaign, enqueue=False)
        assert set(campaign.results.values_list("time_zone", flat=True)) == {""}
        assert drive(campaign) == "completed"


# Refusing what cannot be placed ---------------------------------------------------------------
def test_the_launch_refuses_usernames_with_no_zone_and_no_list_default(people, alpha):
    campaign = make_campaign("nozone", [people], [alpha], send_window_start=time(9), send_window_end=time(20))
    check = engine.check_launch(campaign)
    assert any("5 recipients of “people”" in p and "default time zone" in p for p in check.problems)
    with pytest.raises(engine.LaunchError, match="time zone"):
        engine.launch(campaign, enqueue=False)
    assert not campaign.results.exists()


def test_a_list_default_or_a_timezone_column_places_usernames(people, alpha):
    people.default_time_zone = "Europe/Berlin"
    people.save()
    campaign = make_campaign(
        "default", [people], [alpha], send_window_start=time(9), send_window_end=time(20)
    )
    assert engine.check_launch(campaign).problems == []
    other = make_list("own", [("@anna_user", {"timezone": "Asia/Tokyo"}), ("@ben_user", {})])
    campaign = make_campaign("column", [other], [alpha], send_window_start=time(9), send_window_end=time(20))
    problems = engine.check_launch(campaign).problems
    assert len(problems) == 1 and "1 recipient of “own” (usernames or user ids) has none" in problems[0]


def test_a_timezone_column_that_names_no_zone_refuses_the_launch_saying_so(alpha):
    # "Mars/Olympus" and "UTC+3" are no zones: the recipient is not blamed for having none, the
    # column is named with an example; a list default does not hide it (the column meant another).
    rl = make_list(
        "mixed",
        [
            ("@anna_user", {"timezone": "Asia/Tokyo"}),
            ("@ben_user", {"timezone": "Mars/Olympus"}),
            (BERLIN, {"timezone": "UTC+3"}),
            ("@cleo_user", {"timezone": ""}),
        ],
        default_time_zone="Europe/Berlin",
    )
    campaign = make_campaign("bad", [rl], [alpha], send_window_start=time(9), send_window_end=time(20))
    problems = engine.check_launch(campaign).problems
    assert len(problems) == 1, problems
    assert (
        "2 recipients of “mixed” have a time zone their column gives that is not a known zone "
        "(e.g. “Mars/Olympus” in row 3): fix the column" in problems[0]
    )
    with pytest.raises(engine.LaunchError, match="not a known zone"):
        engine.launch(campaign, enqueue=False)


def test_each_zone_problem_of_the_launch_summary_links_to_its_list(client, mark, people, alpha):
    from django.urls import reverse

    fine = make_list("fine", [("@anna_user", {})], default_time_zone="Asia/Tokyo")
    campaign = make_campaign(
        "links", [fine, people], [alpha], send_window_start=time(9), send_window_end=time(20)
    )
    client.force_login(mark)
    page = client.get(reverse("admin:campaigns_campaign_launch", args=[campaign.pk])).content.decode()
    people_page = reverse("admin:campaigns_recipientlist_change", args=[people.pk])
    assert f'href="{people_page}"' in page
    assert reverse("admin:campaigns_recipientlist_change", args=[fine.pk]) not in page


def test_the_launch_refuses_phone_numbers_whose_clock_it_would_guess(alpha):
    # Russia and the United States keep several clocks: without a column or a list default the
    # zone would be a guess, and a guess could wake someone at 3 am.
    rl = make_list("guess", [("+79161234567", {}), ("+15555550123", {}), (TOKYO, {})])
    campaign = make_campaign("guess", [rl], [alpha], send_window_start=time(9), send_window_end=time(20))
    problems = engine.check_launch(campaign).problems
    assert any("2 phone numbers of “guess”" in p and "several time zones" in p for p in problems)
    with pytest.raises(engine.LaunchError, match="time zone"):
        engine.launch(campaign, enqueue=False)
    rl.default_time_zone = "Europe/Moscow"
    rl.save()
    assert engine.check_launch(campaign).problems == []


def test_zones_that_keep_one_clock_all_year_place_a_number_surely():
    assert window.same_clock(["America/Argentina/Buenos_Aires", "America/Argentina/Cordoba"])
    assert not window.same_clock(["Europe/Moscow", "Asia/Vladivostok"])
    assert not window.same_clock(["Europe/Madrid", "Atlantic/Canary"])  # one hour apart all year
    assert not window.same_clock(["America/Phoenix", "America/Denver"])  # apart in summer only


def test_a_row_nothing_places_is_skipped_with_its_reason_not_left_waiting(alpha):
    # The launch check refuses what it sees; a window set on a paused campaign whose rows nothing
    # places still leaves nothing waiting forever.
    rl = make_list("odd", [("+15555550123", {})])  # a number phonenumbers cannot place
    campaign = make_campaign("odd", [rl], [alpha])
    engine.launch(campaign, enqueue=False)
    campaign.send_window_start, campaign.send_window_end = time(9), time(20)
    campaign.save()
    zones.assign_zones(campaign)
    row = campaign.results.get()
    assert (row.status, row.error_code) == (ResultStatus.SKIPPED, zones.CODE_NO_TIME_ZONE)


def test_the_launch_summary_counts_recipients_per_zone():
    from campaigns.reporting.summary import launch_summary

    campaign = nine_to_eight()
    summary = launch_summary(campaign)
    assert dict(summary.zones) == {"Asia/Tokyo": 1, "Europe/Berlin": 1, "America/New_York": 1}
    assert summary.zones_found.get("phone") == 3
    # A timezone column wins over the phone's zone, and the census says it was the column. (The
    # list as if its file had that column: recipients change only by an import, which records it.)
    world = campaign.lists.first()
    world.recipients.filter(key=BERLIN).update(fields={"timezone": "Asia/Tokyo"})
    world.report = {"columns": ["first_name", "timezone"]}
    world.save()
    summary = launch_summary(campaign)
    assert dict(summary.zones) == {"Asia/Tokyo": 2, "America/New_York": 1}
    assert (summary.zones_found.get("phone"), summary.zones_found.get("column")) == (2, 1)


def test_the_forecast_waits_for_the_window_in_words():
    with freeze_time(utc(2026, 3, 10, 18), tick=True):
        campaign = nine_to_eight()
        engine.launch(campaign, enqueue=False)
        drive(campaign)
        from campaigns.reporting.forecast import session_paces

        said = waits(campaign, session_paces(campaign))
        assert any("1 recipient waits for 09:00 in Asia/Tokyo" in s for s in said), said
        pace = progress_snapshot(campaign)["pace"]
        assert pace["finish_at"] >= "2026-03-11T00:00"


# While paused ---------------------------------------------------------------------------------
def test_a_window_set_while_paused_places_the_rows_when_it_resumes(people, alpha):
    people.default_time_zone = "Asia/Tokyo"
    people.save()
    campaign = make_campaign("later", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    engine.pause(campaign)
    campaign.send_window_start, campaign.send_window_end = time(9), time(20)
    campaign.save()
    engine.resume(campaign, enqueue=False)
    assert set(campaign.results.values_list("time_zone", flat=True)) == {"Asia/Tokyo"}


def test_the_paused_campaign_form_offers_the_window_and_refuses_one_it_cannot_place(
    client, mark, people, alpha
):
    from django.urls import reverse

    campaign = make_campaign("paused", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    engine.pause(campaign)
    client.force_login(mark)
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    fields = client.get(url).context["adminform"].form.fields
    assert {"send_window_start", "send_window_end", "sessions"} <= set(fields) and "message" not in fields
    response = client.post(
        url,
        {
            "name": "paused",
            "sessions": [alpha.pk],
            "delay_seconds": 0,
            "max_attempts": 3,
            "priority": 5,
            "send_window_start": "09:00",
            "send_window_end": "20:00",
        },
    )
    assert response.status_code == 200 and "default time zone" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.send_window_start is None
