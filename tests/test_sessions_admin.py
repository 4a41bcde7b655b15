"""The sessions admin: list columns, the login wizard, health check, lease and status actions;
and the session management commands (loginsession, checksessions, rotatesecrets)."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from sessions_app.models import PACE_DEFAULTS, SessionKind, SessionStatus, TelegramSession
from tests.fakes import telegram_fixture  # noqa: F401  (the "telegram" fixture)
from tgcampaigns import crypto

pytestmark = pytest.mark.django_db

PHONE = "+4915100000001"
CHANGELIST = "admin:sessions_app_telegramsession_changelist"


@pytest.fixture
def client(client, olga):
    client.force_login(olga)
    return client


def login_url(session) -> str:
    return reverse("admin:sessions_app_telegramsession_login", args=[session.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def act(client, action: str, *sessions):
    data = {"action": action, "_selected_action": [s.pk for s in sessions]}
    return client.post(reverse(CHANGELIST), data, follow=True)


def test_the_changelist_labels_simulated_sessions_and_shows_todays_request_count(client, alpha):
    now = timezone.now()
    TelegramSession.objects.filter(pk=alpha.pk).count_requests(5, now=now - timedelta(days=1))
    TelegramSession.objects.filter(pk=alpha.pk).count_requests(1, now=now)  # a new UTC day: from 0
    TelegramSession.objects.filter(pk=alpha.pk).count_requests(1, now=now)

    response = client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    row = response.context["cl"].result_list.get(pk=alpha.pk)
    assert row.requests_today_count == 2
    assert b"SIMULATOR" in response.content


def test_yesterdays_requests_are_not_counted_today(alpha):
    now = timezone.now()
    TelegramSession.objects.filter(pk=alpha.pk).count_requests(3, now=now - timedelta(days=1))
    alpha.refresh_from_db()

    assert alpha.requests_today(now) == 0
    assert alpha.requests_today(now - timedelta(days=1)) == 3
    assert TelegramSession.objects.with_requests_today(now).get(pk=alpha.pk).requests_today_count == 0


def test_a_new_session_gets_the_pace_defaults_of_its_kind(client):
    client.post(
        reverse("admin:sessions_app_telegramsession_add"),
        {"name": "shop-bot", "kind": "bot", "backend": "telethon", "phone": "", "weight": 1},
    )

    bot = TelegramSession.objects.get(name="shop-bot")
    assert bot.max_per_minute == PACE_DEFAULTS[SessionKind.BOT]["max_per_minute"]
    assert bot.daily_cap == PACE_DEFAULTS[SessionKind.BOT]["daily_cap"]


def test_the_change_page_never_shows_secrets(client, telegram):
    session = TelegramSession(name="alice", status=SessionStatus.ACTIVE)
    session.session_string = telegram.log_in(telegram.add_account(PHONE))
    session.bot_token = "123:SECRET-TOKEN"
    session.save()

    html = client.get(
        reverse("admin:sessions_app_telegramsession_change", args=[session.pk])
    ).content.decode()

    assert session.session_string not in html
    assert session.session_string_encrypted not in html
    assert "SECRET-TOKEN" not in html and session.bot_token_encrypted not in html


def test_the_login_wizard_goes_phone_code_password(client, telegram):
    telegram.add_account(PHONE, password="correct horse", username="alice_sends")
    session = TelegramSession.objects.create(name="alice")

    assert client.get(login_url(session)).context["step"] == "phone"
    client.post(login_url(session), {"phone": PHONE})
    assert client.get(login_url(session)).context["step"] == "code"

    wrong = client.post(login_url(session), {"code": "00000"})
    assert "code is wrong" in wrong.content.decode()

    client.post(login_url(session), {"code": "12345"})
    assert client.get(login_url(session)).context["step"] == "password"

    done = client.post(login_url(session), {"password": "correct horse"}, follow=True)

    assert any("logged in as @alice_sends" in m for m in messages_of(done))
    session.refresh_from_db()
    assert session.status == SessionStatus.ACTIVE


def test_a_bot_logs_in_with_its_token_in_the_wizard(client, telegram):
    telegram.add_bot("123456:ABC-DEF", username="shop_bot")
    bot = TelegramSession.objects.create(name="bot", kind=SessionKind.BOT)

    assert client.get(login_url(bot)).context["step"] == "token"
    client.post(login_url(bot), {"token": "123456:ABC-DEF"})

    bot.refresh_from_db()
    assert (bot.status, bot.me_username) == (SessionStatus.ACTIVE, "shop_bot")


def test_the_health_check_reports_who_the_session_is(client, telegram):
    account = telegram.add_account(PHONE, username="alice_sends")
    session = TelegramSession(name="alice", status=SessionStatus.ACTIVE)
    session.session_string = telegram.log_in(account)
    session.save()

    response = act(client, "check_health_action", session)

    assert any("authorised as @alice_sends" in m for m in messages_of(response))
    session.refresh_from_db()
    assert session.me_id == account.user.id and session.last_checked_at is not None
    assert session.lease_owner == ""  # the check's own lease is released


def test_the_health_check_does_not_touch_a_session_in_use(client, telegram):
    session = TelegramSession(name="alice", status=SessionStatus.ACTIVE)
    session.session_string = telegram.log_in(telegram.add_account(PHONE))
    session.lease_owner, session.lease_expires_at = "worker-1", timezone.now() + timedelta(minutes=1)
    session.save()

    response = act(client, "check_health_action", session)

    assert any("in use by worker-1" in m for m in messages_of(response))
    assert telegram.clients == []


def test_the_health_check_disables_a_revoked_session(client, telegram):
    from telethon import errors as tg

    session = TelegramSession(name="alice", status=SessionStatus.ACTIVE)
    session.session_string = telegram.log_in(telegram.add_account(PHONE))
    session.save()
    telegram.fail(tg.SessionRevokedError(request=None), on="get_me")

    act(client, "check_health_action", session)

    session.refresh_from_db()
    assert (session.status, session.last_error_code) == (SessionStatus.DISABLED, "SESSION_REVOKED")


def test_disable_reactivate_and_release_lease(client, alpha):
    act(client, "disable_action", alpha)
    alpha.refresh_from_db()
    assert alpha.status == SessionStatus.PAUSED

    act(client, "reactivate_action", alpha)
    alpha.refresh_from_db()
    assert alpha.status == SessionStatus.ACTIVE

    TelegramSession.objects.filter(pk=alpha.pk).update(
        lease_owner="dead-worker", lease_expires_at=timezone.now()
    )
    act(client, "release_lease_action", alpha)
    alpha.refresh_from_db()
    assert alpha.lease_owner == ""


def test_a_session_that_never_logged_in_is_not_reactivated(client):
    session = TelegramSession.objects.create(name="fresh", status=SessionStatus.PAUSED)

    response = act(client, "reactivate_action", session)

    session.refresh_from_db()
    assert session.status == SessionStatus.PAUSED
    assert any("must log in first" in m for m in messages_of(response))


# Commands --------------------------------------------------------------------------------------
def test_loginsession_logs_a_user_in_with_code_and_password(telegram):
    telegram.add_account(PHONE, password="pw")
    answers = iter(["12345", "pw"])

    with mock.patch(
        "sessions_app.management.commands.loginsession.getpass", side_effect=lambda prompt: next(answers)
    ):
        call_command("loginsession", "alice", "--phone", PHONE)

    assert TelegramSession.objects.get(name="alice").status == SessionStatus.ACTIVE


def ended_input(prompt=""):
    raise EOFError


@pytest.mark.parametrize(
    ("arguments", "ends_at"),
    [
        pytest.param(("alice",), "input", id="at-the-phone"),
        pytest.param(("alice", "--phone", PHONE), "getpass", id="at-the-code"),
        pytest.param(("shop-bot", "--bot-token"), "getpass", id="at-the-bot-token"),
    ],
)
def test_loginsession_ends_with_one_line_when_its_input_ends_at_a_prompt(telegram, arguments, ends_at):
    telegram.add_account(PHONE)
    command = "sessions_app.management.commands.loginsession"

    with (
        mock.patch(f"{command}.input", ended_input, create=True),
        mock.patch(f"{command}.getpass", ended_input),
        pytest.raises(CommandError) as raised,
    ):
        call_command("loginsession", *arguments)

    assert (
        str(raised.value) == "Input ended before the login was complete; nothing more was sent to Telegram."
    )
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_loginsession_logs_a_bot_in_with_its_token(telegram):
    telegram.add_bot("123456:ABC-DEF")

    call_command("loginsession", "shop-bot", "--bot-token", "123456:ABC-DEF")

    bot = TelegramSession.objects.get(name="shop-bot")
    assert (bot.kind, bot.status) == (SessionKind.BOT, SessionStatus.ACTIVE)


def test_checksessions_prints_one_line_per_session(alpha, capsys):
    call_command("checksessions")

    assert "alpha: authorised as @sim_" in capsys.readouterr().out


def test_rotatesecrets_re_encrypts_under_the_newest_key(settings):
    old = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = old
    session = TelegramSession(name="alice")
    session.session_string = "a-session-string"
    session.save()
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = f"{new},{old}"

    call_command("rotatesecrets")

    settings.FIELD_ENCRYPTION_KEY = new  # the old key is dropped
    assert (
        crypto.decrypt(TelegramSession.objects.get(pk=session.pk).session_string_encrypted)
        == "a-session-string"
    )


def test_every_encrypted_column_is_rotated_by_rotatesecrets():
    """A column holding a Fernet token (named ``…_encrypted``) is named in its model's
    ``ENCRYPTED_FIELDS``, so ``rotatesecrets`` re-encrypts it: a secret added later cannot be
    forgotten by the rotation (and left readable only under a key about to be dropped)."""
    from django.apps import apps

    declared = {(model, field) for model, fields in crypto.encrypted_models() for field in fields}
    stored = {
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if field.name.endswith("_encrypted")
    }

    assert stored == declared
    assert len(declared) >= 4  # sessions' three secrets and the webhooks' signing secret
