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
from . import opt_out_words

log = logging.getLogger(__name__)


def words(text: str) -> tuple[str, ...]:
    """``text``'s words as a reader sees them: full-width letters as ASCII (NFKC), invisible
    format characters (zero-width, bidi marks) gone, case-folded, the accents of Latin, Greek and
    Cyrillic letters dropped (``Arrêt`` and ``arret`` are one word), split at anything but a
    letter, a digit or a mark joined to one (Devanagari's vowel signs stay in their word; an
    emoji's variation selector is no mark of a word):
    ``STOP!!``, ``«Стоп»`` and ``🛑 stop`` are ``stop``; ``don't`` is ``don`` ``t``."""
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(c for c in text if unicodedata.category(c) != "Cf").casefold()
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not "\u0300" <= c <= "\u036f")
    found: list[str] = []
    word: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        kind = unicodedata.category(char)[0]
        # A mark belongs to the letter before it; an emoji's variation selector to no word.
        if kind in "LN" or (kind == "M" and word and not "\ufe00" <= char <= "\ufe0f"):
            word.append(char)
        elif word:
            found.append("".join(word))
            word = []
    if word:
        found.append("".join(word))
    return tuple(found)


def _phrases(texts: list[str]) -> set[tuple[str, ...]]:
    return {said for text in texts if (said := words(text))}


def opt_out_phrases() -> tuple[set[tuple[str, ...]], set[tuple[str, ...]]]:
    """(phrases that opt out anywhere in a reply, replies that opt out as a whole), each as
    :func:`words` reads it: :mod:`.opt_out_words` and ``TGC_OPT_OUT_KEYWORDS`` (read at call
    time, added to the built-in words: no setting makes "stop" mean anything else)."""
    anywhere = [p for phrases in opt_out_words.ANYWHERE.values() for p in phrases]
    whole = [p for phrases in opt_out_words.WHOLE_REPLY.values() for p in phrases]
    return _phrases([*anywhere, *conf.opt_out_keywords()]), _phrases(whole)


def is_opt_out(text: str) -> bool:
    """Whether a private reply asks not to be messaged again (the rule: docs/design.md "Opt-out
    replies"): its words (:func:`words`) hold an opt-out phrase as whole words anywhere ("please
    stop", "STOP!!", "unsubscribe me", "Stopp bitte", "no more messages"), or the whole reply is a
    word that only alone means so ("END", "Cancel"). Negations are not parsed: "don't stop" opts
    out too, since messaging a person who asked to stop is the worse mistake."""
    said = words(text)
    if not said:
        return False
    anywhere, whole = opt_out_phrases()
    if said in whole or said in anywhere:
        return True
    longest = max(map(len, anywhere), default=0)
    for start in range(len(said)):
        for length in range(1, min(longest, len(said) - start) + 1):
            if said[start : start + length] in anywhere:
                return True
    return False


def opt_out_keys(sender_id: int | None, sender_username: str | None, text: str) -> list[str]:
    """The recipient keys a private reply opts out (:func:`is_opt_out`), or [] when it does not.

    Keys are normalised like recipient keys: ``@username`` lower-cased (when the sender has one)
    and the decimal user id.
    """
    if not is_opt_out(text):
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
