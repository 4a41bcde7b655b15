"""sessions_app.login: phone → code → 2FA password, and bot tokens, against the fake Telegram."""

from __future__ import annotations

import pytest
from django.db import connection
from telethon import errors as tg

from sessions_app import login
from sessions_app.models import SessionKind, SessionStatus, TelegramSession
from tests.fakes import telegram_fixture  # noqa: F401  (the "telegram" fixture)

pytestmark = pytest.mark.django_db

PHONE = "+4915100000001"
CODE = "12345"  # what the fake Telegram sends


@pytest.fixture
def alice_account(telegram):
    return telegram.add_account(PHONE, username="alice_sends")


@pytest.fixture
def session(alice_account) -> TelegramSession:
    return TelegramSession.objects.create(name="alice", kind=SessionKind.USER)


def raw_row(session: TelegramSession) -> str:
    """Every column of the session's row as the database stores it, joined."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {TelegramSession._meta.db_table} WHERE id = %s", [session.pk])
        return " ".join(str(v) for v in cursor.fetchone())


def test_a_user_logs_in_with_phone_and_code(telegram, alice_account, session):
    login.send_code(session, PHONE)
    session.refresh_from_db()
    assert session.status == SessionStatus.AWAITING_CODE

    assert login.sign_in(session, CODE) == SessionStatus.ACTIVE

    session.refresh_from_db()
    assert session.status == SessionStatus.ACTIVE
    assert (session.me_id, session.me_username) == (alice_account.user.id, "alice_sends")
    assert session.login_phone_code_hash == ""
    assert telegram.authorized  # the saved auth key is logged in


def test_the_code_is_checked_on_the_auth_key_that_asked_for_it(telegram, session):
    login.send_code(session, PHONE)
    saved_after_code = TelegramSession.objects.get(pk=session.pk).session_string

    login.sign_in(TelegramSession.objects.get(pk=session.pk), CODE)

    # The fake refuses a code on any other key, so success proves the key was saved between steps.
    assert TelegramSession.objects.get(pk=session.pk).session_string == saved_after_code


def test_an_account_with_two_step_verification_asks_for_the_password(telegram, session):
    telegram.accounts[next(iter(telegram.accounts))].password = "correct horse"
    login.send_code(session, PHONE)

    assert login.sign_in(session, CODE) == SessionStatus.AWAITING_PASSWORD
    session.refresh_from_db()
    assert session.status == SessionStatus.AWAITING_PASSWORD

    assert login.sign_in_password(session, "correct horse") == SessionStatus.ACTIVE
    session.refresh_from_db()
    assert session.status == SessionStatus.ACTIVE


def test_a_wrong_password_says_so_and_keeps_waiting_for_it(telegram, session):
    telegram.accounts[next(iter(telegram.accounts))].password = "correct horse"
    login.send_code(session, PHONE)
    login.sign_in(session, CODE)

    with pytest.raises(login.WrongPassword, match="password is wrong"):
        login.sign_in_password(session, "battery staple")

    session.refresh_from_db()
    assert session.status == SessionStatus.AWAITING_PASSWORD


def test_a_wrong_code_says_so_and_keeps_waiting_for_the_code(session):
    login.send_code(session, PHONE)

    with pytest.raises(login.WrongCode, match="code is wrong"):
        login.sign_in(session, "99999")

    session.refresh_from_db()
    assert session.status == SessionStatus.AWAITING_CODE
    assert login.sign_in(session, CODE) == SessionStatus.ACTIVE


def test_an_expired_code_asks_for_a_new_one(telegram, session):
    login.send_code(session, PHONE)
    telegram.expired_codes.add(session.login_phone_code_hash)

    with pytest.raises(login.CodeExpired, match="Request a new code"):
        login.sign_in(session, CODE)

    session.refresh_from_db()
    assert session.status == SessionStatus.NEW


def test_a_banned_number_is_refused_with_a_clear_message(telegram, session):
    telegram.fail(tg.PhoneNumberBannedError(request=None), on="send_code_request")

    with pytest.raises(login.PhoneRejected, match="banned"):
        login.send_code(session, PHONE)

    session.refresh_from_db()
    assert session.status == SessionStatus.NEW


def test_an_invalid_number_is_refused_with_a_clear_message(telegram, session):
    telegram.fail(tg.PhoneNumberInvalidError(request=None), on="send_code_request")

    with pytest.raises(login.PhoneRejected, match="invalid"):
        login.send_code(session, "+1 555")


def test_a_number_without_an_account_is_refused(session):
    with pytest.raises(login.PhoneRejected, match="No Telegram account"):
        login.send_code(session, "+4915199999999")


def test_a_flood_wait_during_login_says_how_long_to_wait(telegram, session):
    telegram.fail(tg.FloodWaitError(request=None, capture=300), on="send_code_request")

    with pytest.raises(login.LoginError, match="wait 300 s"):
        login.send_code(session, PHONE)


def test_a_code_without_a_requested_code_is_the_wrong_step(session):
    with pytest.raises(login.WrongStep):
        login.sign_in(session, CODE)


def test_a_bot_logs_in_with_its_token(telegram):
    bot_account = telegram.add_bot("123456:ABC-DEF", username="shop_bot")
    bot = TelegramSession.objects.create(name="bot", kind=SessionKind.BOT)

    assert login.sign_in_bot(bot, "123456:ABC-DEF") == SessionStatus.ACTIVE

    bot.refresh_from_db()
    assert (bot.me_id, bot.me_username, bot.bot_token) == (bot_account.user.id, "shop_bot", "123456:ABC-DEF")
    assert bot.session_string


def test_a_wrong_bot_token_is_refused(telegram):
    telegram.add_bot("123456:ABC-DEF")
    bot = TelegramSession.objects.create(name="bot", kind=SessionKind.BOT)

    with pytest.raises(login.BotTokenRejected, match="invalid"):
        login.sign_in_bot(bot, "123456:WRONG")

    bot.refresh_from_db()
    assert bot.status == SessionStatus.NEW and not bot.bot_token_encrypted


def test_secrets_are_stored_encrypted_and_never_in_plain(telegram):
    telegram.add_bot("123456:ABC-DEF")
    bot = TelegramSession.objects.create(name="bot", kind=SessionKind.BOT)
    login.sign_in_bot(bot, "123456:ABC-DEF")
    bot.refresh_from_db()

    row = raw_row(bot)

    assert bot.session_string and bot.session_string not in row
    assert "123456:ABC-DEF" not in row
    assert bot.session_string_encrypted in row and bot.bot_token_encrypted in row


def test_a_connection_closed_by_the_network_says_telegram_cannot_be_reached(telegram, session):
    import asyncio

    telegram.fail(asyncio.IncompleteReadError(b"", 8), on="send_code_request")

    with pytest.raises(login.LoginError, match="cannot be reached"):
        login.send_code(session, PHONE)
