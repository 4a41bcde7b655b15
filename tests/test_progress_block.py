"""The progress block and the launch summary say what is true (issue 19 item 9): skipped rows are
not "waiting for a session", a session's bar is on the scale of its own rows (and says so in words:
"412 of 1,000 sent"), the rows no session took yet on the campaign's, a finished campaign's bar
is full beside "100.0% done", a pace is said as the pace it is, quiet hours are named as what
makes a launch long, and an A/B test waiting for its winner asks for the winner (offered only once
the variants' rows are settled)."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from campaigns import engine
from campaigns.models import CampaignStatus, ResultStatus
from campaigns.reporting.progress import NO_SESSION, progress_snapshot
from tests.conftest import make_campaign, make_list, make_session

pytestmark = pytest.mark.django_db


def _rows(snapshot: dict, name: str) -> dict:
    return next(row for row in snapshot["sessions"] if row["name"] == name)


def _widths(segments: list[dict]) -> dict[str, float]:
    return {s["status"]: s["percent"] for s in segments if s["percent"]}


def test_skipped_rows_are_not_counted_as_waiting_for_a_session(alpha):
    twice = make_list("twice", [("@anna", {}), ("@anna", {}), ("@ben", {})])
    campaign = make_campaign("Dups", [twice], [alpha])
    engine.launch(campaign, enqueue=False)

    snapshot = progress_snapshot(campaign)

    pool = _rows(snapshot, NO_SESSION)
    assert pool["counts"][ResultStatus.SKIPPED] == 0 and pool["total"] == 2
    assert sum(row["counts"][ResultStatus.SKIPPED] for row in snapshot["sessions"]) == 1


def test_a_sessions_bar_is_its_own_share_and_the_rows_waiting_for_a_session_have_theirs(people):
    capped = make_session("capped", daily_cap=2)
    campaign = make_campaign("Capped", [people], [capped])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=2)

    snapshot = progress_snapshot(campaign)

    assert snapshot["waiting"] == 3
    assert _widths(_rows(snapshot, "capped")["segments"]) == {"sent": 100.0}  # the 2 it took, sent
    assert _rows(snapshot, "capped")["words"] == "2 of 2 sent"
    pool = _rows(snapshot, NO_SESSION)  # not full: the 3 still waiting are on the campaign's scale
    assert _widths(pool["segments"]) == {"pending": 60.0} and pool["words"] == "3 of the campaign's 5"


def test_with_ten_sessions_each_bar_is_scaled_to_that_sessions_rows_and_says_so(client, mark, people):
    """Found trying the product: on the campaign's scale, ten sessions' bars all looked nearly
    empty (each a tenth of it at best)."""
    from campaigns.models import MessageResult

    sessions = [make_session(f"session {i}") for i in range(10)]
    campaign = make_campaign("Ten", [people], sessions, status=CampaignStatus.RUNNING)
    rows = []
    for i, session in enumerate(sessions):
        # 1,000 rows each: 412 sent, 3 failed, the rest taken and not sent yet.
        shares = [(ResultStatus.SENT, 412), (ResultStatus.FAILED, 3), (ResultStatus.CLAIMED, 585)]
        n = 0
        for status, count in shares:
            for _ in range(count):
                key = f"@s{i}_{n:04d}"
                rows.append(
                    MessageResult(campaign=campaign, key=key, dedupe_key=key, session=session, status=status)
                )
                n += 1
    rows += [MessageResult(campaign=campaign, key=f"@p{n}", dedupe_key=f"@p{n}") for n in range(2000)]
    MessageResult.objects.bulk_create(rows, batch_size=2000)

    snapshot = progress_snapshot(campaign)

    for session in sessions:
        row = _rows(snapshot, session.name)
        assert _widths(row["segments"]) == {"sent": 41.2, "failed": 0.3, "pending": 58.5}
        assert row["words"] == "412 of 1,000 sent · 3 failed"
    assert _rows(snapshot, NO_SESSION)["words"] == "2,000 of the campaign's 12,000"
    client.force_login(mark)
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    table = html.unescape(re.search(r'<table class="tgc-sessions">.*?</table>', page, re.S).group(0))
    assert table.count("412 of 1,000 sent · 3 failed") == 10
    assert "2,000 of the campaign's 12,000" in table
    assert "its own rows" in table  # the column says what its bars are scaled to


def test_a_finished_campaign_with_skipped_rows_has_a_full_bar_beside_100_percent_done(alpha):
    twice = make_list("twice", [("@anna", {}), ("@anna", {}), ("@ben", {}), ("@ben", {})])
    campaign = make_campaign("Dups", [twice], [alpha])
    engine.launch(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED

    snapshot = progress_snapshot(campaign)

    assert snapshot["percent_done"] == 100.0
    assert _widths(snapshot["segments"]) == {"sent": 100.0}
    assert _widths(_rows(snapshot, "alpha")["segments"]) == {"sent": 100.0}
    assert snapshot["counts"][ResultStatus.SKIPPED] == 2  # still said, beside the bar


def test_the_launch_summary_says_a_sessions_effective_pace_not_a_ceiling_it_never_reaches(
    client, mark, people
):
    slow = make_session("slow", send_delay=3.0, max_per_minute=120)
    campaign = make_campaign("Slow", [people], [slow])
    client.force_login(mark)

    page = client.get(reverse("admin:campaigns_campaign_launch", args=[campaign.pk])).content.decode()

    assert "20/min (one every 3 s)" in page
    assert "at most 120/min" not in page


def berlin_window_campaign(name: str, session, *, opens_in: timedelta, lasts: timedelta):
    """Two Berlin phones, and a campaign whose send window opens ``opens_in`` from now (Berlin's
    clock, to the minute) and lasts ``lasts``."""
    berlin = make_list("berlin", [("+4915112345678", {}), ("+4915112345679", {})])
    opens = timezone.localtime(timezone.now(), timezone=ZoneInfo("Europe/Berlin")) + opens_in
    return make_campaign(
        name,
        [berlin],
        [session],
        send_window_start=opens.time().replace(second=0, microsecond=0),
        send_window_end=(opens + lasts).time().replace(second=0, microsecond=0),
    )


def test_a_launch_made_long_by_quiet_hours_names_the_send_window_not_the_pace(client, mark, alpha):
    campaign = berlin_window_campaign("Quiet", alpha, opens_in=timedelta(hours=3), lasts=timedelta(hours=2))
    client.force_login(mark)

    page = client.get(reverse("admin:campaigns_campaign_launch", args=[campaign.pk]))

    how_long = re.search(r'id="tgc-summary-eta-\d+">(.*?)</p>', page.content.decode(), re.S).group(1)
    assert re.search(r"about (2 h 5\d min|3 h)", how_long) and "send window" in how_long, how_long
    assert "at the sessions' pace" not in how_long.split("send window")[0], how_long


def paused_for_winner(alpha):
    crowd = make_list("crowd", [(f"@member_{i:04d}", {}) for i in range(8)])
    campaign = make_campaign("ab", [crowd], [alpha], variants=["B"], split={"A": 25, "B": 25, "hold": 50})
    engine.launch(campaign, enqueue=False)
    return campaign


def test_choose_the_winner_is_offered_once_the_variants_rows_are_settled_and_the_eta_asks_for_it(alpha):
    campaign = paused_for_winner(alpha)
    assert campaign.counts()[ResultStatus.PENDING]  # the variants A and B, about 2 each
    assert "choose_winner" not in campaign.operations(campaign.counts())  # the test still sends

    engine.run_until_done(campaign, max_seconds=20)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert "choose_winner" in campaign.operations(campaign.counts())
    eta = progress_snapshot(campaign)["pace"]["eta"]
    assert "choose the winner" in eta and "resumed" not in eta


# Quiet hours (issue 19, the A/B walk with a send window) ---------------------------------------
TOKYO, BERLIN, NEW_YORK = "+81312345678", "+493012345678", "+12125551234"


@pytest.fixture
def frozen_clock(monkeypatch):
    """The engine's database clock follows freezegun's (no measured 'skew')."""
    from sessions_app import clock

    monkeypatch.setattr(clock, "offset_seconds", lambda: 0.0)
    monkeypatch.setattr(clock, "sync", lambda: 0.0)


def _nine_to_eight():
    from datetime import time

    session = make_session("alpha", kind="user")
    world = make_list("world", [(TOKYO, {}), (BERLIN, {}), (NEW_YORK, {})])
    return make_campaign("quiet", [world], [session], send_window_start=time(9), send_window_end=time(20))


def _utc(*args):
    from datetime import UTC, datetime

    return datetime(*args, tzinfo=UTC)


def test_rows_waiting_for_their_send_window_have_their_own_row_not_waiting_for_a_session(frozen_clock):
    from freezegun import freeze_time

    from campaigns.reporting.progress import WINDOW_ROW

    with freeze_time(_utc(2026, 3, 10, 18), tick=True):  # Tokyo 03:00, Berlin 19:00, New York 14:00
        campaign = _nine_to_eight()
        engine.launch(campaign, enqueue=False)

        snapshot = progress_snapshot(campaign)

    assert "send window" in WINDOW_ROW
    assert _rows(snapshot, WINDOW_ROW)["counts"][ResultStatus.PENDING] == 1  # Tokyo, shut
    assert _rows(snapshot, NO_SESSION)["counts"][ResultStatus.PENDING] == 2  # open: a session may send


def test_the_rate_does_not_fall_while_nothing_is_sent_and_says_why_it_is_not_sending(frozen_clock):
    from freezegun import freeze_time

    with freeze_time(_utc(2026, 3, 10, 18), tick=True):
        campaign = _nine_to_eight()
        engine.launch(campaign, enqueue=False)
        engine.drive(campaign.pk, seconds=3, enqueue_next=False)
    with freeze_time(_utc(2026, 3, 10, 18, 3), tick=True):  # Tokyo still shut, the others sent
        campaign.refresh_from_db()
        pace = progress_snapshot(campaign)["pace"]

    assert pace["rate_per_minute"] is None, pace
    assert pace["not_sending"].startswith("not sending now: "), pace
    assert "send window" in pace["not_sending"], pace


def test_the_rate_is_measured_over_the_time_the_campaign_was_sending(alpha, people):
    from campaigns.models import AttemptTally
    from campaigns.reporting.progress import recent_rate

    campaign = make_campaign("Steady", [people], [alpha])
    t0 = timezone.now() - timedelta(minutes=1)
    for start in (t0, t0 + timedelta(seconds=59)):
        AttemptTally.objects.create(
            campaign_id=campaign.pk,
            session_id=alpha.pk,
            requests=10,
            sent=10,
            first_started_at=start,
            last_finished_at=start + timedelta(seconds=1),
        )

    sending = recent_rate(campaign, t0 + timedelta(seconds=61))
    a_moment_later = recent_rate(campaign, t0 + timedelta(seconds=90))

    assert sending == a_moment_later == 20.0  # 20 sent over the 60 s it was sending


def test_the_estimate_before_launch_counts_the_send_window_as_the_launch_summary_does(alpha):
    from campaigns.reporting.summary import launch_summary

    campaign = berlin_window_campaign("Quiet", alpha, opens_in=timedelta(hours=3), lasts=timedelta(hours=2))

    with freeze_time(
        timezone.now()
    ):  # both read one instant: a minute boundary between them is no difference
        eta = progress_snapshot(campaign)["pace"]["eta"]
        summary = launch_summary(campaign)

    assert summary.window_delay and summary.duration in eta, (summary.duration, eta)
    assert "send window" in eta and "under a minute at its sessions' pace" not in eta.split("send window")[0]


def test_a_send_window_that_adds_little_is_said_beside_the_pace_not_as_what_makes_it_long():
    slow = make_session("slow", send_delay=3600.0)  # two messages: about 2 h at its pace
    campaign = berlin_window_campaign(
        "Slow and quiet", slow, opens_in=timedelta(minutes=20), lasts=timedelta(hours=6)
    )

    eta = progress_snapshot(campaign)["pace"]["eta"]

    assert "most of it waiting" not in eta, eta
    assert re.search(r"at its sessions' pace, about \d+ min of it waiting for the send window", eta), eta


# The A/B walk with quiet hours, paused (issue: a paused test said "Sending at") ---------------
def _sent_lately(campaign, session, sent: int, seconds: float):
    from campaigns.models import AttemptTally

    start = timezone.now() - timedelta(seconds=seconds + 1)
    AttemptTally.objects.create(
        campaign_id=campaign.pk,
        session_id=session.pk,
        requests=sent,
        sent=sent,
        first_started_at=start,
        last_finished_at=start + timedelta(seconds=seconds),
    )


def test_a_test_paused_for_its_winner_says_so_and_what_the_pace_allows_once_chosen_never_sending_at(alpha):
    campaign = paused_for_winner(alpha)
    engine.run_until_done(campaign, max_seconds=20)  # the test's rows sent: only the hold-out left
    campaign.refresh_from_db()
    _sent_lately(campaign, alpha, 20, 60)

    pace = progress_snapshot(campaign)["pace"]

    assert campaign.status == CampaignStatus.PAUSED
    assert pace["rate_per_minute"] is None, pace
    # No Resume is offered while only the hold-out is left: the line never says "resumed".
    assert "choose the winner" in pace["not_sending"], pace
    assert "once the winner is chosen" in pace["not_sending"] and "resumed" not in pace["not_sending"], pace


def test_a_campaign_paused_by_staff_says_it_is_paused_and_what_the_pace_allows_once_resumed(alpha):
    recipients = make_list("five", [(f"@reader_{i}x", {}) for i in range(5)])
    campaign = make_campaign("Paused", [recipients], [alpha])
    engine.launch(campaign, enqueue=False)
    engine.pause(campaign)
    campaign.refresh_from_db()

    pace = progress_snapshot(campaign)["pace"]

    assert pace["rate_per_minute"] is None, pace
    assert "the campaign is paused" in pace["not_sending"] and "once resumed" in pace["not_sending"], pace


def test_while_the_tests_rows_still_wait_the_winner_is_said_to_be_chosen_once_they_are_sent(alpha):
    campaign = paused_for_winner(alpha)
    engine.pause(campaign)
    campaign.refresh_from_db()
    counts = campaign.counts()
    open_rows = sum(counts[s] for s in (ResultStatus.PENDING, ResultStatus.CLAIMED, ResultStatus.SENDING))

    waits = progress_snapshot(campaign)["pace"]["waits"]

    held = [w for w in waits if "held for the winner" in w]
    assert held and "choose it to send them" not in held[0], waits
    assert f"once the test's {open_rows} messages are sent" in held[0], waits


def test_the_eta_counts_the_held_messages_after_those_to_go(alpha):
    campaign = paused_for_winner(alpha)
    snapshot = progress_snapshot(campaign)

    assert snapshot["held"] and snapshot["waiting"]
    assert f"to go, then {snapshot['held']} held for the winner" in snapshot["pace"]["eta"], snapshot["pace"]


def test_a_rate_over_a_few_seconds_is_said_as_a_count_not_a_rate_above_the_pace(alpha, people):
    from campaigns.reporting.progress import metrics

    campaign = make_campaign("Burst", [people], [alpha])
    _sent_lately(campaign, alpha, 5, 2)

    m = metrics(campaign)

    assert m["sent_per_minute"] is None and m["sent"] == 5  # 150/min from 2 s would be noise


def test_a_rate_above_the_pace_allowed_says_why(alpha, people):
    campaign = make_campaign("Fast", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    campaign.refresh_from_db()
    allowed = progress_snapshot(campaign)["pace"]["allowed_per_minute"]
    _sent_lately(campaign, alpha, int(allowed * 2), 60)

    snapshot = progress_snapshot(campaign)

    assert snapshot["metrics"]["sent_per_minute"] > allowed
    assert snapshot["metrics"]["above_pace"], snapshot["metrics"]


def test_the_results_changelist_says_a_status_in_the_progress_blocks_words(alpha):
    from django.contrib.admin.sites import site

    from campaigns.models import MessageResult
    from campaigns.reporting.progress import STATUS_LABELS

    campaign = paused_for_winner(alpha)
    result_admin = site._registry[MessageResult]
    for status in (ResultStatus.PENDING, ResultStatus.HELD):
        row = campaign.results.filter(status=status).first()
        assert STATUS_LABELS[status] in result_admin.status_badge(row)


def test_a_paused_tests_rows_waiting_for_their_window_say_when_it_opens(frozen_clock):
    from datetime import time

    with freeze_time(_utc(2026, 3, 10, 18), tick=True):  # Tokyo 03:00: its window shut until 09:00
        session = make_session("alpha", kind="user")
        tokyo = make_list("tokyo", [(f"+8131234567{i}", {}) for i in range(8)])
        campaign = make_campaign(
            "ab quiet",
            [tokyo],
            [session],
            variants=["B"],
            split={"A": 25, "B": 25, "hold": 50},
            send_window_start=time(9),
            send_window_end=time(20),
        )
        engine.launch(campaign, enqueue=False)
        engine.pause(campaign)
        campaign.refresh_from_db()
        waits = progress_snapshot(campaign)["pace"]["waits"]

    held = [w for w in waits if "held for the winner" in w]
    assert held and "send window" in held[0] and "opens at" in held[0], waits


def test_the_progress_block_of_a_paused_test_never_says_sending_at_and_counts_a_short_burst(alpha):
    from django.template.loader import render_to_string

    campaign = paused_for_winner(alpha)
    engine.run_until_done(campaign, max_seconds=20)
    campaign.refresh_from_db()
    _sent_lately(campaign, alpha, 20, 60)

    html = render_to_string(
        "admin/campaigns/campaign/_progress.html", {"progress": progress_snapshot(campaign)}
    )

    assert "Sending at" not in html and "choose the winner" in html
    assert re.search(r"\d+ sent in \d+ s \(too short to measure a rate\)", html) or "sent/min" in html
