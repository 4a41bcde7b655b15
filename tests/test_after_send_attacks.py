"""Hostile and odd input against the after-the-send features: A/B splits and the winner, send
windows across daylight saving time, time zone columns, read marks and replies, erasure, the
report, the Replies page and its export, and who may see what."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import engine
from campaigns.admin.reply_admin import reply_rows
from campaigns.content import variants
from campaigns.engine import engagement as after
from campaigns.engine import window
from campaigns.lists.zonenames import valid_zone
from campaigns.models import CampaignStatus, MessageResult, Reply, ResultStatus, Suppression
from campaigns.people import erasure as privacy
from campaigns.reporting.report import NOT_FOR_BOTS, NOTHING_SENT, build_report
from sessions_app.models import SimulatedDelivery
from sessions_app.transport.base import Incoming

from .conftest import make_campaign, make_list, make_session

pytestmark = pytest.mark.django_db


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def crowd(n: int, prefix: str = "member"):
    return make_list(f"{prefix}s", [(f"@{prefix}_{i:04d}", {"first_name": f"M{i}"}) for i in range(n)])


def ab_test(session, n: int = 20, **overrides):
    """An A/B test with an 80% hold-out, launched and sent up to the pause for the winner."""
    fields = {"variants": ["B text"], "split": {"A": 10, "B": 10, "hold": 80}} | overrides
    campaign = make_campaign("ab", [crowd(n)], [session], **fields)
    engine.launch(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.PAUSED
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def user_session(db):
    return make_session("ursula", kind="user")


@pytest.fixture
def sent(people, user_session):
    """A finished campaign of the user session to five people: their sent rows."""
    campaign = make_campaign("sent", [people], [user_session])
    engine.launch(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    return list(campaign.results.filter(status=ResultStatus.SENT).order_by("pk"))


def incoming(result: MessageResult, text: str = "thanks", *, after: int = 1, username: str | None = None):
    return Incoming(
        peer_id=result.peer_id,
        message_id=result.telegram_message_id + after,
        text=text,
        date=timezone.now(),
        username=username,
    )


# Splits ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "split",
    [
        {"A": 50, "B": 30},  # 80
        {"A": 90, "B": 90},  # 180
        {"A": -10, "B": 110},
        {"A": float("nan"), "B": 50},
        {"A": 50.0, "B": 50.0},
        {"A": True, "B": 99},
        {"A": "50", "B": "50"},
        {"A": 10**30, "B": 50},
        {"A": None, "B": 100},
        {"A": 50, "B": 50, "Z": 0},
    ],
)
def test_a_split_that_is_not_whole_percents_adding_up_to_100_is_refused(split):
    assert variants.split_problems("Hi", ["Hey"], split)


def test_a_split_that_is_not_whole_percents_refuses_the_launch_too(people, alpha):
    campaign = make_campaign("nan", [people], [alpha], variants=["Hey"], split={"A": 50.5, "B": 49.5})
    with pytest.raises(engine.LaunchError, match="whole percent"):
        engine.launch(campaign, enqueue=False)
    assert not campaign.results.exists()


def test_a_hold_out_with_only_one_variant_is_refused_at_launch(people, alpha):
    campaign = make_campaign("lonely", [people], [alpha], variants=[], split={"A": 20, "hold": 80})
    with pytest.raises(engine.LaunchError, match="two variants"):
        engine.launch(campaign, enqueue=False)


def test_a_variant_with_a_template_error_is_named_by_the_launch_check(people, alpha):
    campaign = make_campaign(
        "broken B",
        [people],
        [alpha],
        variants=["Hey {{ first_name|nosuchfilter }}"],
        split={"A": 50, "B": 50},
    )
    with pytest.raises(engine.LaunchError, match="(?i)variant B: template error"):
        engine.launch(campaign, enqueue=False)


def test_a_variant_over_telegrams_length_limit_is_refused_at_launch(people, alpha):
    campaign = make_campaign("long B", [people], [alpha], variants=["x" * 4097], split={"A": 50, "B": 50})
    with pytest.raises(engine.LaunchError, match="(?i)variant B: .*4097 characters"):
        engine.launch(campaign, enqueue=False)


def test_a_whitespace_only_variant_saved_elsewhere_is_no_wording(people, alpha):
    campaign = make_campaign("blank B", [people], [alpha], variants=["   "], split={"A": 50, "B": 50})
    with pytest.raises(engine.LaunchError, match="no text"):
        engine.launch(campaign, enqueue=False)


# The winner -----------------------------------------------------------------------------------
@pytest.mark.parametrize("label", ["Z", "hold", "", "b", "AB", "E"])
def test_a_winner_label_the_campaign_does_not_have_is_refused_and_nothing_moves(alpha, label):
    campaign = ab_test(alpha)
    held = campaign.results.filter(status=ResultStatus.HELD).count()
    with pytest.raises(engine.WinnerRefused):
        engine.choose_winner(campaign, label, enqueue=False)
    campaign.refresh_from_db()
    assert (campaign.winner, campaign.status) == ("", CampaignStatus.PAUSED)
    assert campaign.results.filter(status=ResultStatus.HELD).count() == held


def test_the_winner_page_says_why_for_an_unknown_label(client, mark, alpha):
    campaign = ab_test(alpha)
    client.force_login(mark)
    page = client.post(reverse("admin:campaigns_campaign_winner", args=[campaign.pk]), {"variant": "Q"})
    assert page.status_code == 200
    assert "has no variant Q" in page.context["error"]


def test_choosing_the_winner_twice_releases_the_hold_out_once(alpha):
    campaign = ab_test(alpha)
    held = campaign.results.filter(status=ResultStatus.HELD).count()
    assert engine.choose_winner(campaign, "B", enqueue=False) == held
    with pytest.raises(engine.WinnerRefused, match="already"):
        engine.choose_winner(campaign, "A", enqueue=False)
    assert set(campaign.results.filter(variant="A").values_list("status", flat=True)) <= {"sent", "failed"}


def test_the_winner_of_a_cancelled_campaign_is_refused_and_its_rows_stay_cancelled(alpha):
    campaign = ab_test(alpha)
    engine.cancel(campaign)
    with pytest.raises(engine.WinnerRefused, match="cancelled"):
        engine.choose_winner(campaign, "B", enqueue=False)
    campaign.refresh_from_db()
    assert campaign.winner == ""
    assert not campaign.results.filter(status__in=(ResultStatus.PENDING, ResultStatus.HELD)).exists()


def test_a_cancel_that_lands_while_the_winner_is_being_chosen_wins(alpha):
    """Staff cancel in one request while another chooses the winner: the choice read the campaign
    as paused, the cancel commits before the hold-out is released. No row may wait on a cancelled
    campaign, and no winner is recorded for it."""
    campaign = ab_test(alpha)
    real = variants.labels_of

    def cancel_meanwhile(texts):
        engine.cancel(type(campaign).objects.get(pk=campaign.pk))
        return real(texts)

    with mock.patch("campaigns.content.variants.labels_of", side_effect=cancel_meanwhile):
        with pytest.raises(engine.WinnerRefused):
            engine.choose_winner(campaign, "B", enqueue=False)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    assert campaign.winner == ""
    assert not campaign.results.filter(status__in=(ResultStatus.PENDING, ResultStatus.HELD)).exists()


def test_choosing_the_winner_of_a_test_without_a_hold_out_does_not_undo_a_staff_pause(people, alpha):
    campaign = make_campaign("even", [people], [alpha], variants=["B"], split={"A": 50, "B": 50})
    engine.launch(campaign, enqueue=False)
    assert engine.pause(campaign)
    assert engine.choose_winner(campaign, "B", enqueue=False) == 0
    campaign.refresh_from_db()
    assert (campaign.winner, campaign.status) == ("B", CampaignStatus.PAUSED)


def test_the_winner_page_is_for_staff_who_control_campaigns(client, rita, otto, alpha):
    campaign = ab_test(alpha, n=8)
    url = reverse("admin:campaigns_campaign_winner", args=[campaign.pk])
    assert client.get(url).status_code == 302  # anonymous: to the login page
    assert client.post(url, {"variant": "A"}).status_code == 302
    for user in (rita, otto):
        client.force_login(user)
        assert client.get(url).status_code == 403
        assert client.post(url, {"variant": "A"}).status_code == 403
    assert type(campaign).objects.get(pk=campaign.pk).winner == ""


def test_the_winner_page_of_a_campaign_that_does_not_exist_is_404(client, mark):
    client.force_login(mark)
    for object_id in ("999999", "abc", "-1"):
        url = reverse("admin:campaigns_campaign_winner", args=[object_id])
        assert client.get(url).status_code in (302, 404)


# Send windows ---------------------------------------------------------------------------------
BERLIN = "Europe/Berlin"


def test_an_equal_start_and_end_is_no_window_and_every_zone_is_open():
    assert not window.has_window(time(9), time(9))
    assert window.open_zones(time(9), time(9), ["Asia/Tokyo", ""], utc(2026, 1, 1, 3)) == {"Asia/Tokyo", ""}


@pytest.mark.parametrize(
    "start, end, zone, now",
    [
        # 02:30 does not exist in Berlin on 2026-03-29 (02:00 CET → 03:00 CEST): opens at 03:00 CEST.
        (time(2, 30), time(20), BERLIN, utc(2026, 3, 28, 23, 0)),
        (time(2, 0), time(20), BERLIN, utc(2026, 3, 28, 23, 0)),
        # Havana springs forward at midnight (2026-03-08 00:00 → 01:00); 23:00 the evening before.
        (time(0, 30), time(20), "America/Havana", utc(2026, 3, 8, 4, 0)),
        # New York, 2026-03-08 02:00 → 03:00.
        (time(2, 15), time(6), "America/New_York", utc(2026, 3, 8, 5, 0)),
        # Lord Howe moves by half an hour (2026-10-04 02:00 → 02:30).
        (time(2, 10), time(8), "Australia/Lord_Howe", utc(2026, 10, 3, 14, 0)),
    ],
)
def test_the_next_opening_across_a_dst_gap_is_when_the_window_really_opens(start, end, zone, now):
    opening = window.next_opening(start, end, zone, now)
    assert window.is_open(start, end, zone, opening)
    assert not window.is_open(start, end, zone, opening - timedelta(seconds=1))
    assert opening - now < timedelta(days=1, hours=2)


def test_a_window_the_clocks_fall_back_into_opens_at_the_change():
    # 02:00–02:40 in Berlin on 2026-10-25: open 02:00–02:40 CEST, shut 02:40–03:00 CEST, and
    # open again when the clocks go back to 02:00 CET (01:00 UTC).
    start, end, now = time(2), time(2, 40), utc(2026, 10, 25, 0, 50)
    assert not window.is_open(start, end, BERLIN, now)
    assert window.next_opening(start, end, BERLIN, now) == utc(2026, 10, 25, 1, 0)


@pytest.mark.parametrize(
    "start, end, zone, now",
    [
        # 2026-10-25: Berlin's 02:00–03:00 happens twice (CEST, then CET).
        (time(22), time(2, 30), BERLIN, utc(2026, 10, 25, 0, 15)),  # 02:15 CEST, first pass
        (time(22), time(2, 30), BERLIN, utc(2026, 10, 25, 1, 15)),  # 02:15 CET, second pass
        (time(2, 30), time(9), BERLIN, utc(2026, 10, 25, 0, 45)),  # 02:45 CEST: shut at 02:00 CET
    ],
)
def test_the_next_closing_in_a_dst_fold_is_the_next_instant_the_window_shuts(start, end, zone, now):
    assert window.is_open(start, end, zone, now)
    closing = window.next_closing(start, end, zone, now)
    assert closing > now
    at = now
    while at < closing:  # open all the way to the closing
        assert window.is_open(start, end, zone, at), at
        at += timedelta(minutes=5)
    assert not window.is_open(start, end, zone, closing)
    assert window.is_open(start, end, zone, closing - timedelta(seconds=1))


@pytest.mark.parametrize(
    "value",
    [
        "UTC+3",
        "",
        "   ",
        "Europe/Nowhere",
        "../etc",
        "../../etc/passwd",
        "/etc/localtime",
        "utc",
        None,
        3,
        "\x00",
    ],
)
def test_a_zone_column_that_is_no_iana_zone_places_nobody(value):
    assert window.column_zone({"timezone": value}) == ""
    assert window.zone_for("@someone", "username", {"timezone": value}, "") == ("", window.NONE)
    assert window.zone_for("@someone", "username", {"Time Zone": value}, BERLIN) == (BERLIN, window.DEFAULT)


@pytest.mark.parametrize("value", ["UTC+3", "Europe/Nowhere", "../etc", "\x00"])
def test_an_invalid_list_default_zone_is_no_default(value):
    assert window.zone_for("@someone", "username", {}, value) == ("", window.NONE)
    assert not valid_zone(value)


def test_placing_many_recipients_reads_the_machines_zone_list_once():
    """The zone list is read from the disk (tens of milliseconds): once, not per recipient, or a
    launch of 100,000 recipients with a timezone column spends an hour in it."""
    rows = [(f"@u{i}", "username", {"timezone": "Asia/Tokyo"}, BERLIN) for i in range(200)]
    with mock.patch("zoneinfo.available_timezones", wraps=zoneinfo.available_timezones) as listed:
        valid_zone("Europe/Berlin")  # whatever a first call costs
        listed.reset_mock()
        pairs = window.census(rows)
    assert pairs == Counter({("Asia/Tokyo", window.COLUMN): 200})
    assert listed.call_count == 0


# Read marks -----------------------------------------------------------------------------------
@pytest.mark.parametrize("max_id", [0, -1, -(2**63)])
def test_a_read_mark_of_zero_or_below_marks_nothing(sent, user_session, max_id):
    assert after.record_read(user_session.pk, sent[0].peer_id, max_id) == 0
    assert not MessageResult.objects.filter(read_at__isnull=False).exists()


def test_a_read_mark_from_a_peer_never_messaged_or_on_another_session_marks_nothing(sent, user_session):
    other = make_session("other", kind="user")
    assert after.record_read(user_session.pk, 987654321, 2**31) == 0
    assert after.record_read(other.pk, sent[0].peer_id, 2**31) == 0
    assert not MessageResult.objects.filter(read_at__isnull=False).exists()


def test_a_read_mark_below_the_message_marks_nothing_and_a_huge_one_marks_only_that_peer(sent, user_session):
    first = sent[0]
    assert after.record_read(user_session.pk, first.peer_id, first.telegram_message_id - 1) == 0
    assert after.record_read(user_session.pk, first.peer_id, 2**63 - 1) == 1
    assert list(MessageResult.objects.filter(read_at__isnull=False).values_list("pk", flat=True)) == [
        first.pk
    ]
    assert after.record_read(user_session.pk, first.peer_id, 2**63 - 1) == 0  # repeated


# Replies --------------------------------------------------------------------------------------
def test_a_reply_older_than_the_send_is_no_reply_but_its_stop_still_counts(sent, user_session):
    first = sent[0]
    assert after.record_incoming(user_session.pk, incoming(first, "hello?", after=-1)) is None
    assert after.record_incoming(user_session.pk, incoming(first, "STOP", after=-1, username="Bob")) is None
    assert not Reply.objects.exists()
    first.refresh_from_db()
    assert (first.reply_count, first.replied_at) == (0, None)
    assert Suppression.objects.filter(key="@bob").exists()


def test_a_duplicate_reply_is_recorded_once(sent, user_session):
    first = sent[0]
    message = incoming(first, "hi")
    assert after.record_incoming(user_session.pk, message) is not None
    assert after.record_incoming(user_session.pk, message) is None
    first.refresh_from_db()
    assert (first.reply_count, Reply.objects.count()) == (1, 1)


@pytest.mark.parametrize(
    "text",
    [
        "x" * 200_000,
        "before\x00after",
        "\x00",
        "\u202egnp.exe",
        '=HYPERLINK("http://evil";"click")',
        "😀" * 5000,
    ],
)
def test_a_reply_with_odd_text_is_stored_without_breaking_the_listener(sent, user_session, text):
    first = sent[0]
    reply = after.record_incoming(user_session.pk, incoming(first, text))
    assert reply is not None
    stored = Reply.objects.get(pk=reply.pk).text
    assert stored == text.replace("\x00", "")


def test_a_stop_reply_from_a_user_without_a_username_suppresses_their_id_and_the_row_key(sent, user_session):
    first = sent[0]
    reply = after.record_incoming(user_session.pk, incoming(first, "  stop  ", username=None))
    assert reply is not None and reply.is_opt_out
    keys = set(Suppression.objects.values_list("key", flat=True))
    assert {str(first.peer_id), first.key} <= keys
    assert not any(k in ("@", "@none", "@None", "") for k in keys)


def test_a_late_reply_after_erasure_brings_no_personal_data_back(sent, user_session):
    first = sent[0]
    after.record_incoming(user_session.pk, incoming(first, "first"))
    message = incoming(first, "I am back", after=5)
    privacy.erase_person(first.key)
    assert not Reply.objects.exists()
    first.refresh_from_db()
    assert first.key == "" and first.peer_id is None  # a user id is an identity too
    assert after.record_incoming(user_session.pk, message) is None
    assert after.record_read(user_session.pk, message.peer_id, 2**31) == 0
    assert not Reply.objects.exists()


def test_an_erased_person_in_the_hold_out_is_not_messaged_when_the_winner_is_chosen(alpha):
    campaign = ab_test(alpha)
    held = campaign.results.filter(status=ResultStatus.HELD).order_by("pk").first()
    privacy.erase_person(held.key)
    held.refresh_from_db()
    assert held.status == ResultStatus.CANCELLED
    before = SimulatedDelivery.objects.count()
    released = engine.choose_winner(campaign, "A", enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    assert SimulatedDelivery.objects.count() - before == released
    held.refresh_from_db()
    assert held.status == ResultStatus.CANCELLED


# The report -----------------------------------------------------------------------------------
def test_the_report_of_a_campaign_with_nothing_sent_divides_by_nothing(people, alpha):
    campaign = make_campaign("unsent", [people], [alpha], variants=["B"], split={"A": 50, "B": 50})
    report = build_report(campaign)  # a draft: no rows at all
    assert report["overall"]["read_rate"] is None and report["overall"]["read_rate_display"] == NOTHING_SENT
    engine.launch(campaign, enqueue=False)
    campaign.results.update(status=ResultStatus.FAILED, error_code="PEER_FLOOD")
    report = build_report(campaign)
    assert report["overall"]["reply_rate"] is None
    assert all(row["n"] == 0 and row["too_few"] for row in report["by_variant"])
    assert report["over_time"]["labels"] == []


def test_the_report_of_a_campaign_sent_by_bots_only_never_says_zero_percent_read(people, alpha):
    campaign = make_campaign("bots", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    report = build_report(campaign)
    assert report["overall"]["read_rate_display"] == NOT_FOR_BOTS
    assert all(row["read_rate_display"] == NOT_FOR_BOTS for row in report["by_session"])
    assert "0.0%" not in report["overall"]["read_rate_display"]


def test_report_json_for_anonymous_operator_reviewer_and_a_missing_campaign(client, otto, rita, sent):
    url = reverse("campaigns:report", args=[sent[0].campaign_id])
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(otto)
    assert client.get(url).status_code == 403
    client.force_login(rita)
    assert client.get(url).status_code == 200
    assert client.get(reverse("campaigns:report", args=[10**9])).status_code == 404


# The Replies page -----------------------------------------------------------------------------
@pytest.fixture
def replies(sent, user_session):
    made = []
    for result, text in zip(sent, ["=1+1", "+49 call me", "-2", "@SUM(A1)", "\tTAB", " =lead", "STOP"]):
        made.append(after.record_incoming(user_session.pk, incoming(result, text)))
    return [r for r in made if r is not None]


@pytest.mark.parametrize(
    "query",
    [
        "campaign__id__exact=abc",
        "campaign__id__exact=-1",
        "campaign__id__exact=99999999999999999999999999",
        "result__id__exact=abc",
        "result__id__exact=1e9",
        "result__id__exact=99999999999999999999999999",
        "session__id__exact=%00",
        "is_opt_out__exact=maybe",
        "o=abc",
        "o=99",
        "p=abc",
        "p=-1",
        "p=999999",
        "q=%00",
        "q=" + "x" * 5000,
        "received_at__gte=yesterday",
        "text__regex=(a%2b)%2b",
        "result__key__startswith=@",
        "campaign__id__exact=1&campaign__id__exact=2",
    ],
)
def test_malformed_query_parameters_on_the_replies_page_are_refused_or_ignored(client, mark, replies, query):
    client.force_login(mark)
    response = client.get(reverse("admin:campaigns_reply_changelist") + "?" + query)
    assert response.status_code in (200, 302, 400, 404)


@pytest.mark.parametrize(
    "query",
    ["read=zzz", "replied=%00", "variant=Z", "variant=%00", "campaign__id__exact=abc&variant=A", "q=%00"],
)
def test_malformed_after_send_filters_on_the_results_page_are_ignored(client, mark, replies, query):
    client.force_login(mark)
    response = client.get(reverse("admin:campaigns_messageresult_changelist") + "?" + query)
    assert response.status_code in (200, 302, 400)


def test_the_replies_page_needs_the_results_view_permission(client, otto, rita, replies):
    url = reverse("admin:campaigns_reply_changelist")
    assert client.get(url).status_code == 302
    client.force_login(otto)
    assert client.get(url).status_code == 403
    assert client.get(reverse("admin:campaigns_reply_change", args=[replies[0].pk])).status_code == 403
    export = {"action": "export_selected", "_selected_action": [r.pk for r in replies]}
    assert client.post(url, export).status_code == 403
    client.force_login(rita)
    assert client.get(url).status_code == 200
    assert client.post(url, export).status_code == 200  # a reviewer exports results too


def test_the_replies_export_neutralises_every_formula_start(replies):
    texts = {row[5] for row in list(reply_rows(Reply.objects.all()))[1:]}
    for text in texts:
        assert not text.startswith(("=", "+", "-", "@", "\t", "\r")), text


def test_the_replies_export_survives_nuls_and_control_characters(sent, user_session):
    Reply.objects.create(
        campaign_id=sent[0].campaign_id,
        result=sent[0],
        session=user_session,
        peer_id=sent[0].peer_id,
        message_id=10**12,
        text="a\rb\nc\u202ed",
        received_at=timezone.now(),
    )
    from campaigns.admin.reply_admin import replies_csv_response

    body = b"".join(replies_csv_response(Reply.objects.all()).streaming_content).decode("utf-8-sig")
    assert "a\rb\nc\u202ed" in body
