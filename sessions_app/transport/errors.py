"""The one place that maps a Telethon exception to an :class:`ErrorKind` (DESIGN.md "Error kinds").

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

from telethon import errors as tg

from .base import ErrorKind, TransportError

# DESIGN.md's table, row by row. Order inside a kind does not matter: no class below subclasses
# another one listed under a different kind, except RandomIdDuplicateError (checked first).
KIND_BY_CLASS: dict[type[BaseException], ErrorKind] = {
    tg.RandomIdDuplicateError: ErrorKind.DUPLICATE,
    # flood: carry ``.seconds`` (Telegram's FLOOD_WAIT_X, FLOOD_PREMIUM_WAIT_X, SLOWMODE_WAIT_X)
    tg.FloodWaitError: ErrorKind.FLOOD,
    tg.FloodPremiumWaitError: ErrorKind.FLOOD,
    tg.SlowModeWaitError: ErrorKind.FLOOD,
    # transient
    tg.RpcCallFailError: ErrorKind.TRANSIENT,
    tg.RpcMcgetFailError: ErrorKind.TRANSIENT,
    tg.WorkerBusyTooLongRetryError: ErrorKind.TRANSIENT,
    tg.TimedOutError: ErrorKind.TRANSIENT,
    tg.ServerError: ErrorKind.TRANSIENT,
    # The transport uploads again and retries once before this reaches the engine.
    tg.FileReferenceExpiredError: ErrorKind.TRANSIENT,
    # recipient
    tg.UserPrivacyRestrictedError: ErrorKind.RECIPIENT,
    tg.UserIsBlockedError: ErrorKind.RECIPIENT,
    tg.YouBlockedUserError: ErrorKind.RECIPIENT,
    tg.InputUserDeactivatedError: ErrorKind.RECIPIENT,
    tg.UsernameNotOccupiedError: ErrorKind.RECIPIENT,
    tg.UsernameInvalidError: ErrorKind.RECIPIENT,
    tg.PhoneNotOccupiedError: ErrorKind.RECIPIENT,
    tg.PeerIdInvalidError: ErrorKind.RECIPIENT,  # also: a bot's user never started it
    tg.UserIdInvalidError: ErrorKind.RECIPIENT,
    tg.PhoneNumberInvalidError: ErrorKind.RECIPIENT,
    tg.ChatWriteForbiddenError: ErrorKind.RECIPIENT,
    tg.VoiceMessagesForbiddenError: ErrorKind.RECIPIENT,
    tg.UserIsBotError: ErrorKind.RECIPIENT,
    # content: every row would fail alike
    tg.MessageTooLongError: ErrorKind.CONTENT,
    tg.MessageEmptyError: ErrorKind.CONTENT,
    tg.MediaCaptionTooLongError: ErrorKind.CONTENT,
    tg.EntitiesTooLongError: ErrorKind.CONTENT,
    tg.EntityBoundsInvalidError: ErrorKind.CONTENT,
    tg.PhotoInvalidDimensionsError: ErrorKind.CONTENT,
    tg.PhotoSaveFileInvalidError: ErrorKind.CONTENT,
    tg.FilePartsInvalidError: ErrorKind.CONTENT,
    tg.MediaEmptyError: ErrorKind.CONTENT,
    tg.MediaInvalidError: ErrorKind.CONTENT,
    # session: the account is unusable
    tg.AuthKeyUnregisteredError: ErrorKind.SESSION,
    tg.AuthKeyInvalidError: ErrorKind.SESSION,
    tg.AuthKeyDuplicatedError: ErrorKind.SESSION,
    tg.SessionRevokedError: ErrorKind.SESSION,
    tg.SessionExpiredError: ErrorKind.SESSION,
    tg.UserDeactivatedError: ErrorKind.SESSION,
    tg.UserDeactivatedBanError: ErrorKind.SESSION,
    tg.PhoneNumberBannedError: ErrorKind.SESSION,
    tg.UserRestrictedError: ErrorKind.SESSION,
    # spam-limited: a limit with no duration, never retried automatically
    tg.PeerFloodError: ErrorKind.SPAM_LIMITED,
    tg.FrozenMethodInvalidError: ErrorKind.SPAM_LIMITED,
}

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
UNEXPECTED = "UNEXPECTED_ERROR"


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
    name = cls.__name__.removesuffix("Error")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


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

    Returns (never raises): ``kind`` per DESIGN.md's table; ``code`` the RPC name or a local code
    (``PEER_NOT_FOUND``, ``CONNECTION_FAILED``, ``TIMEOUT``, ``UNEXPECTED_ERROR``); ``text`` a
    readable detail (Telegram's raw text for unlisted RPC errors); ``seconds`` the wait in seconds
    for ``FLOOD``. A ``TransportError`` passes through unchanged.
    """
    if isinstance(exc, TransportError):
        return exc

    if isinstance(exc, tg.RPCError):
        return _classify_rpc(exc)

    # asyncio.TimeoutError is TimeoutError (an OSError) since Python 3.11: check it first.
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return TransportError(ErrorKind.TRANSIENT, TIMEOUT, "Telegram did not answer in time")
    # A connection closed mid-read surfaces as asyncio.IncompleteReadError (an EOFError).
    if isinstance(exc, (ConnectionError, OSError, EOFError)):
        return TransportError(ErrorKind.TRANSIENT, CONNECTION_FAILED, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, tg.InvalidBufferError) and getattr(exc, "code", None) == 404:
        # The server no longer knows this auth key: the session is gone.
        return TransportError(ErrorKind.SESSION, "AUTH_KEY_UNREGISTERED", str(exc))
    if isinstance(exc, ValueError):
        # Telethon's get_input_entity raises ValueError("Could not find the input entity …").
        return TransportError(ErrorKind.RECIPIENT, PEER_NOT_FOUND, str(exc) or "peer could not be resolved")
    # Anything else is a bug or an unforeseen library failure: retried a bounded number of times
    # (max_attempts) so one bad row cannot stop a campaign, and visible in DeliveryAttempt.
    return TransportError(ErrorKind.TRANSIENT, UNEXPECTED, f"{type(exc).__name__}: {exc}")


def _classify_rpc(exc: tg.RPCError) -> TransportError:
    kind = _known_kind(exc)
    listed = _is_listed_class(exc)
    code = code_for_class(type(exc)) if listed else (exc.message or code_for_class(type(exc)))
    text = str(exc)
    seconds = getattr(exc, "seconds", None)

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


__all__ = ["KIND_BY_CLASS", "KIND_BY_CODE", "classify", "code_for_class"]
