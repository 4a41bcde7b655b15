"""Blanking a person's identities in stored free text, whatever the spelling (issue 19.13).

An erasure knows a person by normalised keys (``+4915112345678``, ``@alice_user``, ``5550001``);
free text names them as people typed it or as a URL stored it: ``+49 151 1234 5678``,
``0151 12345678``, ``0049-151-…``, ``q=%2B4915112345678``, ``@Alice_User``, ``t.me/alice_user``,
``%40alice_user``. :func:`identity_patterns` turns keys into patterns that find every such
spelling (a phone by its national number, with any separators and any international or trunk
prefix; an @name in any case, bounded so ``@alice_user2`` is somebody else; a user id as a whole
number), and :func:`redact_stored_texts` rewrites the text fields of the models that keep such
strings, found through the app registry (Django's admin log, the audit trail wherever its app
lives, a session's last error, a campaign's status reason).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from django.apps import apps
from django.db import models
from django.db.models import Q

ERASED = "(erased)"
# Between the digits of a phone number as people and URLs write it: spaces, dots, dashes,
# slashes, brackets, a '+' or '%20' for a space in a query string.
_SEP = r"(?:%20|%2d|[ ./()+-])*"


@dataclass(frozen=True)
class IdentityPattern:
    """``search``: a regular expression for the database's ``iregex`` (no lookaround: it narrows
    the rows); ``exact``: the Python pattern that finds the spellings, bounded."""

    search: str
    exact: re.Pattern


def identity_patterns(keys: set[str]) -> list[IdentityPattern]:
    """A pattern per normalised recipient key: ``+`` phone, ``@`` username, digits user id."""
    found = []
    for key in sorted(keys):
        if key.startswith("+"):
            found += _phone(key)
        elif key.startswith("@") and len(key) > 1:
            name = re.escape(key[1:])
            found.append(
                IdentityPattern(name, re.compile(rf"(?<![a-z0-9_])(?:@|%40)?{name}(?![a-z0-9_])", re.I))
            )
        elif key.isdigit():
            found.append(IdentityPattern(key, re.compile(rf"(?<!\d){key}(?!\d)")))
    return found


def _phone(key: str) -> list[IdentityPattern]:
    """A phone key found by its national significant number, with separators, after an optional
    ``+``/``%2B``/``00`` and country code, or a trunk ``0``."""
    try:
        number = phonenumbers.parse(key)
    except phonenumbers.NumberParseException:
        digits = key.lstrip("+")
        return [IdentityPattern(digits, re.compile(rf"(?<!\d){digits}(?!\d)"))]
    national = _SEP.join(str(phonenumbers.national_significant_number(number)))
    country = _SEP.join(str(number.country_code))
    prefix = rf"(?:(?:\+|%2b|00){_SEP}{country}{_SEP}|\(?0\)?{_SEP})?"
    return [IdentityPattern(national, re.compile(rf"(?<![\d]){prefix}{national}(?!\d)", re.I))]


def redact(text: str, patterns: list[IdentityPattern]) -> str:
    """``text`` with every spelling of the identities replaced by :data:`ERASED`."""
    for pattern in patterns:
        text = pattern.exact.sub(ERASED, text)
    return text


def _text_fields(model: type[models.Model], names: tuple[str, ...] | None) -> list[models.Field]:
    """The named fields of ``model``, or all its free-text ones (char/text without choices; not
    ``object_id`` and the like, which point at a row: a user id key must not blank a link)."""
    fields = [
        f
        for f in model._meta.get_fields()
        if isinstance(f, (models.CharField, models.TextField))
        and not f.choices
        and f.concrete
        and not f.name.endswith("_id")
    ]
    return [f for f in fields if names is None or f.name in names]


def _models_naming_people() -> list[tuple[type[models.Model], tuple[str, ...] | None]]:
    """(model, text fields or None for all free text) of the models whose strings may name a
    person, looked up by app label and name so a model that moved app is still found."""
    wanted = [
        ("LogEntry", ("object_repr", "change_message")),  # django.contrib.admin's log
        ("AuditEvent", None),  # the audit trail: messages, object names, stored paths
        ("TelegramSession", ("last_error_text",)),
        ("Campaign", ("status_reason",)),
    ]
    by_name = {m.__name__: m for m in apps.get_models()}
    return [(by_name[name], fields) for name, fields in wanted if name in by_name]


def redact_stored_texts(keys: set[str]) -> int:
    """Rewrite every stored string of :func:`_models_naming_people` that names one of ``keys``;
    returns how many rows changed. Rows are narrowed in the database (``iregex``), then each
    text rewritten in Python; a value is cut to its field's ``max_length``."""
    patterns = identity_patterns(keys)
    changed = 0
    for model, names in _models_naming_people() if patterns else []:
        fields = _text_fields(model, names)
        narrowed = Q()
        for field in fields:
            for pattern in patterns:
                narrowed |= Q(**{f"{field.name}__iregex": pattern.search})
        for row in model._default_manager.filter(narrowed).iterator():
            update = {}
            for field in fields:
                value = getattr(row, field.name) or ""
                new = redact(value, patterns)[: field.max_length or None]
                if new != value:
                    update[field.name] = new
            if update:
                model._default_manager.filter(pk=row.pk).update(**update)
                changed += 1
    return changed
