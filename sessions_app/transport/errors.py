"""The one place that maps a Telethon exception to an :class:`ErrorKind` (docs/design.md "Error kinds").

:func:`classify` turns any exception raised while talking to Telegram into a
:class:`~sessions_app.transport.base.TransportError` whose ``kind`` decides what the engine does
with the row, the session and the campaign. Classes are matched most specific first: Telethon's
classes form a hierarchy by HTTP-like code (``RandomIdDuplicateError`` subclasses
``ServerError``, ``PeerFloodError`` subclasses ``BadRequestError``, ``FrozenMethodInvalidError``
subclasses ``FloodError``), so the explicit table is consulted before any base class or code.

Stored codes are Telegram's RPC names: for a known class its registered name
(``UserPrivacyRestrictedError`` → ``USER_PRIVACY_RESTRICTED``, ``FloodWaitError`` →
``FLOOD_WAIT``), because a known class's ``.message`` is a generic constant (``BAD_REQUEST``); for
an unlisted error Telegram's raw text (``ALLOW_PAYMENT_REQUIRED_100``).
"""

from __future__ import annotations

import asyncio
import re
import struct

from telethon import errors as tg

from .base import ErrorKind, TransportError

# docs/design.md "Error kinds", row by row, by Telethon class name: a class a Telethon version lacks is
# skipped (its RPC error then arrives as the generic class of its code and is classified by its
# RPC name, KIND_BY_RPC_NAME). Order inside a kind does not matter: no class below subclasses
# another one listed under a different kind, except RandomIdDuplicateError (checked first).
KIND_BY_NAME: dict[str, ErrorKind] = {
    "RandomIdDuplicateError": ErrorKind.DUPLICATE,
    # flood: carry ``.seconds`` (Telegram's FLOOD_WAIT_X, FLOOD_PREMIUM_WAIT_X, SLOWMODE_WAIT_X)
    "FloodWaitError": ErrorKind.FLOOD,
    "FloodPremiumWaitError": ErrorKind.FLOOD,
    "SlowModeWaitError": ErrorKind.FLOOD,
    # transient
    "RpcCallFailError": ErrorKind.TRANSIENT,
    "RpcMcgetFailError": ErrorKind.TRANSIENT,
    "WorkerBusyTooLongRetryError": ErrorKind.TRANSIENT,
    "TimedOutError": ErrorKind.TRANSIENT,
    "ServerError": ErrorKind.TRANSIENT,
    # The transport uploads again and retries once before this reaches the engine.
    "FileReferenceExpiredError": ErrorKind.TRANSIENT,
    # recipient
    "UserPrivacyRestrictedError": ErrorKind.RECIPIENT,
    "UserIsBlockedError": ErrorKind.RECIPIENT,
    "YouBlockedUserError": ErrorKind.RECIPIENT,
    "InputUserDeactivatedError": ErrorKind.RECIPIENT,
    "UsernameNotOccupiedError": ErrorKind.RECIPIENT,
    "UsernameInvalidError": ErrorKind.RECIPIENT,
    "PhoneNotOccupiedError": ErrorKind.RECIPIENT,
    "PeerIdInvalidError": ErrorKind.RECIPIENT,  # also: a bot's user never started it
    "UserIdInvalidError": ErrorKind.RECIPIENT,
    "PhoneNumberInvalidError": ErrorKind.RECIPIENT,
    "ChatWriteForbiddenError": ErrorKind.RECIPIENT,
    "VoiceMessagesForbiddenError": ErrorKind.RECIPIENT,
    "UserIsBotError": ErrorKind.RECIPIENT,
    # content: every row would fail alike
    "MessageTooLongError": ErrorKind.CONTENT,
    "MessageEmptyError": ErrorKind.CONTENT,
    "MediaCaptionTooLongError": ErrorKind.CONTENT,
    "EntitiesTooLongError": ErrorKind.CONTENT,
    "EntityBoundsInvalidError": ErrorKind.CONTENT,
    "PhotoInvalidDimensionsError": ErrorKind.CONTENT,
    "PhotoSaveFileInvalidError": ErrorKind.CONTENT,
    "FilePartsInvalidError": ErrorKind.CONTENT,
    "MediaEmptyError": ErrorKind.CONTENT,
    "MediaInvalidError": ErrorKind.CONTENT,
    # session: the account is unusable
    "AuthKeyUnregisteredError": ErrorKind.SESSION,
    "AuthKeyInvalidError": ErrorKind.SESSION,
    "AuthKeyDuplicatedError": ErrorKind.SESSION,
    "SessionRevokedError": ErrorKind.SESSION,
    "SessionExpiredError": ErrorKind.SESSION,
    "UserDeactivatedError": ErrorKind.SESSION,
    "UserDeactivatedBanError": ErrorKind.SESSION,
    "PhoneNumberBannedError": ErrorKind.SESSION,
    "UserRestrictedError": ErrorKind.SESSION,
    # spam-limited: a limit with no duration, never retried automatically
    "PeerFloodError": ErrorKind.SPAM_LIMITED,
    "FrozenMethodInvalidError": ErrorKind.SPAM_LIMITED,
}


def telethon_error(name: str) -> type[BaseException] | None:
    """Telethon's error class ``name`` (``"FloodWaitError"``), or None when this Telethon version
    has none: never an AttributeError at import time (requirements.txt allows a range)."""
    cls = getattr(tg, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, BaseException) else None


def telethon_errors(*names: str) -> tuple[type[BaseException], ...]:
    """The classes of ``names`` this Telethon has, for ``except``/``isinstance`` (``()`` matches
    nothing)."""
    return tuple(cls for name in names if (cls := telethon_error(name)) is not None)


def _rpc_name_of(class_name: str) -> str:
    """``FrozenMethodInvalidError`` → ``FROZEN_METHOD_INVALID`` (Telethon's naming of RPC names)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", class_name.removesuffix("Error")).upper()


KIND_BY_CLASS: dict[type[BaseException], ErrorKind] = {
    cls: kind for name, kind in KIND_BY_NAME.items() if (cls := telethon_error(name)) is not None
}
# The same table by Telegram's RPC name, for an error whose class this Telethon lacks.
KIND_BY_RPC_NAME: dict[str, ErrorKind] = {_rpc_name_of(name): kind for name, kind in KIND_BY_NAME.items()}

# Unlisted RPC errors by their (absolute: Telegram also sends -500, -503) code.
KIND_BY_CODE: dict[int, ErrorKind] = {
    303: ErrorKind.TRANSIENT,  # DC migration; Telethon normally follows it itself
    400: ErrorKind.RECIPIENT,
    401: ErrorKind.SESSION,
    403: ErrorKind.RECIPIENT,
    # 406 is not always fatal: ALLOW_PAYMENT_REQUIRED_*, PRIVACY_PREMIUM_REQUIRED arrive so.
    406: ErrorKind.RECIPIENT,
    420: ErrorKind.FLOOD,
    500: ErrorKind.TRANSIENT,
    503: ErrorKind.TRANSIENT,  # "Timeout" (-503)
}

_SECONDS_IN_TEXT = re.compile(r"_(\d+)$")

# Local (non-Telegram) failure codes.
PEER_NOT_FOUND = "PEER_NOT_FOUND"
CONNECTION_FAILED = "CONNECTION_FAILED"
TIMEOUT = "TIMEOUT"
UNREADABLE_ANSWER = "UNREADABLE_ANSWER"
UNEXPECTED = "UNEXPECTED_ERROR"

# An answer that arrived but cannot be parsed: an unknown constructor (a server on another layer),
# a short or corrupt buffer, a bad checksum, a failed security check, text that is not UTF-8.
# Their messages quote the answer's bytes (phone numbers, names): never shown, never stored.
_UNREADABLE: tuple[type[BaseException], ...] = (
    *telethon_errors("TypeNotFoundError", "InvalidChecksumError", "SecurityError", "InvalidBufferError"),
    struct.error,
    BufferError,
    UnicodeDecodeError,
)


def _rpc_names() -> dict[type, str]:
    """Telethon's registered RPC name per error class (``FloodWaitError`` → ``FLOOD_WAIT``)."""
    names: dict[type, str] = {}
    for pattern, cls in tg.rpc_errors_re:
        # 'FLOOD_WAIT_(\\d+)' → 'FLOOD_WAIT'; '2FA_CONFIRM_WAIT_(\\d+)' → '2FA_CONFIRM_WAIT'
        name = re.sub(r"_\(\\d\+\)$", "", pattern)
        names.setdefault(cls, name.replace("(\\d+)", "X"))
    for name, cls in tg.rpc_errors_dict.items():
        names.setdefault(cls, name)
    return names


_RPC_NAMES = _rpc_names()


def code_for_class(cls: type[BaseException]) -> str:
    """The RPC name of a Telethon error class; falls back to the class name in UPPER_SNAKE."""
    if cls in _RPC_NAMES:
        return _RPC_NAMES[cls]
    return _rpc_name_of(cls.__name__)


def _known_kind(exc: BaseException) -> ErrorKind | None:
    # Walk the class's own MRO so an exact class wins over a listed base (RandomIdDuplicate
    # before ServerError), and a subclass of a listed class (a future Telethon split) inherits it.
    for cls in type(exc).__mro__:
        if cls in KIND_BY_CLASS:
            return KIND_BY_CLASS[cls]
        if cls in (tg.RPCError, Exception):
            return None
    return None


def _is_listed_class(exc: BaseException) -> bool:
    """True for a specific Telethon error class (not a bare base like ``BadRequestError``)."""
    return type(exc) in _RPC_NAMES


def classify(exc: BaseException) -> TransportError:
    """Map any exception from a Telegram call to a :class:`TransportError`.

    Returns (never raises): ``kind`` per docs/design.md "Error kinds"; ``code`` the RPC name or a local code
    (``PEER_NOT_FOUND``, ``UNEXPECTED_ERROR``; for failures with no answer, all ``UNREACHABLE``:
    ``CONNECTION_FAILED``, ``TIMEOUT``, ``UNREADABLE_ANSWER`` — :func:`classify_no_answer`);
    ``text`` a readable detail (Telegram's raw text for unlisted RPC errors, never an answer's
    bytes); ``seconds`` the wait in seconds for ``FLOOD``. A ``TransportError`` passes through
    unchanged.
    """
    if isinstance(exc, TransportError):
        return exc

    if isinstance(exc, tg.RPCError):
        return _classify_rpc(exc)
    if (unreachable := classify_no_answer(exc)) is not None:
        return unreachable
    if isinstance(exc, ValueError):
        # Telethon's get_input_entity raises ValueError("Could not find the input entity …").
        return TransportError(ErrorKind.RECIPIENT, PEER_NOT_FOUND, str(exc) or "peer could not be resolved")
    # Anything else is a bug or an unforeseen library failure: retried a bounded number of times
    # (max_attempts) so one bad row cannot stop a campaign, and visible in DeliveryAttempt.
    # Only the class's name: an unforeseen library failure's message may quote what it was reading.
    return TransportError(ErrorKind.TRANSIENT, UNEXPECTED, f"unexpected {type(exc).__name__}")


def classify_no_answer(exc: BaseException) -> TransportError | None:
    """``UNREACHABLE`` for a failure that is not Telegram answering — the connection, the auth
    key exchange, a timeout, or an answer that cannot be parsed — else None (an RPC error or
    anything else). ``SESSION`` for Telegram's transport-level 404 (it forgot the auth key).

    The text is short and names the failure's class and errno only: the exception's own message
    may quote the answer's bytes, so it is never used.
    """
    if isinstance(exc, tg.InvalidBufferError) and getattr(exc, "code", None) == 404:
        # The server no longer knows this auth key: the session is gone.
        return TransportError(
            ErrorKind.SESSION, "AUTH_KEY_UNREGISTERED", "Telegram no longer knows this auth key"
        )
    if isinstance(exc, _UNREADABLE):
        return TransportError(
            ErrorKind.UNREACHABLE,
            UNREADABLE_ANSWER,
            f"Telegram's answer could not be read ({type(exc).__name__}): is the server on another protocol layer?",
        )
    # asyncio.TimeoutError is TimeoutError (an OSError) since Python 3.11: check it first.
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return TransportError(ErrorKind.UNREACHABLE, TIMEOUT, "Telegram did not answer in time")
    # A connection closed mid-read surfaces as asyncio.IncompleteReadError (an EOFError).
    if isinstance(exc, (ConnectionError, OSError, EOFError)):
        errno = getattr(exc, "errno", None)
        detail = f"{type(exc).__name__}, errno {errno}" if errno else type(exc).__name__
        return TransportError(
            ErrorKind.UNREACHABLE, CONNECTION_FAILED, f"the connection to Telegram failed ({detail})"
        )
    return None


def chained(error: TransportError, exc: BaseException) -> BaseException | None:
    """The cause to chain ``error`` to: ``exc``, except for an unreadable answer, whose message
    and frames hold the answer's bytes (``raise error from chained(error, exc)``)."""
    return None if error.code == UNREADABLE_ANSWER else exc


def _classify_rpc(exc: tg.RPCError) -> TransportError:
    kind = _known_kind(exc)
    listed = _is_listed_class(exc)
    code = code_for_class(type(exc)) if listed else (exc.message or code_for_class(type(exc)))
    text = str(exc)
    seconds = getattr(exc, "seconds", None)

    if kind is None and not listed:
        kind = KIND_BY_RPC_NAME.get(exc.message or "")
    if kind is None:
        kind = KIND_BY_CODE.get(abs(exc.code or 0), ErrorKind.RECIPIENT)
        if not listed:
            # Keep Telegram's own words: this is the only description staff will get.
            text = f"{exc.message} (RPC error {exc.code})"

    if kind is ErrorKind.FLOOD:
        if seconds is None:
            match = _SECONDS_IN_TEXT.search(exc.message or "")
            seconds = float(match[1]) if match else None
        if seconds is None:
            # A 420 without a duration cannot be waited out (PEER_FLOOD-like): a human decides.
            kind = ErrorKind.SPAM_LIMITED
        else:
            seconds = float(seconds)
    return TransportError(kind, code, text, seconds if kind is ErrorKind.FLOOD else None)


__all__ = [
    "KIND_BY_CLASS",
    "KIND_BY_CODE",
    "KIND_BY_NAME",
    "classify",
    "code_for_class",
    "telethon_error",
    "telethon_errors",
]
