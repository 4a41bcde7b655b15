"""Logging a Telegram account or bot in, and keeping its StringSession encrypted.

User accounts: :func:`send_code` (phone) → :func:`sign_in` (login code) → :func:`sign_in_password`
when the account has two-step verification. Bots: :func:`sign_in_bot` (BotFather's token).

A login code works only on the auth key that asked for it, so :func:`send_code` saves the new
StringSession (encrypted) and :func:`sign_in` continues on it; the same holds for the 2FA step.
The functions are synchronous (admin views, management commands) and run Telethon in a private
event loop; the database is touched only outside that loop. Codes, passwords, tokens and session
strings are never logged nor put into exception messages, and every function that holds one is
marked ``sensitive_variables`` so Django's error reports (DEBUG off: mails, logs) show stars.

Each step checks that ``FIELD_ENCRYPTION_KEY`` works *before* contacting Telegram: the auth key a
step creates can only be kept encrypted, and one created and then lost costs a login code (and
Telegram rate-limits codes).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from tgcampaigns import crypto

from . import servers
from .models import SessionKind, SessionStatus, TelegramSession
from .transport.base import ErrorKind
from .transport.errors import UNREADABLE_ANSWER as UNREADABLE_ANSWER_CODE
from .transport.errors import classify, classify_no_answer, telethon_errors
from .transport.telethon_transport import api_credentials, build_client

logger = logging.getLogger(__name__)
T = TypeVar("T")


class LoginError(Exception):
    """A login step failed; ``str(exc)`` is a message for staff (never a code, password, token
    or any byte of Telegram's answer)."""


UNREADABLE_ANSWER = "Telegram's answer could not be read — is the server on another protocol layer?"
UNREACHABLE = "Telegram cannot be reached from this server right now; try again."


class WrongCode(LoginError):
    pass


class CodeExpired(LoginError):
    pass


class WrongPassword(LoginError):
    pass


class PhoneRejected(LoginError):
    """The number is invalid, banned or has no Telegram account."""


class BotTokenRejected(LoginError):
    pass


class WrongStep(LoginError):
    """The session is not at the step this call continues (e.g. a code without a sent code)."""


# Telethon error class name → (LoginError subclass, message); looked up by name, so a Telethon
# without one still imports. Source of the codes: core.telegram.org/api/auth.
_LOGIN_ERRORS: list[tuple[str, type[LoginError], str]] = [
    ("PhoneCodeInvalidError", WrongCode, "The login code is wrong. Enter the latest code Telegram sent."),
    ("PhoneCodeEmptyError", WrongCode, "Enter the login code Telegram sent."),
    ("PhoneCodeExpiredError", CodeExpired, "The login code has expired. Request a new code and try again."),
    ("PasswordHashInvalidError", WrongPassword, "The two-step verification password is wrong."),
    ("PhoneNumberInvalidError", PhoneRejected, "Telegram says this phone number is invalid."),
    ("PhoneNumberBannedError", PhoneRejected, "This phone number is banned from Telegram."),
    (
        "PhoneNumberUnoccupiedError",
        PhoneRejected,
        "No Telegram account uses this number (accounts cannot be created from here).",
    ),
    (
        "AccessTokenInvalidError",
        BotTokenRejected,
        "The bot token is invalid. Copy it again from @BotFather.",
    ),
    (
        "AccessTokenExpiredError",
        BotTokenRejected,
        "The bot token has been revoked. Issue a new one in @BotFather.",
    ),
    (
        "ApiIdInvalidError",
        LoginError,
        "Telegram rejects the API id/hash. Check them at my.telegram.org/apps.",
    ),
]


def _login_error(exc: BaseException) -> LoginError:
    for name, error_cls, message in _LOGIN_ERRORS:
        if isinstance(exc, telethon_errors(name)):
            return error_cls(message)
    error = classify(exc)
    if error.seconds:
        return LoginError(f"Telegram asks to wait {int(error.seconds)} s before the next attempt.")
    if error.code == UNREADABLE_ANSWER_CODE:
        return LoginError(UNREADABLE_ANSWER)
    if error.kind is ErrorKind.UNREACHABLE:
        return LoginError(UNREACHABLE)
    if error.code == "UNEXPECTED_ERROR":
        return LoginError(f"The login failed ({error.text}); try again.")
    return LoginError(f"Telegram refused the login: {error.code}.")


@sensitive_variables()
def _run(
    session_string: str, api: tuple[int, str], step: Callable[[Any], Awaitable[T]], *, signs_in: bool = False
) -> tuple[T, str]:
    """Run ``step(client)`` on a connected client over ``session_string``.

    Returns (step's result, the session string afterwards). ``signs_in``: the step logs the key in
    (``auth.signIn``, ``auth.checkPassword``, a bot token); when its answer cannot be read, the
    server may have logged the key in all the same, so it is asked (:func:`_signed_in_anyway`)
    and the account's user is the step's result when it did. Raises LoginError, without the
    Telethon exception chained: its frames hold the code, password or token as arguments, and
    an unreadable answer's message holds the answer's bytes.
    """

    @sensitive_variables()
    async def go() -> tuple[T, str]:
        try:
            client = build_client(session_string, *api)
        except ValueError:
            raise LoginError("The stored session is damaged; start the login again.") from None
        try:
            await client.connect()
            try:
                return await step(client), client.session.save()
            except Exception as exc:
                if not signs_in or classify_no_answer(exc) is None:
                    raise
                user = await _signed_in_anyway(client)
                if user is None:
                    raise
                return user, client.session.save()
        finally:
            await client.disconnect()

    try:
        return async_to_sync(go)()
    except LoginError:
        raise
    except Exception as exc:
        logger.info("login step failed: %s", type(exc).__name__)
        error = _login_error(exc)
    raise error from None


async def _signed_in_anyway(client) -> Any:
    """After a sign-in step failed without a readable answer: the account's user when the server
    logged the key in all the same (``is_user_authorized``, then ``get_me``; a stand-in with no
    id or name when only the first can be read), else None."""
    try:
        if not await client.is_user_authorized():
            return None
    except Exception:
        return None
    try:
        me = await client.get_me()
    except Exception:
        me = None
    return me or SimpleNamespace(id=None, username="", first_name="", last_name="")


def _api(session: TelegramSession) -> tuple[int, str]:
    """The API credentials, after checking that what the step creates can be stored encrypted."""
    try:
        crypto.require_key()
    except ImproperlyConfigured as exc:
        raise LoginError(f"{exc} Nothing was sent to Telegram.") from None
    try:
        return api_credentials(session)
    except ImproperlyConfigured as exc:
        raise LoginError(str(exc)) from None
    except crypto.InvalidToken:
        raise LoginError("The session's API hash cannot be decrypted with FIELD_ENCRYPTION_KEY.") from None


@sensitive_variables()
def _logged_in(session: TelegramSession, user: Any, session_string: str) -> None:
    session.session_string = session_string
    session.login_phone_code_hash = ""
    session.status = SessionStatus.ACTIVE
    session.server = servers.telegram_server()
    session.me_id = user.id
    session.me_username = user.username or ""
    session.me_name = " ".join(p for p in (user.first_name, user.last_name) if p)
    session.last_error_code = ""
    session.last_error_text = ""
    session.last_checked_at = timezone.now()
    session.save()


@sensitive_variables()
def send_code(session: TelegramSession, phone: str) -> None:
    """Ask Telegram to send a login code to ``phone`` (E.164) for a user ``session``.

    Starts from a new auth key, saves it (encrypted) with the code hash, and moves the session to
    ``awaiting_code``. Raises LoginError (PhoneRejected, or a wait for Telegram's FloodWait).
    """
    api = _api(session)  # first: nothing reaches Telegram without a working key
    if session.kind != SessionKind.USER:
        raise WrongStep("Bots log in with a token, not a phone number.")
    phone = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
    if not phone:
        raise PhoneRejected("Enter the account's phone number in international format, e.g. +4915112345678.")

    @sensitive_variables()
    async def step(client):
        return await client.send_code_request(phone)

    sent, session_string = _run("", api, step)
    session.phone = phone
    session.session_string = session_string
    session.login_phone_code_hash = sent.phone_code_hash
    session.status = SessionStatus.AWAITING_CODE
    session.server = servers.telegram_server()  # the new auth key is this server's
    session.save()


@sensitive_variables()
def sign_in(session: TelegramSession, code: str) -> str:
    """Finish a user login with the code Telegram sent; returns the new status.

    ``active`` when logged in; ``awaiting_password`` when the account has two-step verification
    (continue with :func:`sign_in_password`). Raises WrongCode (stays awaiting the code),
    CodeExpired (back to ``new``: request a new code), PhoneRejected, WrongStep, LoginError.
    """
    api = _api(session)  # first: nothing reaches Telegram without a working key
    if session.status != SessionStatus.AWAITING_CODE or not session.login_phone_code_hash:
        raise WrongStep("Request a login code first.")
    code = "".join(ch for ch in str(code) if ch.isdigit())
    phone, code_hash = session.phone, session.login_phone_code_hash

    @sensitive_variables()
    async def step(client):
        try:
            return await client.sign_in(phone=phone, code=code, phone_code_hash=code_hash)
        except telethon_errors("SessionPasswordNeededError"):
            return None

    try:
        user, session_string = _run(session.session_string, api, step, signs_in=True)
    except CodeExpired:
        session.status = SessionStatus.NEW
        session.login_phone_code_hash = ""
        session.save(update_fields=["status", "login_phone_code_hash", "updated_at"])
        raise
    if user is None:
        session.session_string = session_string
        session.status = SessionStatus.AWAITING_PASSWORD
        session.save(update_fields=["session_string_encrypted", "status", "updated_at"])
        return session.status
    _logged_in(session, user, session_string)
    return session.status


@sensitive_variables()
def sign_in_password(session: TelegramSession, password: str) -> str:
    """Finish a login with the account's two-step verification password; returns ``active``.

    Raises WrongPassword (stays awaiting the password), WrongStep, LoginError.
    """
    api = _api(session)  # first: nothing reaches Telegram without a working key
    if session.status != SessionStatus.AWAITING_PASSWORD:
        raise WrongStep("This session is not waiting for a two-step verification password.")

    @sensitive_variables()
    async def step(client):
        return await client.sign_in(password=password)

    user, session_string = _run(session.session_string, api, step, signs_in=True)
    _logged_in(session, user, session_string)
    return session.status


@sensitive_variables()
def sign_in_bot(session: TelegramSession, token: str) -> str:
    """Log a bot ``session`` in with its BotFather token; stores token and session encrypted.

    Returns ``active``. Raises BotTokenRejected, WrongStep, LoginError.
    """
    api = _api(session)  # first: nothing reaches Telegram without a working key
    if session.kind != SessionKind.BOT:
        raise WrongStep("Only bot sessions log in with a token.")
    token = token.strip()
    if ":" not in token:
        raise BotTokenRejected("A bot token looks like 123456:ABC-DEF…; copy it from @BotFather.")

    @sensitive_variables()
    async def step(client):
        return await client.sign_in(bot_token=token)

    user, session_string = _run("", api, step, signs_in=True)
    session.bot_token = token
    _logged_in(session, user, session_string)
    return session.status


__all__ = [
    "BotTokenRejected",
    "CodeExpired",
    "UNREACHABLE",
    "UNREADABLE_ANSWER",
    "LoginError",
    "PhoneRejected",
    "WrongCode",
    "WrongPassword",
    "WrongStep",
    "send_code",
    "sign_in",
    "sign_in_bot",
    "sign_in_password",
]
