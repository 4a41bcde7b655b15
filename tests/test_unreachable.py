"""A failure that is not Telegram answering (issue 18, item 1, the transport's side): a connect,
auth-key or transport failure, or an answer that cannot be parsed, at connect, at login and
mid-send, leaves as ``TransportError(ErrorKind.UNREACHABLE, code, short text)`` — never with the
answer's bytes — and a send whose connection dropped after its request was written says so
(``request_written``), so the engine keeps the row in doubt and retries it with the same random_id."""

from __future__ import annotations

import asyncio
import struct

import pytest
from asgiref.sync import async_to_sync
from telethon import errors as tg

from sessions_app import login
from sessions_app.models import SessionKind, SessionStatus, TelegramSession
from sessions_app.transport.base import ErrorKind, OutgoingMessage, TransportError
from sessions_app.transport.errors import classify
from sessions_app.transport.telethon_client import CONNECT_TIMEOUT, CONNECTION_RETRIES, RETRY_DELAY
from tests.fakes import SendMessageRequest, telegram_fixture  # noqa: F401  (the "telegram" fixture)

pytestmark = pytest.mark.django_db

PHONE = "+4915100000001"
# An answer's bytes as a server on another layer might send them: a phone number and a name.
PAYLOAD = b"\x15\xc4\xb5\x1c\x0b+4915100000001\x0dAlice Example\x00\x00"
SECRETS_OF_THE_PAYLOAD = ("4915100000001", "Alice Example", "Alice")


def no_answer_errors():
    """One of each kind of failure that is not an RPC answer, with the code it must get."""
    return [
        pytest.param(ConnectionRefusedError(111, "Connect call failed"), "CONNECTION_FAILED", id="refused"),
        pytest.param(
            ConnectionError("Connection to Telegram failed 1 time(s)"), "CONNECTION_FAILED", id="conn"
        ),
        pytest.param(OSError(101, "Network is unreachable"), "CONNECTION_FAILED", id="oserror"),
        pytest.param(asyncio.IncompleteReadError(PAYLOAD, 64), "CONNECTION_FAILED", id="incomplete"),
        pytest.param(asyncio.TimeoutError(), "TIMEOUT", id="timeout"),  # noqa: UP041
        pytest.param(tg.TypeNotFoundError(0x1CB5C415, PAYLOAD), "UNREADABLE_ANSWER", id="type-not-found"),
        pytest.param(tg.InvalidBufferError(PAYLOAD), "UNREADABLE_ANSWER", id="invalid-buffer"),
        pytest.param(struct.error("unpack requires a buffer of 4 bytes"), "UNREADABLE_ANSWER", id="struct"),
        pytest.param(UnicodeDecodeError("utf-8", PAYLOAD, 0, 1, "bad"), "UNREADABLE_ANSWER", id="unicode"),
    ]


def assert_no_payload(text: str) -> None:
    for secret in SECRETS_OF_THE_PAYLOAD:
        assert secret not in text
    assert "\\x" not in text and "b'" not in text


@pytest.mark.parametrize(("exc", "code"), no_answer_errors())
def test_a_failure_with_no_answer_is_unreachable_with_a_short_text_and_no_payload(exc, code):
    error = classify(exc)

    assert (error.kind, error.code) == (ErrorKind.UNREACHABLE, code)
    assert error.text and len(error.text) <= 200
    assert_no_payload(f"{error.text} {error}")
    assert error.request_written is False


def test_an_invalid_buffer_with_http_404_is_still_an_unknown_auth_key():
    error = classify(tg.InvalidBufferError(struct.pack("<i", -404)))

    assert (error.kind, error.code) == (ErrorKind.SESSION, "AUTH_KEY_UNREGISTERED")


# Through the transport, against the fake Telegram ------------------------------------------------
@pytest.fixture
def world(telegram):
    telegram.alice = telegram.add_account(PHONE, username="alice_sends")
    telegram.bob = telegram.add_user(username="bob_smith")
    return telegram


@pytest.fixture
def alice(world) -> TelegramSession:
    session = TelegramSession(name="alice", kind=SessionKind.USER, status=SessionStatus.ACTIVE)
    session.session_string = world.log_in(world.alice)
    session.save()
    return session


def send(session: TelegramSession, random_id: int = 4242):
    async def go():
        transport = session.transport()
        try:
            return await transport.send("@bob_smith", OutgoingMessage("hi"), random_id)
        finally:
            await transport.disconnect()

    return async_to_sync(go)()


@pytest.mark.parametrize(("exc", "code"), no_answer_errors())
def test_a_connect_that_fails_without_an_answer_is_unreachable_and_wrote_no_request(world, alice, exc, code):
    world.fail(exc, on="connect")

    with pytest.raises(TransportError) as raised:
        send(alice)

    assert (raised.value.kind, raised.value.code, raised.value.request_written) == (
        ErrorKind.UNREACHABLE,
        code,
        False,
    )
    assert not world.of_type(SendMessageRequest)
    assert_no_payload(str(raised.value))


@pytest.mark.parametrize(("exc", "code"), no_answer_errors())
def test_a_send_whose_connection_drops_after_the_request_was_written_says_so(world, alice, exc, code):
    world.fail(exc, on=SendMessageRequest)

    with pytest.raises(TransportError) as raised:
        send(alice, random_id=4242)

    assert (raised.value.kind, raised.value.code) == (ErrorKind.UNREACHABLE, code)
    assert raised.value.request_written is True  # the engine keeps the row in doubt, same random_id
    assert [r.random_id for r in world.of_type(SendMessageRequest)] == [4242]
    assert_no_payload(str(raised.value))


def test_a_failure_while_resolving_the_peer_wrote_no_message_request(world, alice):
    world.fail(ConnectionResetError(104, "Connection reset by peer"), on="ResolveUsernameRequest")

    with pytest.raises(TransportError) as raised:
        send(alice)

    assert (raised.value.kind, raised.value.request_written) == (ErrorKind.UNREACHABLE, False)


@pytest.mark.parametrize("on", ["connect", "send_code_request"])
@pytest.mark.parametrize(("exc", "code"), no_answer_errors())
def test_a_login_that_cannot_reach_telegram_says_so_plainly(world, exc, code, on):
    session = TelegramSession.objects.create(name="alice", kind=SessionKind.USER)
    world.fail(exc, on=on)

    with pytest.raises(login.LoginError) as raised:
        login.send_code(session, PHONE)

    session.refresh_from_db()
    assert session.status == SessionStatus.NEW
    assert_no_payload(str(raised.value))
    if code == "UNREADABLE_ANSWER":
        assert str(raised.value) == login.UNREADABLE_ANSWER
    else:
        assert "cannot be reached" in str(raised.value)


def test_one_connect_does_not_spend_telethons_six_attempts(world, alice):
    send(alice)

    (client,) = world.clients
    assert client.kwargs["connection_retries"] == CONNECTION_RETRIES <= 1
    assert client.kwargs["retry_delay"] == RETRY_DELAY <= 1
    assert client.kwargs["timeout"] == CONNECT_TIMEOUT <= 10
