"""After the send (issue 12 "Reports"): read, reply and opt-out rates overall, by variant, session,
list and over time, from results whose read and reply facts are set directly here (recording them
is the listener's job). Reads only count for user sessions; bots say "not available for bots";
a missing read mark is "read status hidden or not yet read", never "unread"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import MessageResult, Recipient, Reply, Suppression
from campaigns.reporting.report import (
    HIDDEN_OR_NOT_YET,
    MIN_SAMPLE,
    NOT_FOR_BOTS,
    TOO_FEW,
    after_send_report,
    build_report,
)
from sessions_app.models import SessionKind

from .conftest import make_campaign, make_list, make_session

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def user_session(db):
    return make_session("Ann (user)", kind=SessionKind.USER)


@pytest.fixture
def bot_session(db):
    return make_session("Shop bot", kind=SessionKind.BOT)


def add(campaign, n, *, session, status="sent", read=0, replied=0, variant="", rlist=None, at=T0, **extra):
    """``n`` results of ``campaign``: ``read`` of them with a read mark, ``replied`` with a reply."""
    start = campaign.results.count()
    recipients = list(Recipient.objects.filter(recipient_list=rlist).order_by("pk")) if rlist else []
    rows = []
    for i in range(n):
        key = f"@r{start + i:05d}"
        sent = status == "sent"
        rows.append(
            MessageResult(
                campaign=campaign,
                key=key,
                dedupe_key=key,
                status=status,
                session=session,
                variant=variant,
                recipient=recipients[i % len(recipients)] if recipients else None,
                sent_at=at if sent else None,
                read_at=at + timedelta(minutes=30) if sent and i < read else None,
                replied_at=at + timedelta(hours=2) if sent and i < replied else None,
                reply_count=1 if sent and i < replied else 0,
                **extra,
            )
        )
    return MessageResult.objects.bulk_create(rows)


@pytest.fixture
def campaign(people, user_session, bot_session):
    c = make_campaign("Black Friday", [people], [user_session, bot_session], status="completed")
    c.launched_at = T0 - timedelta(minutes=5)
    c.save()
    return c


def test_the_read_rate_counts_only_messages_user_sessions_sent(campaign, user_session, bot_session):
    add(campaign, 4, session=user_session, read=1, replied=1)
    add(campaign, 6, session=bot_session, replied=1)
    overall = build_report(campaign)["overall"]
    assert (overall["sent"], overall["user_sent"], overall["bot_sent"]) == (10, 4, 6)
    assert overall["read"] == 1 and overall["hidden_or_not_yet"] == 3
    assert overall["read_rate"] == 25.0 and overall["read_rate_display"] == "25.0%"
    # Replies come to bots too: the reply rate is of every message sent.
    assert overall["replied"] == 2 and overall["reply_rate"] == 20.0


def test_a_bot_sessions_read_rate_is_not_available_never_zero(campaign, user_session, bot_session):
    add(campaign, 3, session=user_session, read=3)
    add(campaign, 5, session=bot_session)
    rows = {r["name"]: r for r in build_report(campaign)["by_session"]}
    bot = rows["Shop bot"]
    assert bot["kind"] == "bot" and bot["read_rate"] is None
    assert bot["read_rate_display"] == NOT_FOR_BOTS
    assert rows["Ann (user)"]["read_rate_display"] == "100.0%"


def test_a_campaign_sent_by_bots_alone_says_reads_are_not_available_for_bots(people, bot_session):
    campaign = make_campaign("Bots only", [people], [bot_session], status="completed")
    add(campaign, 5, session=bot_session, replied=1)
    overall = build_report(campaign)["overall"]
    assert overall["read_rate"] is None and overall["read_rate_display"] == NOT_FOR_BOTS
    assert overall["reply_rate_display"] == "20.0%"


def test_held_and_failed_rows_are_not_counted_as_sent(campaign, user_session):
    add(campaign, 4, session=user_session, read=2)
    add(campaign, 2, session=user_session, status="failed", error_code="USER_IS_BLOCKED")
    add(campaign, 10, session=None, status="held")
    overall = build_report(campaign)["overall"]
    assert (overall["sent"], overall["failed"], overall["held"]) == (4, 2, 10)
    assert overall["read_rate"] == 50.0


def test_variants_are_compared_with_their_sample_and_small_ones_are_labelled_not_hidden(
    campaign, user_session
):
    campaign.variants = ["Second wording"]
    campaign.save()
    add(campaign, MIN_SAMPLE, session=user_session, variant="A", read=40, replied=10)
    add(campaign, 12, session=user_session, variant="B", read=6, replied=3)
    add(campaign, 1, session=user_session, variant="B", status="failed")
    add(campaign, 50, session=None, status="held")
    by_variant = {v["variant"]: v for v in build_report(campaign)["by_variant"]}
    assert sorted(by_variant) == ["A", "B"]
    a, b = by_variant["A"], by_variant["B"]
    assert (a["n"], a["read_rate"], a["reply_rate"], a["too_few"], a["note"]) == (
        MIN_SAMPLE,
        40.0,
        10.0,
        False,
        "",
    )
    assert (b["n"], b["failed"], b["read"], b["replied"]) == (12, 1, 6, 3)
    assert b["read_rate"] == 50.0 and b["reply_rate"] == 25.0  # shown, not hidden…
    assert b["too_few"] and TOO_FEW in b["note"] and "n = 12" in b["note"]  # …but labelled


def test_a_campaign_without_variants_has_no_variant_table(campaign, user_session):
    add(campaign, 3, session=user_session)
    assert build_report(campaign)["by_variant"] == []


def test_figures_by_recipient_list(campaign, people, user_session, bot_session):
    vips = make_list("VIPs", [(f"@vip_{i}", {}) for i in range(4)])
    campaign.lists.add(vips)
    add(campaign, 5, session=user_session, rlist=people, read=5, replied=1)
    add(campaign, 4, session=bot_session, rlist=vips, replied=2)
    rows = {r["name"]: r for r in build_report(campaign)["by_list"]}
    assert sorted(rows) == ["VIPs", "people"]
    assert (rows["people"]["sent"], rows["people"]["read_rate"], rows["people"]["reply_rate"]) == (
        5,
        100.0,
        20.0,
    )
    assert rows["VIPs"]["read_rate_display"] == NOT_FOR_BOTS and rows["VIPs"]["reply_rate"] == 50.0


def test_a_campaign_of_one_list_reports_it_without_joining_and_keeps_erased_recipients_apart(
    campaign, people, user_session
):
    add(campaign, 5, session=user_session, rlist=people, read=2)
    add(campaign, 2, session=user_session, read=1)  # their recipients were erased
    with CaptureQueriesContext(connection) as queries:
        rows = {r["name"]: r for r in build_report(campaign)["by_list"]}
    assert (rows["people"]["sent"], rows["people"]["read_rate"]) == (5, 40.0)
    assert rows["(no longer in a list)"]["sent"] == 2
    assert not any('"campaigns_recipient"' in q["sql"] for q in queries)


def test_opt_outs_count_replies_that_asked_to_stop_and_suppressions_from_such_replies(campaign, user_session):
    rows = add(campaign, 10, session=user_session, replied=3)
    Reply.objects.create(
        campaign=campaign,
        result=rows[0],
        session=user_session,
        peer_id=1,
        message_id=7,
        text="STOP",
        received_at=T0 + timedelta(hours=2),
        is_opt_out=True,
    )
    Reply.objects.create(
        campaign=campaign, result=rows[1], session=user_session, peer_id=2, message_id=8, text="thanks",
        received_at=T0 + timedelta(hours=2),
    )  # fmt: skip
    Suppression.objects.create(key=rows[2].key, source=Suppression.Source.STOP_REPLY)
    Suppression.objects.create(key=rows[3].key, source=Suppression.Source.MANUAL)  # not a reply
    overall = build_report(campaign)["overall"]
    assert overall["opted_out"] == 2 and overall["opt_out_rate"] == 20.0


def test_over_time_counts_sent_read_and_replied_per_hour_within_three_days(campaign, user_session):
    add(campaign, 4, session=user_session, read=2, replied=1)
    add(campaign, 2, session=user_session, at=T0 + timedelta(hours=3), read=1)
    with timezone.override("UTC"):
        series = build_report(campaign)["over_time"]
    assert series["bucket"] == "hour" and series["zone"] == "UTC"
    assert series["labels"] == [f"2026-11-02 {h:02d}:00" for h in range(9, 13)]
    assert series["sent"] == [4, 0, 0, 2]
    assert series["read"] == [2, 0, 0, 1]  # read 30 min after the send
    assert series["replied"] == [0, 0, 1, 0]  # replied two hours after


def test_over_time_counts_per_day_in_the_viewers_time_zone_once_it_spans_longer(campaign, user_session):
    add(campaign, 3, session=user_session, at=datetime(2026, 11, 1, 23, 30, tzinfo=UTC))
    add(campaign, 1, session=user_session, at=datetime(2026, 11, 5, 10, 0, tzinfo=UTC), read=1)
    with timezone.override("Europe/Berlin"):
        series = build_report(campaign)["over_time"]
    assert series["bucket"] == "day"
    # 23:30 UTC is 00:30 the next day in Berlin.
    assert series["labels"] == ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]
    assert series["sent"] == [3, 0, 0, 1] and series["read"] == [0, 0, 0, 1]


def test_days_across_a_dst_change_are_one_bucket_each(campaign, user_session):
    # Europe/Berlin leaves summer time on 2026-10-25 (a 25-hour day).
    add(campaign, 1, session=user_session, at=datetime(2026, 10, 24, 12, 0, tzinfo=UTC))
    add(campaign, 1, session=user_session, at=datetime(2026, 10, 28, 12, 0, tzinfo=UTC))
    with timezone.override("Europe/Berlin"):
        series = build_report(campaign)["over_time"]
    assert series["labels"] == ["2026-10-24", "2026-10-25", "2026-10-26", "2026-10-27", "2026-10-28"]
    assert series["sent"] == [1, 0, 0, 0, 1]


def test_nothing_sent_gives_empty_figures_not_zero_percent(campaign, user_session):
    add(campaign, 3, session=user_session, status="pending")
    report = build_report(campaign)
    assert report["overall"]["sent"] == 0
    assert report["overall"]["read_rate_display"] == report["overall"]["reply_rate_display"] == "—"
    assert report["over_time"]["labels"] == []


def test_the_report_costs_the_same_queries_for_any_number_of_rows(campaign, user_session, bot_session):
    add(campaign, 3, session=user_session, read=1, replied=1)
    with CaptureQueriesContext(connection) as few:
        build_report(campaign)
    add(campaign, 300, session=bot_session, replied=20, variant="B")
    add(campaign, 200, session=user_session, read=50, variant="A")
    with CaptureQueriesContext(connection) as many:
        build_report(campaign)
    assert len(many) == len(few) <= 8


def test_the_report_is_cached_per_campaign_while_nothing_is_sent(campaign, user_session):
    rows = add(campaign, 4, session=user_session, read=1)
    first = after_send_report(campaign)
    MessageResult.objects.filter(pk=rows[3].pk).update(read_at=T0)  # a read mark: shown within seconds
    with CaptureQueriesContext(connection) as queries:
        again = after_send_report(campaign)
    assert len(queries) <= 3 and again["overall"]["read"] == first["overall"]["read"] == 1
    assert after_send_report(campaign, fresh=True)["overall"]["read"] == 2
    other = make_campaign("Other", [], [user_session])
    assert after_send_report(other)["overall"]["sent"] == 0


def test_a_campaign_that_just_sent_its_rows_does_not_show_the_report_cached_before(campaign, user_session):
    # Found trying the product: "Nothing sent yet" on a campaign that had just completed.
    campaign.status = "running"
    campaign.save()
    pending = add(campaign, 3, session=None, status="pending")
    assert after_send_report(campaign)["overall"]["sent"] == 0
    MessageResult.objects.filter(pk__in=[r.pk for r in pending]).update(status="sent", sent_at=T0)
    campaign.status = "completed"
    campaign.save()
    assert after_send_report(campaign)["overall"]["sent"] == 3


def test_a_reply_makes_a_new_report_at_once(campaign, user_session):
    rows = add(campaign, 2, session=user_session)
    assert after_send_report(campaign)["overall"]["replies"] == 0
    MessageResult.objects.filter(pk=rows[0].pk).update(replied_at=T0, reply_count=1)
    Reply.objects.create(
        campaign=campaign, result=rows[0], session=user_session, peer_id=1, message_id=1, received_at=T0
    )
    assert after_send_report(campaign)["overall"]["replies"] == 1


def test_a_finished_campaigns_page_keeps_refreshing_the_report_while_replies_are_caught_up(
    client, mark, campaign, user_session, settings
):
    from campaigns.reporting.report import polling

    settings.TGC_AFTER_SEND_DAYS = 7
    add(campaign, 2, session=user_session)
    campaign.finished_at = timezone.now() - timedelta(days=1)
    campaign.save()
    client.force_login(mark)
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    assert 'data-polling="after"' in client.get(url).content.decode()
    campaign.finished_at = timezone.now() - timedelta(days=8)
    campaign.save()
    assert polling(campaign) == ""
    assert 'data-polling=""' in client.get(url).content.decode()
    campaign.status = "running"
    assert polling(campaign) == "live"


def test_the_cache_expires(campaign, user_session, settings):
    from freezegun import freeze_time

    with freeze_time(T0) as frozen:
        add(campaign, 2, session=user_session)
        assert after_send_report(campaign)["overall"]["sent"] == 2
        add(campaign, 2, session=user_session)
        frozen.tick(timedelta(seconds=21))
        assert after_send_report(campaign)["overall"]["sent"] == 4


# The JSON and the campaign page -------------------------------------------------------------------
def test_report_json_gives_the_figures_and_the_sections_html(
    client, rita, campaign, user_session, bot_session
):
    add(campaign, 4, session=user_session, read=1, replied=2)
    add(campaign, 4, session=bot_session)
    client.force_login(rita)
    response = client.get(reverse("campaigns:report", args=[campaign.pk]))
    assert response.status_code == 200
    data = response.json()
    assert data["overall"]["read_rate"] == 25.0 and data["overall"]["reply_rate"] == 25.0
    assert HIDDEN_OR_NOT_YET in data["html"] and NOT_FOR_BOTS in data["html"]
    assert "unread" not in data["html"].lower()
    assert response["Cache-Control"].startswith("max-age=0")


def test_report_json_needs_the_results_view_permission(client, otto, campaign, user_session):
    add(campaign, 2, session=user_session)
    client.force_login(otto)  # sees campaigns, not their results
    assert client.get(reverse("campaigns:report", args=[campaign.pk])).status_code == 403


def test_the_campaign_page_shows_after_the_send_with_rates_by_session_and_list(
    client, mark, campaign, user_session, bot_session
):
    add(campaign, 4, session=user_session, read=2, replied=1)
    add(campaign, 4, session=bot_session, replied=1)
    client.force_login(mark)
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    assert "After the send" in page and 'id="tgc-chart-report"' in page
    assert 'class="tgc-read-rate">50.0%<' in page and 'class="tgc-reply-rate">25.0%<' in page
    assert 'id="tgc-report-sessions"' in page and 'id="tgc-report-lists"' in page
    assert 'id="tgc-report-variants"' not in page  # no variants
    assert NOT_FOR_BOTS in page and HIDDEN_OR_NOT_YET in page
    assert "unread" not in page.lower()


def test_the_campaign_page_compares_variants_when_it_has_them(client, mark, campaign, user_session):
    campaign.variants = ["B wording"]
    campaign.save()
    add(campaign, 3, session=user_session, variant="A")
    add(campaign, 3, session=user_session, variant="B", read=3)
    client.force_login(mark)
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    assert 'id="tgc-report-variants"' in page and TOO_FEW in page


def test_staff_without_the_results_permission_see_no_after_the_send_section(
    client, otto, campaign, user_session
):
    add(campaign, 2, session=user_session, read=1)
    client.force_login(otto)
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    assert "After the send" not in page and "tgc-chart-report" not in page
