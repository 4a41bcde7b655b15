"""A login whose answer cannot be read (issue 18, item 2): the operator is told plainly, the
session's state follows what the server did, and no byte of the answer — here a phone number and a
name — reaches the form, ``last_error_text``, the audit trail, the command's output or the logs."""

from __future__ import annotations

import logging
import sys
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from telethon import errors as tg

from sessions_app import login
from sessions_app.health import check_health
from sessions_app.models import SessionKind, SessionStatus, TelegramSession
from tests.fakes import telegram_fixture  # noqa: F401  (the "telegram" fixture)
from tgcampaigns.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

PHONE = "+4915100000001"
CODE = "12345"
# The answer of a server on another layer: auth.authorization with a phone and a name (not the
# session's own phone, which its page shows anyway).
PAYLOAD = b"\x0f\x16\x2e\x2e\x00\x00\x00\x0c4917699999999\x00\x10Bettina Beispiel\x00\x00"
LEAKS = ("4917699999999", "Bettina Beispiel", "\\x0f", "x0f\\x16")


def unreadable() -> tg.TypeNotFoundError:
    return tg.TypeNotFoundError(0x2E2E160F, PAYLOAD)


def assert_clean(*texts: str) -> None:
    for text in texts:
        for leak in LEAKS:
            assert leak not in text, (leak, text)


@pytest.fixture
def alice(telegram):
    return telegram.add_account(PHONE, username="alice_sends")


@pytest.fixture
def awaiting_code(telegram, alice) -> TelegramSession:
    session = TelegramSession.objects.create(name="alice", kind=SessionKind.USER)
    login.send_code(session, PHONE)
    session.refresh_from_db()
    assert session.status == SessionStatus.AWAITING_CODE
    return session


@pytest.fixture
def server_logs_in_then_answers_unreadably(telegram):
    """The server accepts the code and logs the key in; its answer cannot be parsed."""
    real_sign_in = telegram.client_class.sign_in

    async def sign_in(client, *args, **kwargs):
        await real_sign_in(client, *args, **kwargs)
        raise unreadable()

    with mock.patch.object(telegram.client_class, "sign_in", sign_in):
        yield


def all_logs(caplog) -> str:
    return "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)


def test_a_login_whose_answer_cannot_be_read_is_authorised_when_the_server_logged_it_in(
    telegram, awaiting_code, server_logs_in_then_answers_unreadably, caplog
):
    caplog.set_level(logging.DEBUG)

    status = login.sign_in(awaiting_code, CODE)

    awaiting_code.refresh_from_db()
    assert status == awaiting_code.status == SessionStatus.ACTIVE  # not awaiting_code
    assert awaiting_code.login_phone_code_hash == ""
    assert_clean(awaiting_code.last_error_text, all_logs(caplog))


def test_a_login_whose_answer_cannot_be_read_says_so_and_stays_where_the_server_left_it(
    telegram, awaiting_code, caplog
):
    caplog.set_level(logging.DEBUG)
    telegram.fail(unreadable(), on="sign_in")  # the server did not log the key in

    with pytest.raises(login.LoginError) as raised:
        login.sign_in(awaiting_code, CODE)

    awaiting_code.refresh_from_db()
    assert str(raised.value) == login.UNREADABLE_ANSWER
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert awaiting_code.status == SessionStatus.AWAITING_CODE
    assert_clean(str(raised.value), awaiting_code.last_error_text, all_logs(caplog))


def test_the_login_page_and_the_audit_trail_show_no_byte_of_an_unreadable_answer(
    client, olga, telegram, awaiting_code, caplog
):
    caplog.set_level(logging.DEBUG)
    client.force_login(olga)
    telegram.fail(unreadable(), on="sign_in")

    url = reverse("admin:sessions_app_telegramsession_login", args=[awaiting_code.pk])
    response = client.post(url, {"code": CODE})

    page = response.content.decode()
    assert "Telegram&#x27;s answer could not be read" in page or "Telegram's answer could not be read" in page
    awaiting_code.refresh_from_db()
    events = " ".join(e.message + e.object_repr for e in AuditEvent.objects.all())
    assert "answer could not be read" in events
    assert_clean(page, events, awaiting_code.last_error_text, all_logs(caplog))


def test_loginsession_prints_one_clean_line_for_an_unreadable_answer(telegram, alice, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    telegram.fail(unreadable(), on="send_code_request")

    with pytest.raises(CommandError) as raised:
        call_command("loginsession", "alice", "--phone", PHONE)

    captured = capsys.readouterr()
    assert str(raised.value) == login.UNREADABLE_ANSWER
    assert_clean(str(raised.value), captured.out, captured.err, all_logs(caplog))
    assert TelegramSession.objects.get(name="alice").status == SessionStatus.NEW


def test_a_health_check_that_cannot_read_the_answer_stores_no_byte_of_it(telegram, alice, caplog):
    caplog.set_level(logging.DEBUG)
    session = TelegramSession(name="alice", kind=SessionKind.USER, status=SessionStatus.ACTIVE)
    session.session_string = telegram.log_in(alice)
    session.save()
    telegram.fail(unreadable(), on="get_me")

    health = check_health(session)

    session.refresh_from_db()
    assert session.last_error_code == "UNREADABLE_ANSWER"
    assert session.status == SessionStatus.ACTIVE  # not Telegram refusing the account
    assert_clean(health.summary(), session.last_error_text, all_logs(caplog))


def test_telethons_own_log_lines_about_an_unreadable_answer_show_no_byte_of_it():
    """Telethon logs what it could not parse (at WARNING, with the bytes): the console handler's
    filter withholds them."""
    (console,) = [h for h in logging.getLogger().handlers if getattr(h, "name", "") == "console"]
    sender = logging.getLogger("telethon.network.mtprotosender")
    records = []
    try:
        raise unreadable()
    except tg.TypeNotFoundError:
        records.append(
            sender.makeRecord(sender.name, logging.ERROR, __file__, 1, "Unhandled error", (), sys.exc_info())
        )
    records.append(
        sender.makeRecord(
            sender.name,
            logging.WARNING,
            __file__,
            1,
            "Invalid buffer %s",
            (tg.InvalidBufferError(PAYLOAD),),
            None,
        )
    )
    records.append(
        sender.makeRecord(sender.name, logging.INFO, __file__, 1, "remaining data %r", (PAYLOAD,), None)
    )

    lines = [console.format(r) for r in records if console.filter(r)]

    assert len(lines) == 3
    assert_clean(*lines)
    assert "traceback withheld" in lines[0] and f"<{len(PAYLOAD)} bytes withheld>" in lines[2]
