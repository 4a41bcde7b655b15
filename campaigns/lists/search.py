"""Searching recipients and results as staff write what they look for: the start of a phone
number (national ``07700`` in a list's or a row's region, or international ``+1 (415)``) or of a
name (``müller`` finds ``Müller``, ``Muller`` too), through indexes only — never a
``LIKE '%…%'`` scan, which reads every row of a million-row list.

Names are kept folded (:func:`fold`: case and accents removed) in ``Recipient.name_key`` (given
name then family name, or the full name) and ``Recipient.surname_key`` (the family name, or the
full name's last word), each with a prefix index (``varchar_pattern_ops`` on PostgreSQL). A phone
prefix is turned into the prefixes of the E.164 keys it can start (:func:`phone_prefixes`), which
``Recipient.key``'s and ``RecipientIdentity.key``'s indexes find.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import phonenumbers
from django.db.models import Q

NAME_KEY_MAX = 100  # Recipient.name_key / surname_key
SEARCH_IDS_MAX = 1000  # recipients a results search looks up by name at most
_PUNCTUATION = re.compile(r"[\s().\-/]")


def fold(text: str) -> str:
    """``text`` for prefix search: case and accents removed, spaces collapsed (``Jürgen  Groß`` →
    ``jurgen gross``)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


def name_keys(fields: Mapping[str, Any]) -> tuple[str, str]:
    """(name_key, surname_key) of a row's fields: its ``first_name`` and ``last_name``, else its
    ``full_name`` (the last word as the family name); ("", "") for a row without names."""
    first = str(fields.get("first_name") or "")
    last = str(fields.get("last_name") or "")
    if not (first or last):
        full = fold(str(fields.get("full_name") or ""))
        words = full.split()
        return full[:NAME_KEY_MAX], (words[-1] if len(words) > 1 else "")[:NAME_KEY_MAX]
    return fold(f"{first} {last}")[:NAME_KEY_MAX], fold(last)[:NAME_KEY_MAX]


def phone_prefixes(term: str, regions: Iterable[str]) -> list[str]:
    """The prefixes of E.164 keys ``term`` can be the start of: ``+1 (415)`` → ["+1415"];
    ``0044 20`` → ["+4420"]; national ``07700`` → its form in each of ``regions`` that writes a
    trunk prefix ("+447700" in GB); bare digits also as an international number without its
    ``+``. [] when ``term`` is not the start of a phone number (letters, too few digits)."""
    compact = _PUNCTUATION.sub("", term.strip())
    if compact.startswith("+"):
        digits, international = compact[1:], True
    elif compact.startswith("00"):
        digits, international = compact[2:], True
    else:
        digits, international = compact, False
    if not digits.isascii() or not digits.isdigit() or len(digits) < 2:
        return []
    if international:
        return ["+" + digits]
    found = {"+" + digits} if digits[0] != "0" else set()
    for region in regions:
        code = phonenumbers.country_code_for_region(region)
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        trunk = (metadata.national_prefix or "") if metadata else ""
        if not code:
            continue
        if trunk and digits.startswith(trunk) and len(digits) > len(trunk):
            found.add(f"+{code}{digits[len(trunk) :]}")
        elif not trunk or code == 1:
            found.add(f"+{code}{digits}")
    return sorted(found)


def search_regions(list_ids: Iterable[int] | None = None) -> list[str]:
    """The regions national numbers were read in: the lists' default regions and the countries
    their rows named (kept in each list's report); of the lists ``list_ids`` only, when given."""
    from ..models import RecipientList

    lists = RecipientList.objects.all() if list_ids is None else RecipientList.objects.filter(pk__in=list_ids)
    regions: set[str] = set()
    for default, report in lists.values_list("default_region", "report"):
        if default:
            regions.add(default)
        regions.update((report or {}).get("regions", ()))
    return sorted(r for r in regions if r in phonenumbers.SUPPORTED_REGIONS)


def recipient_filter(term: str, *, prefix: str = "", regions: Iterable[str] | None = None) -> Q | None:
    """A filter of recipients (``prefix``: the path to ``Recipient`` from the model searched, as
    ``"recipient__"``) whose key or other identity starts with the phone ``term`` (national
    numbers read in ``regions``, default :func:`search_regions`) or whose name starts with the
    name ``term``; None for an empty term. Index look-ups only; an other-identity join may repeat
    a row (use ``distinct()``)."""
    term = term.strip()
    if not term:
        return None
    wanted = Q()
    for start in phone_prefixes(term, search_regions() if regions is None else regions):
        wanted |= Q(**{f"{prefix}key__startswith": start})
        wanted |= Q(**{f"{prefix}other_identities__key__startswith": start})
    name = fold(term)
    if name and not name.startswith(("+", "@")) and not name[0].isdigit():
        wanted |= Q(**{f"{prefix}name_key__startswith": name[:NAME_KEY_MAX]})
        wanted |= Q(**{f"{prefix}surname_key__startswith": name[:NAME_KEY_MAX]})
    return wanted or None


def result_filter(term: str) -> Q | None:
    """A filter of message results found by :func:`recipient_filter`'s phone prefixes (on the
    result's own key, through its index) and names (the recipients first, at most
    :data:`SEARCH_IDS_MAX`, then their results); None when ``term`` is neither."""
    from ..models import Recipient

    term = term.strip()
    if not term:
        return None
    wanted = Q()
    for start in phone_prefixes(term, search_regions()):
        wanted |= Q(key__gte=start, key__lt=start + "\uffff")
    name = fold(term)
    if name and not name.startswith(("+", "@")) and not name[0].isdigit():
        named = Q(name_key__startswith=name) | Q(surname_key__startswith=name)
        ids = list(Recipient.objects.filter(named).values_list("pk", flat=True)[:SEARCH_IDS_MAX])
        if ids:
            wanted |= Q(recipient_id__in=ids)
    return wanted or None


def search_recipients(queryset, term: str):
    """``queryset`` of recipients narrowed to those ``term`` finds: the key as staff wrote it
    (normalised like a list value: ``t.me/Alice_W`` → ``@alice_w``) or its start, the line as
    written in the file, and :func:`recipient_filter`'s phone and name prefixes. Distinct rows
    (an other-identity join may repeat one)."""
    from .normalise import normalise

    term = term.strip()
    if not term:
        return queryset
    wanted = Q(key=term) | Q(key__startswith=term) | Q(raw_value=term)
    normalised = normalise(term)
    if normalised.key:
        wanted |= Q(key=normalised.key) | Q(other_identities__key=normalised.key)
    if term[:1].isalpha():  # a username written without its @
        wanted |= Q(key__startswith="@" + term.lower())
    also = recipient_filter(term)
    return queryset.filter(wanted | also if also else wanted).distinct()
