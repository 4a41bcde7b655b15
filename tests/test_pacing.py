"""Per-session pace: delay, per-minute ceiling, daily cap (pure, no sleeping)."""

import time
from datetime import timedelta

import pytest

from campaigns.engine.pacing import Pace


def test_a_send_waits_for_the_delay_after_the_previous_one():
    pace = Pace(delay=20.0)
    assert pace.wait_for(100.0) == 0
    pace.record(100.0)
    assert 15.0 - pace.slack <= pace.wait_for(105.0) <= 15.0
    assert pace.wait_for(120.0) == 0


def test_small_lateness_is_made_up_but_never_beyond_the_allowed_rate():
    pace = Pace(delay=0.05)
    t, sends = 0.0, []
    for _ in range(1000):
        t += pace.wait_for(t) + 0.003  # every wake-up 3 ms late
        pace.record(t)
        sends.append(t)
    span = sends[-1] - sends[0]
    assert 999 * 0.05 <= span + pace.slack  # never above the allowed rate, beyond one slack
    assert min(b - a for a, b in zip(sends, sends[1:])) >= 0.05 - pace.slack
    assert 999 / span > 0.99 / 0.05  # and the lateness did not cost throughput


def test_lateness_is_not_banked_after_an_idle_period():
    pace = Pace(delay=1.0)
    pace.record(0.0)
    pace.record(100.0)  # idle for 99 s
    assert pace.wait_for(100.5) >= 0.5 - pace.slack


def test_the_per_minute_ceiling_holds_the_next_send_until_the_window_frees():
    pace = Pace(delay=0.0, per_minute=3)
    for t in (0.0, 1.0, 2.0):
        pace.record(t)
    assert pace.wait_for(3.0) == 57.0
    assert pace.wait_for(60.0) == 0


def test_the_daily_cap_counts_sends_already_made_today():
    pace = Pace(delay=0.0, daily_cap=40, requests_today=39)
    assert not pace.capped() and pace.remaining_today() == 1
    pace.record(0.0)
    assert pace.capped() and pace.remaining_today() == 0


def test_interval_is_the_slower_of_delay_and_the_minute_ceiling():
    assert Pace(delay=1.0, per_minute=30).interval == 2.0
    assert Pace(delay=5.0, per_minute=30).interval == 5.0


@pytest.mark.django_db
def test_a_new_slice_waits_out_the_campaign_delay_after_the_sessions_last_request():
    """A campaign's delay (300 s) is longer than its session's own (0.5 s): the next slice, which
    loads the pace from the database, must wait the campaign's delay after the session's last
    request, not the session's (each slice sent one message and ended, the next sent at once:
    seven messages in 3 s at "300 s between sends")."""
    from django.utils import timezone

    from campaigns import engine
    from campaigns.engine import pacing
    from campaigns.models import DeliveryAttempt
    from tests.conftest import make_campaign, make_list, make_session

    session = make_session("slow", send_delay=0.5)
    other = make_session("other", send_delay=0.5)
    people = make_list("people", [("@slow_one", {}), ("@slow_two", {})])
    campaign = make_campaign("Slow", [people], [session, other])
    campaign.delay_seconds = 300
    campaign.save()
    engine.launch(campaign, enqueue=False)
    now = timezone.now()
    first, second = campaign.results.order_by("pk")
    DeliveryAttempt.objects.create(
        result=first, session=session, started_at=now - timedelta(seconds=10), finished_at=now, outcome="sent"
    )
    # Long ago: the other session's next request is not held.
    DeliveryAttempt.objects.create(
        result=second, session=other, started_at=now - timedelta(seconds=400), finished_at=now, outcome="sent"
    )

    paces = pacing.load_paces([session, other], now)

    assert 280 <= paces[session.pk].wait_for(time.monotonic()) <= 290
    assert paces[other.pk].wait_for(time.monotonic()) == 0
    assert pacing.next_request_at(session, now) >= now + timedelta(seconds=280)


@pytest.mark.django_db
def test_a_session_held_by_a_campaigns_delay_says_so_and_the_eta_counts_from_its_end():
    """While the campaign's 300 s delay holds its session after its latest request, the
    progress block says why nothing leaves and until when, and the ETA starts after the hold."""
    from django.utils import timezone

    from campaigns import engine
    from campaigns.models import AttemptTally
    from campaigns.reporting import forecast
    from tests.conftest import make_campaign, make_list, make_session

    session = make_session("slow", send_delay=0.5)
    people = make_list("people", [(f"@slow_{i}", {}) for i in range(3)])
    campaign = make_campaign("Slow", [people], [session])
    campaign.delay_seconds = 300
    campaign.save()
    engine.launch(campaign, enqueue=False)
    now = timezone.now()
    # The page reads the tallies the engine writes with each batch (never the requests).
    at = now - timedelta(seconds=100)
    AttemptTally.objects.create(
        campaign_id=campaign.pk,
        session_id=session.pk,
        requests=1,
        sent=1,
        first_started_at=at,
        last_finished_at=at,
    )
    paces = forecast.session_paces(campaign, now)
    said = forecast.waits(campaign, paces, now)

    assert paces[0].available_at == now + timedelta(seconds=200)
    assert any("slow waits out the 300 s between sends “Slow” asks for" in line for line in said), said
    campaign.delay_seconds = 1  # a short delay: nothing held, nothing said
    campaign.save()
    assert forecast.session_paces(campaign, now)[0].available_at == now
