"""A Telegram session's numeric settings are held to one range each
(``sessions_app.models.session_bounds``), refused alike by the admin's form and the ``loginsession``
command with a sentence naming the range: a negative or absurd delay, a pace faster than the
fastest the product sends at, no weight, an API id MTProto cannot carry, NaN and infinity. A
simulator reaches no one, so only its delay may go below that floor. A value stored outside its
range anyway (a raw UPDATE, an old row) is obeyed as the nearest safe value: the engine neither
crashes nor sends faster than the range allows."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from campaigns import engine
from campaigns.engine.pacing import load_pace, next_request_at
from campaigns.models import CampaignStatus
from campaigns.reporting.forecast import session_paces
from sessions_app.models import PACE_DEFAULTS, Backend, SessionKind, TelegramSession
from sessions_app.models.session_bounds import (
    BOUNDS,
    SEND_DELAY,
    SIMULATED_BOUNDS,
    SIMULATOR_NUMBERS,
    bounds_for,
)
from tests.conftest import make_campaign, make_session
from tests.fakes import telegram_fixture  # noqa: F401  (the "telegram" fixture)

pytestmark = pytest.mark.django_db

# Each setting with values its range refuses, for a Telegram session: below, above, absurd, none.
REFUSED = [
    ("send_delay", -1),
    ("send_delay", 0),  # as fast as the machine goes: faster than Telegram's bulk pace
    ("send_delay", 0.01),
    ("send_delay", 3600.5),
    ("send_delay", 1e308),
    ("send_delay", "nan"),
    ("send_delay", "inf"),
    ("send_delay", "abc"),
    ("max_per_minute", -1),
    ("max_per_minute", 1501),
    ("max_per_minute", 10**30),
    ("max_per_minute", "1e308"),
    ("daily_cap", -1),
    ("daily_cap", BOUNDS["daily_cap"].high + 1),
    ("daily_cap", 10**30),
    ("weight", 0),
    ("weight", -1),
    ("weight", 101),
    ("weight", 10**30),
    ("api_id", 0),
    ("api_id", -5),
    ("api_id", 2**31),
    ("api_id", 10**30),
]
ALLOWED = [
    ("send_delay", 0.04),
    ("send_delay", 3600),
    ("max_per_minute", 0),
    ("max_per_minute", 1500),
    ("daily_cap", 0),
    ("daily_cap", BOUNDS["daily_cap"].high),
    ("weight", 1),
    ("weight", 100),
    ("api_id", 1),
    ("api_id", 2**31 - 1),
]


@pytest.fixture
def client(client, otto):
    client.force_login(otto)
    return client


@pytest.fixture
def account():
    """A Telegram user account with its kind's pace."""
    session = TelegramSession(name="alice", kind=SessionKind.USER, backend=Backend.TELETHON)
    session.apply_pace_defaults()
    session.save()
    return session


def change_url(session) -> str:
    return reverse("admin:sessions_app_telegramsession_change", args=[session.pk])


def form_data(client, session, **changes) -> dict:
    """The session's change form as its page shows it, with ``changes``."""
    form = client.get(change_url(session)).context["adminform"].form
    data = {
        name: form[name].value()
        for name, field in form.fields.items()
        if not field.disabled and form[name].value() is not None
    }
    data = {k: v for k, v in data.items() if v is not False}
    from tgcampaigns.edit_conflicts import VERSION_FIELD

    data[VERSION_FIELD] = client.get(change_url(session)).context["edit_version"]
    return data | {name: str(value) for name, value in changes.items()}


def stored(session) -> tuple:
    session.refresh_from_db()
    return (session.send_delay, session.max_per_minute, session.daily_cap, session.weight, session.api_id)


# The admin's form --------------------------------------------------------------------------------
@pytest.mark.parametrize(("field", "value"), REFUSED)
def test_the_admins_form_refuses_a_setting_out_of_its_range_with_the_range(client, account, field, value):
    before = stored(account)

    response = client.post(change_url(account), form_data(client, account, **{field: value}))

    assert response.status_code == 200  # the form again, not a redirect
    assert response.context["adminform"].form.errors[field] == [BOUNDS[field].message]
    assert stored(account) == before


@pytest.mark.parametrize(("field", "value"), ALLOWED)
def test_the_admins_form_keeps_a_setting_at_the_edge_of_its_range(client, account, field, value):
    response = client.post(change_url(account), form_data(client, account, **{field: value}))

    assert response.status_code == 302, response.context["adminform"].form.errors
    account.refresh_from_db()
    assert getattr(account, field) == value


def test_a_simulators_delay_may_be_zero_but_never_negative(client, alpha):
    kept = client.post(change_url(alpha), form_data(client, alpha, send_delay=0))
    refused = client.post(change_url(alpha), form_data(client, alpha, send_delay=-0.5))

    assert kept.status_code == 302
    assert refused.context["adminform"].form.errors["send_delay"] == [SIMULATED_BOUNDS["send_delay"].message]


def test_a_simulator_turned_into_a_telegram_session_is_held_to_telegrams_floor(client, alpha):
    response = client.post(change_url(alpha), form_data(client, alpha, backend="telethon"))

    assert response.context["adminform"].form.errors["send_delay"] == [SEND_DELAY.message]
    alpha.refresh_from_db()
    assert alpha.backend == Backend.SIMULATOR


def test_a_new_session_with_no_weight_is_refused(client):
    response = client.post(
        reverse("admin:sessions_app_telegramsession_add"),
        {"name": "shop-bot", "kind": "bot", "backend": "telethon", "phone": "", "weight": "0"},
    )

    assert response.context["adminform"].form.errors["weight"] == [BOUNDS["weight"].message]
    assert not TelegramSession.objects.exists()


def test_the_admins_inputs_carry_the_ranges(client, account):
    form = client.get(change_url(account)).context["adminform"].form

    for name, bounds in BOUNDS.items():
        attrs = form.fields[name].widget.attrs
        assert (attrs["min"], attrs["max"]) == (bounds.low, bounds.high), name


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"latency_ms": [-5, 10]}, "latency_ms"),
        ({"latency_ms": [10, 5]}, "latency_ms"),
        ({"latency_ms": [0, 1e308]}, "latency_ms"),
        ({"latency_ms": 5}, "latency_ms"),
        ({"flood_rate": 1.5}, "flood_rate"),
        ({"transient_rate": float("nan")}, "transient_rate"),
        ({"read_rate": "often"}, "read_rate"),
        ({"flood_seconds": [1, float("inf")]}, "flood_seconds"),
        ({"reply_after_s": [-1, 5]}, "reply_after_s"),
        ({"seed": 1.5}, "seed"),
        ([1, 2], "an object"),
    ],
)
def test_a_simulators_numbers_out_of_their_range_are_refused(alpha, config, words):
    from django.core.exceptions import ValidationError

    alpha.simulator_config = config

    with pytest.raises(ValidationError) as refused:
        alpha.full_clean()

    assert words in str(refused.value.message_dict["simulator_config"])


def test_a_simulators_numbers_in_range_are_kept(alpha):
    alpha.simulator_config = {
        name: [bounds.low, bounds.high] if pair else bounds.high
        for name, (bounds, pair) in SIMULATOR_NUMBERS.items()
    }

    alpha.full_clean()


def test_the_demos_simulated_sessions_are_within_their_ranges(db):
    call_command("loaddemo", verbosity=0)

    for session in TelegramSession.objects.all():
        session.full_clean()


def test_every_default_pace_is_within_its_range():
    for kind, pace in PACE_DEFAULTS.items():
        for name, value in pace.items():
            assert value in BOUNDS[name], (kind, name, value)


# The session commands -------------------------------------------------------------------------
@pytest.mark.parametrize("api_id", ["0", "-5", str(2**31), str(10**30), "abc", "1e3"])
def test_loginsession_refuses_an_api_id_out_of_range_before_anything_is_stored(telegram, api_id):
    with pytest.raises(CommandError) as refused:
        call_command("loginsession", "alice", "--phone", "+4915100000001", "--api-id", api_id)

    assert str(refused.value) == f"Error: argument --api-id: {BOUNDS['api_id'].message}"
    assert not TelegramSession.objects.exists()


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--window", "-5"),
        ("--window", "nan"),
        ("--window", "1e308"),
        ("--idle", "0"),  # no session free: the rounds spin on the database
        ("--idle", "nan"),
        ("--idle", "inf"),
    ],
)
def test_listenoptouts_refuses_a_window_or_idle_wait_out_of_range(option, value):
    from campaigns.management.commands.listenoptouts import IDLE, WINDOW

    bounds = WINDOW if option == "--window" else IDLE
    with pytest.raises(CommandError) as refused:
        call_command("listenoptouts", "--once", option, value)

    assert str(refused.value) == f"Error: argument {option}: {bounds.message}"


def test_listenoptouts_runs_a_round_at_the_edges_of_its_ranges(capsys):
    from campaigns.management.commands.listenoptouts import IDLE, WINDOW

    call_command("listenoptouts", "--once", "--window", str(WINDOW.low), "--idle", str(IDLE.high))

    assert "listened on 0 session(s)" in capsys.readouterr().out


def test_listenoptouts_refuses_rounds_too_short_to_repeat(monkeypatch):
    # Round after round of 0 s, every session reconnected to Telegram in a tight loop.
    def no_round(*args, **kwargs):
        raise AssertionError("a round was started")

    monkeypatch.setattr("campaigns.engine.listener.listen_round", no_round)

    with pytest.raises(CommandError, match="--window: at least 30 seconds round after round"):
        call_command("listenoptouts", "--window", "0")


# A value stored out of range anyway (a raw UPDATE, an old row) --------------------------------
@pytest.mark.parametrize(
    ("stored_delay", "obeyed"),
    [(-5.0, SEND_DELAY.low), (0.0, SEND_DELAY.low), (1e308, SEND_DELAY.high), (math.inf, SEND_DELAY.high)],
)
def test_a_telegram_sessions_stored_delay_out_of_range_is_obeyed_as_the_nearest_end(
    account, stored_delay, obeyed
):
    account.send_delay = stored_delay  # as loaded from a row a raw UPDATE wrote

    assert load_pace(account).delay == obeyed
    assert next_request_at(account) <= timezone.now() + timedelta(seconds=SEND_DELAY.high + 1)


def test_a_stored_delay_that_is_no_number_is_obeyed_as_the_kinds_default(account):
    account.send_delay, account.max_per_minute = math.nan, 10**12

    pace = load_pace(account)

    assert pace.delay == PACE_DEFAULTS[SessionKind.USER]["send_delay"]
    assert pace.per_minute == BOUNDS["max_per_minute"].high


def test_a_simulators_stored_negative_delay_is_obeyed_as_no_delay(alpha):
    alpha.send_delay = -5.0

    assert load_pace(alpha).delay == 0.0


def test_the_launch_summarys_forecast_reads_the_pace_the_engine_obeys(people):
    session = make_session("sim", kind=SessionKind.USER)
    TelegramSession.objects.filter(pk=session.pk).update(send_delay=1e308)
    campaign = make_campaign("slow", [people], [session])

    (pace,) = session_paces(campaign)

    assert pace.interval == SEND_DELAY.high  # was 1e308: "no estimate: no session can send"


def test_a_campaign_whose_session_holds_an_absurd_delay_sends_once_and_waits_at_most_an_hour(people):
    session = make_session("sim")
    TelegramSession.objects.filter(pk=session.pk).update(send_delay=1e308)
    campaign = make_campaign("drip", [people], [session])
    engine.launch(campaign, enqueue=False)

    outcome = engine.drive(campaign.pk, seconds=2, enqueue_next=False)

    campaign.refresh_from_db()
    assert outcome == "waiting" and campaign.status == CampaignStatus.RUNNING
    assert campaign.results.filter(status="sent").count() == 1
    assert campaign.wake_at <= timezone.now() + timedelta(seconds=SEND_DELAY.high + 1)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="only PostgreSQL stores NaN and Infinity")
@pytest.mark.parametrize(
    ("value", "sent"),
    [("NaN", 1), ("Infinity", 1), ("-Infinity", 5)],  # the kind's 20 s, an hour, no delay
)
def test_a_delay_postgresql_stores_as_no_number_neither_crashes_nor_races_the_engine(people, value, sent):
    session = make_session("sim", kind=SessionKind.USER)
    with connection.cursor() as cursor:
        table = TelegramSession._meta.db_table
        cursor.execute(f"UPDATE {table} SET send_delay = %s::float WHERE id = %s", [value, session.pk])
    campaign = make_campaign("odd", [people], [session])
    engine.launch(campaign, enqueue=False)

    engine.drive(campaign.pk, seconds=2, enqueue_next=False)

    assert campaign.results.filter(status="sent").count() == sent


def test_bounds_for_a_backend():
    assert bounds_for(Backend.SIMULATOR) is SIMULATED_BOUNDS
    assert bounds_for(Backend.TELETHON) is BOUNDS


def test_the_operators_guide_lists_each_range_as_the_model_holds_it():
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "using.md").read_text(encoding="utf-8")
    for name, bounds in BOUNDS.items():
        assert f"| {bounds.span}" in text, name
