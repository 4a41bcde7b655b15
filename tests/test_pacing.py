"""Per-session pace: delay, per-minute ceiling, daily cap (pure, no sleeping)."""

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
