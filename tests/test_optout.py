"""Opt-out replies become suppressions (campaigns.people.optout), through the fake Telegram."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.management import call_command
from django.utils import timezone

from campaigns.engine import listener
from campaigns.models import Campaign, CampaignStatus, Suppression
from campaigns.people import optout
from sessions_app.models import Backend, SessionStatus, TelegramSession
from tests.fakes import telegram_fixture  # noqa: F401  (the "telegram" fixture)


@pytest.mark.parametrize("text", ["STOP", "stop", "  Stop!  ", "UNSUBSCRIBE", "стоп", "СТОП", "/stop"])
def test_an_opt_out_keyword_suppresses_the_username_and_the_user_id(text):
    assert optout.opt_out_keys(42, "Bob_Smith", text) == ["@bob_smith", "42"]


def test_a_sender_without_a_username_is_suppressed_by_user_id():
    assert optout.opt_out_keys(42, None, "stop") == ["42"]


@pytest.mark.parametrize(
    "text",
    [
        "ＳＴＯＰ",  # full-width, as a Japanese or Chinese keyboard writes it
        "STOP\u200b",  # a zero-width space a phone's keyboard left
        "\u2066STOP\u2069",  # bidi isolates around it
        "Stop 🙏",
        "🛑 STOP 🛑",
        "STOP\ufe0f",
        "«Стоп»",
        "stop\u00a0",
    ],
)
def test_an_opt_out_keyword_is_read_as_it_shows_whatever_invisible_marks_emoji_or_width(text):
    assert optout.opt_out_keys(42, None, text) == ["42"]


# A missed opt-out messages a person who asked not to be; a false one only drops a recipient (who
# can be asked again by staff): so any reply saying it, however worded, opts out.
@pytest.mark.parametrize(
    "text",
    [
        "please stop",
        "stop please",
        "STOP!!",
        "Stop sending me this",
        "unsubscribe me",
        "Unsubscribe me please.",
        "no more messages",
        "No more messages, thanks",
        "Stopp",  # German
        "Bitte abmelden",
        "Arrêtez svp",
        "arret",  # written without its accent
        "me desabonner",
        "Quiero darme de baja",
        "Por favor, parar",
        "Não quero mais mensagens",
        "Basta, grazie",
        "Хватит писать мне",
        "Пожалуйста, отпишите меня",
        "Не пишіть мені більше",
        "Lütfen mesaj göndermeyin",
        "abonelikten çıkmak istiyorum",
        "END",
        "Cancel",
        "Baja",
        "don't message me",
        "I told you to STOP 🛑",
    ],
)
def test_a_reply_asking_not_to_be_messaged_is_an_opt_out_however_it_is_worded(text):
    assert optout.opt_out_keys(42, "bob", text) == ["@bob", "42"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "How much is it?",
        "Thanks! 👍",
        "Where is your store?",
        "I will cancel my order",
        "the end?",
    ],
)
def test_other_replies_suppress_nothing(text):
    assert optout.opt_out_keys(42, "bob", text) == []


def test_words_that_opt_out_only_alone_do_not_inside_a_sentence():
    assert optout.opt_out_keys(42, None, "Cancel") == ["42"]
    assert optout.opt_out_keys(42, None, "Can I cancel the order?") == []


def test_the_settings_add_keywords_to_the_built_in_ones(settings):
    settings.TGC_OPT_OUT_KEYWORDS = ["basta ya", "nie pisz"]

    assert optout.opt_out_keys(42, None, "¡Basta ya!") == ["42"]
    assert optout.opt_out_keys(42, None, "Proszę, nie pisz do mnie") == ["42"]
    assert optout.opt_out_keys(42, None, "stop") == ["42"]  # no setting turns a built-in one off


@pytest.mark.django_db
def test_handle_incoming_records_suppressions_once():
    assert optout.handle_incoming(42, "Bob", "STOP") == ["@bob", "42"]
    assert optout.handle_incoming(42, "Bob", "stop") == ["@bob", "42"]

    rows = Suppression.objects.order_by("key").values_list("key", "source")
    assert list(rows) == [("42", "stop_reply"), ("@bob", "stop_reply")]


@pytest.mark.django_db
def test_handle_incoming_keeps_an_existing_manual_suppression():
    Suppression.objects.create(key="@bob", source=Suppression.Source.MANUAL)

    optout.handle_incoming(42, "bob", "STOP")

    assert Suppression.objects.get(key="@bob").source == Suppression.Source.MANUAL


# Through the fake Telegram --------------------------------------------------------------------
@pytest.fixture
def world(telegram, db):
    telegram.alice = telegram.add_account("+4915100000001")
    telegram.bob = telegram.add_user(username="Bob_Smith")
    session = TelegramSession(name="alice", status=SessionStatus.ACTIVE, backend=Backend.TELETHON)
    session.session_string = telegram.log_in(telegram.alice)
    session.save()
    telegram.session = session
    return telegram


def test_a_live_stop_reply_is_recorded(world):
    async def scenario():
        transport = world.session.transport()
        stop = asyncio.Event()
        await transport.connect()
        listening = asyncio.ensure_future(
            transport.listen_private_messages(sync_to_async(optout.handle_incoming), stop=stop)
        )
        await asyncio.sleep(0)  # let it register its handler
        await world.incoming(world.alice, world.bob, "hello")
        await world.incoming(world.alice, world.bob, "Stop")
        stop.set()
        await listening
        await transport.disconnect()

    async_to_sync(scenario)()

    assert set(Suppression.objects.values_list("key", flat=True)) == {"@bob_smith", str(world.bob.id)}


def test_a_stop_that_arrived_while_offline_is_caught_up_from_unread_dialogs(world):
    world.unread_dialog(world.alice, world.bob, "UNSUBSCRIBE")

    assert listener.listen_round("optout:test", window=0) == [world.session.pk]

    assert Suppression.objects.filter(key="@bob_smith", source="stop_reply").exists()
    world.session.refresh_from_db()
    assert world.session.lease_owner == ""  # released after the round


def test_a_session_leased_by_another_process_is_not_connected(world):
    TelegramSession.objects.filter(pk=world.session.pk).update(
        lease_owner="worker-2", lease_expires_at=timezone.now() + timedelta(minutes=1)
    )
    world.unread_dialog(world.alice, world.bob, "STOP")

    assert listener.listen_round("optout:test", window=0) == []

    assert world.clients == []
    assert not Suppression.objects.exists()


def test_sessions_of_a_running_campaign_are_left_to_the_engine(world):
    campaign = Campaign.objects.create(name="spring", status=CampaignStatus.RUNNING)
    campaign.sessions.add(world.session)

    assert listener.listen_round("optout:test", window=0) == []
    assert world.clients == []


def test_the_command_runs_one_round(world):
    world.unread_dialog(world.alice, world.bob, "stop")

    call_command("listenoptouts", "--once", "--window", "0")

    assert Suppression.objects.filter(key=str(world.bob.id)).exists()


@pytest.mark.django_db
def test_migrate_installs_the_reaper_and_optionally_the_opt_out_schedule(settings):
    from django.apps import apps
    from django_q.models import Schedule

    from campaigns.signals import install_reaper_schedule

    settings.TGC_OPTOUT_SCHEDULE = True
    install_reaper_schedule(sender=None, app_config=apps.get_app_config("campaigns"))
    campaigns_schedules = Schedule.objects.filter(
        func__startswith="campaigns."
    )  # the webhooks keep their own
    assert set(campaigns_schedules.values_list("func", flat=True)) == {
        "campaigns.tasks.reap",
        "campaigns.tasks.listen_optouts",
        "campaigns.tasks.purge_old_data",
        "campaigns.tasks.catch_up_after_send",
    }
    settings.TGC_OPTOUT_SCHEDULE = False
    install_reaper_schedule(sender=None, app_config=apps.get_app_config("campaigns"))
    assert set(campaigns_schedules.values_list("func", flat=True)) == {
        "campaigns.tasks.reap",
        "campaigns.tasks.purge_old_data",
        "campaigns.tasks.catch_up_after_send",
    }


# Personal data in logs -------------------------------------------------------------------------
def recipient_identities_in(records, identities: list[str]) -> list[str]:
    return [r.getMessage() for r in records for i in identities if i in r.getMessage()]


@pytest.mark.django_db
def test_an_opt_out_leaves_no_identity_in_logs_above_debug(caplog):
    caplog.set_level("DEBUG")

    optout.handle_incoming(4242, "Bob_Smith", "STOP")

    above_debug = [r for r in caplog.records if r.levelno > 10]
    assert not recipient_identities_in(above_debug, ["@bob_smith", "4242"])


@pytest.mark.django_db
def test_a_campaign_with_failures_and_opt_outs_leaves_no_identity_in_logs_above_debug(caplog):
    from campaigns import engine
    from tests.conftest import make_campaign, make_list, make_session

    keys = [f"@person_{i:03d}" for i in range(40)]
    people = make_list("people", [(k, {"first_name": k}) for k in keys])
    flaky = make_session(
        "flaky", simulator_config={"transient_rate": 0.2, "recipient_error_rate": 0.2, "flood_rate": 0.05}
    )
    Suppression.objects.create(key=keys[0])
    caplog.set_level("DEBUG")

    campaign = make_campaign("Logged", [people], [flaky], max_attempts=2)
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    optout.handle_incoming(777001, keys[1].lstrip("@"), "stop")

    assert campaign.results.filter(status="failed").exists(), "the run should have failed some rows"
    above_debug = [r for r in caplog.records if r.levelno > 10]
    assert not recipient_identities_in(above_debug, keys + ["777001"])
