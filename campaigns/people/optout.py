"""Opt-out replies: a private "STOP" to any sending account becomes a :class:`Suppression`.

:func:`opt_out_keys` decides (pure); :func:`handle_incoming` records. The listener that feeds
them (and the replies and read marks) is :mod:`campaigns.engine.listener`. Suppressions are
honoured at launch and again right before each send.
"""

from __future__ import annotations

import logging
import unicodedata

from tgcampaigns import conf

from ..models import Suppression

log = logging.getLogger(__name__)


def _as_shown(text: str) -> str:
    """``text`` as a reader sees the word: full-width letters as ASCII (NFKC), invisible format
    characters (zero-width, bidi marks) and emoji variation selectors gone, then trimmed of the
    spaces, punctuation and symbols around it ("Stop!", "/stop", "«Стоп»", "🛑 STOP 🙏"),
    case-folded."""
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(c for c in text if unicodedata.category(c) != "Cf" and not "\ufe00" <= c <= "\ufe0f")
    start, end = 0, len(text)
    while start < end and _around(text[start]):
        start += 1
    while end > start and _around(text[end - 1]):
        end -= 1
    return text[start:end].casefold()


def _around(char: str) -> bool:
    return char.isspace() or unicodedata.category(char)[0] in "PSZ"


def opt_out_keywords() -> set[str]:
    """``TGC_OPT_OUT_KEYWORDS`` as :func:`_as_shown` reads replies (read at call time)."""
    return {_as_shown(k) for k in conf.opt_out_keywords() if _as_shown(k)}


def opt_out_keys(sender_id: int | None, sender_username: str | None, text: str) -> list[str]:
    """The recipient keys a private reply opts out, or [] when it is not an opt-out keyword.

    A reply opts out when, read as it shows (:func:`_as_shown`: trimmed of whitespace and the
    punctuation and emoji around it, invisible marks gone, full-width letters as ASCII, case-folded),
    it equals a keyword (``STOP``, ``UNSUBSCRIBE``, ``СТОП``, ``/stop``, ``ＳＴＯＰ``, ``🛑 STOP``).
    Keys are normalised like recipient keys: ``@username`` lower-cased (when the sender has one)
    and the decimal user id.
    """
    if _as_shown(text) not in opt_out_keywords():
        return []
    keys = []
    if sender_username:
        keys.append("@" + sender_username.lstrip("@").lower())
    if sender_id:
        keys.append(str(sender_id))
    return keys


def handle_incoming(sender_id: int | None, sender_username: str | None, text: str) -> list[str]:
    """Record an incoming private reply's opt-out as suppressions; returns the keys suppressed.

    Idempotent: a key already suppressed (by any source) is left as it is.
    """
    keys = opt_out_keys(sender_id, sender_username, text)
    added, _ = Suppression.objects.add(keys, source=Suppression.Source.STOP_REPLY, note="Opt-out reply")
    # Personal data stays out of logs above DEBUG (docs/design.md "Personal data"): the count at INFO,
    # the identities only at DEBUG.
    if added:
        log.info("opt-out recorded (%d new suppression(s))", len(added))
        log.debug("opt-out recorded for %s", ", ".join(added))
    return keys
