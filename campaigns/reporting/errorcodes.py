"""Error codes for people: what each stored code means in plain words, and whether retrying a row
that failed with it can help.

Codes are Telegram's RPC names (``USER_IS_BLOCKED``) or our own for local outcomes
(``PEER_NOT_FOUND``, ``INVALID_RECIPIENT``, ``NO_CONSENT``); docs/design.md "Error kinds" decides
what the engine did with them. Here only the reading matters: a **retryable** failure (Telegram or the network failed,
the attempts ran out) usually goes through on a retry; a **permanent** one (the person blocked
us, has no account, keeps their messages private) will fail the same way, and re-sending to people
who blocked us is what a retry must not do without asking. A code this module does not know counts
as permanent: when in doubt, ask.
"""

from __future__ import annotations

from dataclasses import dataclass

from sessions_app.transport import ErrorKind

from ..models import (
    CODE_CANCELLED,
    CODE_DUPLICATE,
    CODE_INVALID,
    CODE_NO_CONSENT,
    CODE_SUPPRESSED,
    CODE_UNKNOWN,
)

RETRYABLE = "retryable"
PERMANENT = "permanent"

# Failures of the request, not of the recipient: the engine retried them up to the campaign's
# attempt limit (sessions_app/transport/errors.py: transient kind, and the local codes it uses).
_TRANSIENT_CODES = {
    "RPC_CALL_FAIL": "Telegram's server failed to process the request.",
    "RPC_MCGET_FAIL": "Telegram's server failed to process the request.",
    "WORKER_BUSY_TOO_LONG_RETRY": "Telegram's servers were too busy.",
    "TIMEOUT": "Telegram did not answer in time.",
    "TIMED_OUT": "Telegram did not answer in time.",
    "CONNECTION_FAILED": "The connection to Telegram failed.",
    "FILE_REFERENCE_EXPIRED": "The uploaded media expired on Telegram's side before it was reused.",
    "UNEXPECTED_ERROR": "An unexpected error in the sending worker (see the attempt's text).",
    "INTERNAL": "Telegram reported an internal server error.",
}

_PERMANENT_CODES = {
    "USER_PRIVACY_RESTRICTED": "The person's privacy settings do not let this account message them.",
    "USER_IS_BLOCKED": "The person blocked this account (or stopped the bot).",
    "YOU_BLOCKED_USER": "This sending account blocked the person; unblock them first.",
    "INPUT_USER_DEACTIVATED": "The person's Telegram account was deleted.",
    "USERNAME_NOT_OCCUPIED": "No Telegram account has this username.",
    "USERNAME_INVALID": "The username is not valid on Telegram.",
    "PHONE_NOT_OCCUPIED": "No Telegram account uses this phone number.",
    "PHONE_NUMBER_INVALID": "Telegram says the phone number is not valid.",
    "PEER_ID_INVALID": "This account cannot reach the recipient (a bot can only write to people who started it).",
    "USER_ID_INVALID": "Telegram does not know this user id for this account.",
    "PEER_NOT_FOUND": "The username or phone could not be resolved to a Telegram account.",
    "CHAT_WRITE_FORBIDDEN": "This account may not write in that chat.",
    "VOICE_MESSAGES_FORBIDDEN": "The person does not accept voice messages.",
    "USER_IS_BOT": "The recipient is a bot, which cannot get this message.",
    "PRIVACY_PREMIUM_REQUIRED": "The person accepts messages from strangers only from Premium accounts.",
    "MESSAGE_TOO_LONG": "With this person's fields the text is longer than Telegram allows (4096 characters).",
    "MEDIA_CAPTION_TOO_LONG": "With this person's fields the caption is longer than Telegram allows (1024).",
    "MESSAGE_RENDER_BUDGET": "With this person's fields the message takes too much work to personalise "
    "(its filters run over a very long value); nothing was sent.",
    "ERASED": "The person was erased on request.",
}

# Rows the engine settled itself, shown with the others.
_OWN_CODES = {
    CODE_INVALID: "The line in the list is no username, phone or user id (see the list's report).",
    CODE_NO_CONSENT: "The list's consent or opt-out column says this person did not agree to be "
    "messaged (see the list's report): nothing is sent to them.",
    CODE_DUPLICATE: "The same person appears earlier in the lists: they get one message only.",
    CODE_SUPPRESSED: "The person opted out (suppression list): nothing is sent to them.",
    CODE_CANCELLED: "The campaign was cancelled before this message was sent.",
    CODE_UNKNOWN: "A session sent it but never learned whether it arrived (it stopped mid-send). "
    "Resend only after checking: the person may get it twice.",
    "FLOOD_WAIT": "Telegram asked this account to wait before sending more; it waits, then sends.",
    "PEER_FLOOD": "Telegram limited this account for sending to too many strangers (spam limit).",
}

_PREFIXES = {
    "ALLOW_PAYMENT_REQUIRED": (
        PERMANENT,
        "The person takes messages from strangers only for a payment in Telegram Stars.",
    ),
    "FLOOD_WAIT_": (RETRYABLE, _OWN_CODES["FLOOD_WAIT"]),
}


@dataclass(frozen=True)
class ErrorCode:
    """One code as staff see it: ``code``, ``explanation`` in plain words, ``retry``
    (:data:`RETRYABLE` or :data:`PERMANENT`)."""

    code: str
    explanation: str
    retry: str

    @property
    def retryable(self) -> bool:
        return self.retry == RETRYABLE


def explain(code: str) -> ErrorCode:
    """``code`` (as stored on a result) for staff. Unknown codes are permanent, with a pointer to
    Telegram's list of errors."""
    code = code or ""
    if code in _TRANSIENT_CODES:
        return ErrorCode(code, _TRANSIENT_CODES[code] + " Retrying usually works.", RETRYABLE)
    if code in _PERMANENT_CODES:
        return ErrorCode(code, _PERMANENT_CODES[code], PERMANENT)
    if code in _OWN_CODES:
        return ErrorCode(code, _OWN_CODES[code], PERMANENT)
    for prefix, (retry, explanation) in _PREFIXES.items():
        if code.startswith(prefix):
            return ErrorCode(code, explanation, retry)
    kind = _kind_from_table(code)
    if kind is ErrorKind.TRANSIENT:
        return ErrorCode(code, "Telegram or the network failed. Retrying usually works.", RETRYABLE)
    return ErrorCode(
        code,
        "Telegram's own error code (see core.telegram.org/api/errors); a retry would most likely "
        "fail the same way.",
        PERMANENT,
    )


def _kind_from_table(code: str) -> ErrorKind | None:
    """The kind the table of docs/design.md "Error kinds" gives the Telethon error class named
    ``code``, if any."""
    from sessions_app.transport.errors import KIND_BY_CLASS, code_for_class

    for cls, kind in KIND_BY_CLASS.items():
        if code_for_class(cls) == code:
            return kind
    return None


def split_by_retry(counts: dict[str, int]) -> tuple[list[tuple[ErrorCode, int]], list[tuple[ErrorCode, int]]]:
    """(retryable, permanent): ``counts`` (code → rows) explained and split, most rows first."""
    retryable, permanent = [], []
    for code, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        explained = explain(code)
        (retryable if explained.retryable else permanent).append((explained, n))
    return retryable, permanent
