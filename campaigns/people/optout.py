"""Opt-out replies: a private "STOP" to any sending account becomes a :class:`Suppression`.

:func:`opt_out_keys` decides (pure); :func:`handle_incoming` records. The listener that feeds
them (and the replies and read marks) is :mod:`campaigns.engine.listener`. Suppressions are
honoured at launch and again right before each send.
"""

from __future__ import annotations

import logging

from tgcampaigns import conf

from ..models import Suppression

log = logging.getLogger(__name__)

# Punctuation people add to a one-word reply ("Stop!", "stop.") and the slash of a bot command.
_STRIP = " \t\r\n.!?,;:'\"«»/"


def opt_out_keywords() -> set[str]:
    """``TGC_OPT_OUT_KEYWORDS`` case-folded (read at call time)."""
    return {k.strip().casefold() for k in conf.opt_out_keywords() if k.strip()}


def opt_out_keys(sender_id: int | None, sender_username: str | None, text: str) -> list[str]:
    """The recipient keys a private reply opts out, or [] when it is not an opt-out keyword.

    A reply opts out when, trimmed of whitespace and surrounding punctuation and case-folded, it
    equals a keyword (``STOP``, ``UNSUBSCRIBE``, ``СТОП``, ``/stop``). Keys are normalised like
    recipient keys: ``@username`` lower-cased (when the sender has one) and the decimal user id.
    """
    if (text or "").strip(_STRIP).casefold() not in opt_out_keywords():
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
