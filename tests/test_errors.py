"""sessions_app.transport.errors.classify: every row of docs/design.md "Error kinds", with Telethon's real classes."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from telethon import errors as tg
from telethon import functions

from sessions_app.transport.base import ErrorKind, TransportError
from sessions_app.transport.errors import classify

REQUEST = functions.messages.SendMessageRequest(peer=None, message="hi", random_id=1)


def rpc(message: str, code: int) -> tg.RPCError:
    """The exception Telethon raises for Telegram's RpcError(code, message)."""
    return tg.rpc_message_to_error(SimpleNamespace(error_message=message, error_code=code), REQUEST)


TABLE = [
    # (Telethon class, kind, stored code)
    (tg.RandomIdDuplicateError, ErrorKind.DUPLICATE, "RANDOM_ID_DUPLICATE"),
    (tg.ServerError, ErrorKind.TRANSIENT, "INTERNAL"),
    (tg.RpcCallFailError, ErrorKind.TRANSIENT, "RPC_CALL_FAIL"),
    (tg.RpcMcgetFailError, ErrorKind.TRANSIENT, "RPC_MCGET_FAIL"),
    (tg.WorkerBusyTooLongRetryError, ErrorKind.TRANSIENT, "WORKER_BUSY_TOO_LONG_RETRY"),
    (tg.TimedOutError, ErrorKind.TRANSIENT, "Timeout"),  # raw text: a base class, no RPC name
    (tg.FileReferenceExpiredError, ErrorKind.TRANSIENT, "FILE_REFERENCE_EXPIRED"),
    (tg.UserPrivacyRestrictedError, ErrorKind.RECIPIENT, "USER_PRIVACY_RESTRICTED"),
    (tg.UserIsBlockedError, ErrorKind.RECIPIENT, "USER_IS_BLOCKED"),
    (tg.YouBlockedUserError, ErrorKind.RECIPIENT, "YOU_BLOCKED_USER"),
    (tg.InputUserDeactivatedError, ErrorKind.RECIPIENT, "INPUT_USER_DEACTIVATED"),
    (tg.UsernameNotOccupiedError, ErrorKind.RECIPIENT, "USERNAME_NOT_OCCUPIED"),
    (tg.UsernameInvalidError, ErrorKind.RECIPIENT, "USERNAME_INVALID"),
    (tg.PhoneNotOccupiedError, ErrorKind.RECIPIENT, "PHONE_NOT_OCCUPIED"),
    (tg.PeerIdInvalidError, ErrorKind.RECIPIENT, "PEER_ID_INVALID"),
    (tg.UserIdInvalidError, ErrorKind.RECIPIENT, "USER_ID_INVALID"),
    (tg.PhoneNumberInvalidError, ErrorKind.RECIPIENT, "PHONE_NUMBER_INVALID"),
    (tg.ChatWriteForbiddenError, ErrorKind.RECIPIENT, "CHAT_WRITE_FORBIDDEN"),
    (tg.VoiceMessagesForbiddenError, ErrorKind.RECIPIENT, "VOICE_MESSAGES_FORBIDDEN"),
    (tg.UserIsBotError, ErrorKind.RECIPIENT, "USER_IS_BOT"),
    (tg.MessageTooLongError, ErrorKind.CONTENT, "MESSAGE_TOO_LONG"),
    (tg.MessageEmptyError, ErrorKind.CONTENT, "MESSAGE_EMPTY"),
    (tg.MediaCaptionTooLongError, ErrorKind.CONTENT, "MEDIA_CAPTION_TOO_LONG"),
    (tg.EntitiesTooLongError, ErrorKind.CONTENT, "ENTITIES_TOO_LONG"),
    (tg.EntityBoundsInvalidError, ErrorKind.CONTENT, "ENTITY_BOUNDS_INVALID"),
    (tg.PhotoInvalidDimensionsError, ErrorKind.CONTENT, "PHOTO_INVALID_DIMENSIONS"),
    (tg.PhotoSaveFileInvalidError, ErrorKind.CONTENT, "PHOTO_SAVE_FILE_INVALID"),
    (tg.FilePartsInvalidError, ErrorKind.CONTENT, "FILE_PARTS_INVALID"),
    (tg.MediaEmptyError, ErrorKind.CONTENT, "MEDIA_EMPTY"),
    (tg.MediaInvalidError, ErrorKind.CONTENT, "MEDIA_INVALID"),
    (tg.AuthKeyUnregisteredError, ErrorKind.SESSION, "AUTH_KEY_UNREGISTERED"),
    (tg.AuthKeyInvalidError, ErrorKind.SESSION, "AUTH_KEY_INVALID"),
    (tg.AuthKeyDuplicatedError, ErrorKind.SESSION, "AUTH_KEY_DUPLICATED"),
    (tg.SessionRevokedError, ErrorKind.SESSION, "SESSION_REVOKED"),
    (tg.SessionExpiredError, ErrorKind.SESSION, "SESSION_EXPIRED"),
    (tg.UserDeactivatedError, ErrorKind.SESSION, "USER_DEACTIVATED"),
    (tg.UserDeactivatedBanError, ErrorKind.SESSION, "USER_DEACTIVATED_BAN"),
    (tg.PhoneNumberBannedError, ErrorKind.SESSION, "PHONE_NUMBER_BANNED"),
    (tg.UserRestrictedError, ErrorKind.SESSION, "USER_RESTRICTED"),
    (tg.PeerFloodError, ErrorKind.SPAM_LIMITED, "PEER_FLOOD"),
    (tg.FrozenMethodInvalidError, ErrorKind.SPAM_LIMITED, "FROZEN_METHOD_INVALID"),
]


def make(cls: type[tg.RPCError]) -> tg.RPCError:
    if cls is tg.ServerError:  # a bare base class carries Telegram's text and code
        return cls(request=REQUEST, message="INTERNAL", code=500)
    if cls is tg.TimedOutError:
        return cls(request=REQUEST, message="Timeout", code=-503)
    return cls(request=REQUEST)


@pytest.mark.parametrize(("cls", "kind", "code"), TABLE, ids=[row[0].__name__ for row in TABLE])
def test_each_listed_class_maps_to_its_kind_and_rpc_name(cls, kind, code):
    error = classify(make(cls))

    assert isinstance(error, TransportError)
    assert error.kind is kind
    assert error.code == code
    assert error.seconds is None


def test_random_id_duplicate_is_matched_before_its_base_class_server_error():
    assert issubclass(tg.RandomIdDuplicateError, tg.ServerError)
    assert classify(tg.RandomIdDuplicateError(request=REQUEST)).kind is ErrorKind.DUPLICATE


def test_peer_flood_is_spam_limited_although_it_is_a_400():
    assert issubclass(tg.PeerFloodError, tg.BadRequestError)
    assert classify(tg.PeerFloodError(request=REQUEST)).kind is ErrorKind.SPAM_LIMITED


def test_frozen_method_is_spam_limited_although_it_is_a_420():
    assert issubclass(tg.FrozenMethodInvalidError, tg.FloodError)
    assert classify(tg.FrozenMethodInvalidError(request=REQUEST)).kind is ErrorKind.SPAM_LIMITED


@pytest.mark.parametrize(
    ("telegram_text", "cls", "code"),
    [
        ("FLOOD_WAIT_42", tg.FloodWaitError, "FLOOD_WAIT"),
        ("FLOOD_PREMIUM_WAIT_42", tg.FloodPremiumWaitError, "FLOOD_PREMIUM_WAIT"),
        ("SLOWMODE_WAIT_42", tg.SlowModeWaitError, "SLOWMODE_WAIT"),
    ],
)
def test_flood_waits_carry_their_seconds(telegram_text, cls, code):
    exc = rpc(telegram_text, 420)
    assert type(exc) is cls

    error = classify(exc)

    assert error.kind is ErrorKind.FLOOD
    assert error.code == code
    assert error.seconds == 42.0


@pytest.mark.parametrize(
    ("telegram_text", "code", "kind"),
    [
        ("SOMETHING_NEW_WAIT_17", 420, ErrorKind.FLOOD),
        ("SOMETHING_NEW_LIMITED", 420, ErrorKind.SPAM_LIMITED),
        ("SOMETHING_NEW_INTERNAL", 500, ErrorKind.TRANSIENT),
        ("SOMETHING_NEW_INTERNAL", -500, ErrorKind.TRANSIENT),
        ("SOMETHING_NEW_UNAUTHORIZED", 401, ErrorKind.SESSION),
        ("SOMETHING_NEW_BAD", 400, ErrorKind.RECIPIENT),
        ("SOMETHING_NEW_FORBIDDEN", 403, ErrorKind.RECIPIENT),
        ("ALLOW_PAYMENT_REQUIRED_100", 406, ErrorKind.RECIPIENT),
        ("PRIVACY_PREMIUM_REQUIRED", 406, ErrorKind.RECIPIENT),
    ],
)
def test_unlisted_rpc_errors_are_classified_by_code_keeping_telegrams_text(telegram_text, code, kind):
    error = classify(rpc(telegram_text, code))

    assert error.kind is kind
    assert error.code == telegram_text
    assert telegram_text in error.text


def test_an_unlisted_420_with_a_number_waits_that_many_seconds():
    assert classify(rpc("SOMETHING_NEW_WAIT_17", 420)).seconds == 17.0


def test_a_420_without_seconds_is_never_retried():
    error = classify(rpc("SOMETHING_NEW_LIMITED", 420))

    assert error.kind is ErrorKind.SPAM_LIMITED
    assert error.seconds is None


def test_a_known_class_outside_the_table_is_classified_by_its_code_with_its_rpc_name():
    error = classify(tg.FolderIdEmptyError(request=REQUEST))  # a 400 the table does not list

    assert error.kind is ErrorKind.RECIPIENT
    assert error.code == "FOLDER_ID_EMPTY"


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ConnectionError("reset"), "CONNECTION_FAILED"),
        (ConnectionResetError("reset by peer"), "CONNECTION_FAILED"),
        (OSError("network unreachable"), "CONNECTION_FAILED"),
        (asyncio.IncompleteReadError(b"", 8), "CONNECTION_FAILED"),
        (asyncio.TimeoutError(), "TIMEOUT"),  # noqa: UP041  (the asyncio name is the contract),
    ],
)
def test_network_failures_are_unreachable(exc, code):
    error = classify(exc)

    assert error.kind is ErrorKind.UNREACHABLE
    assert error.code == code


def test_a_failed_entity_look_up_is_a_recipient_error():
    error = classify(ValueError("Could not find the input entity for PeerUser(user_id=42) (PeerUser)"))

    assert error.kind is ErrorKind.RECIPIENT
    assert error.code == "PEER_NOT_FOUND"
    assert "42" in error.text


def test_a_transport_error_passes_through_unchanged():
    original = TransportError(ErrorKind.SESSION, "SESSION_UNREADABLE")

    assert classify(original) is original


def test_an_unexpected_exception_is_transient_so_retries_stay_bounded():
    error = classify(RuntimeError("boom"))

    assert error.kind is ErrorKind.TRANSIENT
    assert "RuntimeError" in error.text
