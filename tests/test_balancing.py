"""The pull policy on its own (campaigns.engine.balancing): who may pull, how much, and how a
session that was away (a FloodWait, an earlier slice) rejoins. Pure: no database, no clock."""

from __future__ import annotations

import pytest

from campaigns.engine.balancing import PullPolicy, expected_split


def test_round_robin_lets_a_session_pull_only_while_it_is_not_ahead_of_another_ready_one():
    policy = PullPolicy("round_robin", {1: 1, 2: 1}, taken={1: 5, 2: 3}, pool=10)
    assert not policy.may_take(1, ready={1, 2})
    assert policy.may_take(2, ready={1, 2})
    assert policy.may_take(1, ready={1})  # a session that is not ready never holds another back


def test_a_turn_is_the_sessions_share_of_what_is_left_capped_by_its_batch():
    policy = PullPolicy("round_robin", {1: 1, 2: 1}, taken={1: 0, 2: 0}, pool=100)
    assert policy.turn(1, ready={1, 2}, batch=10) == 10
    assert policy.turn(1, ready={1, 2}, batch=1000) == 50


def test_a_session_back_from_a_flood_wait_starts_from_the_current_even_share():
    # Sessions 1 and 2 sent 100 each while session 3 waited out a FloodWait.
    policy = PullPolicy("round_robin", {1: 1, 2: 1, 3: 1}, taken={1: 100, 2: 100, 3: 0}, pool=300)

    policy.rejoin(3, present={1, 2, 3})

    # Nobody waits while it makes up the turns it missed: it pulls in turn with the others.
    assert policy.taken[3] == 100
    assert policy.may_take(1, ready={1, 2, 3}) and policy.may_take(3, ready={1, 2, 3})
    assert policy.turn(3, ready={1, 2, 3}, batch=1000) == 100  # an even third of the 300 left


def test_a_rejoining_session_starts_level_with_the_slowest_present_one_and_is_never_set_back():
    policy = PullPolicy("round_robin", {1: 1, 2: 1, 3: 1, 4: 1}, taken={1: 80, 2: 120, 3: 10, 4: 200})
    policy.rejoin(3, present={1, 2, 3})
    assert policy.taken[3] == 80
    policy.rejoin(4, present={1, 2, 3})
    assert policy.taken[4] == 200  # ahead already: it keeps waiting its turn


def test_a_rejoining_session_under_weighted_starts_from_its_weights_share():
    policy = PullPolicy("weighted", {1: 1, 2: 3}, taken={1: 50, 2: 0})
    policy.rejoin(2, present={1, 2})
    assert policy.taken[2] == 150


def test_a_session_alone_or_unknown_rejoins_as_it_is():
    policy = PullPolicy("round_robin", {1: 1, 2: 1}, taken={1: 7, 2: 0})
    policy.rejoin(2, present={2})
    policy.rejoin(9, present={1, 2})
    assert policy.taken == {1: 7, 2: 0}


def test_a_slice_starts_every_session_from_the_same_share():
    # Session 3 missed the previous slice: the others do not wait for it to catch up.
    policy = PullPolicy("weighted", {1: 1, 2: 1, 3: 2}, taken={1: 100, 2: 90, 3: 0}, pool=400)
    policy.start_even()
    assert policy.taken == {1: 100, 2: 100, 3: 200}
    assert all(policy.may_take(s, ready={1, 2, 3}) for s in (1, 2))
    assert policy.turn(3, ready={1, 2, 3}, batch=1000) == 200  # half of the 400 left, by weight


def test_least_loaded_lets_whoever_has_capacity_pull():
    policy = PullPolicy("least_loaded", {1: 1, 2: 1}, taken={1: 500, 2: 0}, pool=10)
    assert policy.may_take(1, ready={1, 2})


def test_an_unknown_strategy_or_no_session_is_refused():
    with pytest.raises(ValueError, match="unknown strategy"):
        PullPolicy("random", {1: 1})
    with pytest.raises(ValueError, match="no session"):
        PullPolicy("round_robin", {})


def test_the_expected_split_follows_the_strategy():
    sessions = {1: (1, 10.0), 2: (3, 30.0)}
    assert expected_split("round_robin", sessions, 10) == {1: 5, 2: 5}
    assert expected_split("weighted", sessions, 8) == {1: 2, 2: 6}
    assert sum(expected_split("least_loaded", sessions, 101).values()) == 101
