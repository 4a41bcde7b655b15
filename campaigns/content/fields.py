"""Which recipients lack the fields a message reads: "3 of 12 recipients have no first_name".

A missing or blank column renders empty ("Hi , …"): not an error (a recipient's data never fails
a send), but something staff should see before launch, with a default one click away
(``{{ first_name|default:"there" }}``). Variables that already have a ``|default`` at every use
are not reported: they never render empty.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import template


@dataclass(frozen=True)
class MissingField:
    """``missing`` of ``checked`` recipients have no value (or only blanks) for ``name``;
    ``sampled``: the recipients checked are a sample of a larger list."""

    name: str
    missing: int
    checked: int
    sampled: bool = False

    def sentence(self) -> str:
        """For staff: "3 of 12 recipients have no first_name"."""
        of = f"{self.missing} of {self.checked} recipients{' checked' if self.sampled else ''}"
        verb = "has" if self.missing == 1 and not self.sampled and self.checked == 1 else "have"
        return f"{of} {verb} no {self.name}: it renders empty for them"

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "missing": self.missing,
            "checked": self.checked,
            "sampled": self.sampled,
            "sentence": self.sentence(),
        }


def missing_fields(
    template_text: str,
    recipients: Iterable[Mapping[str, Any]],
    *,
    known_fields: Collection[str] | None = None,
    sampled: bool = False,
) -> list[MissingField]:
    """For each variable of ``template_text`` that renders empty for some of ``recipients``
    (their fields: header → value) and has no default at some use: how many lack it. Variables
    that are no column of ``known_fields`` (when given) are left out: those are unknown
    variables, reported by :func:`~campaigns.content.template.unknown_variables`. A template
    that does not compile has no report ([])."""
    try:
        wanted = [name for name, default in template.variable_defaults(template_text) if default is None]
    except template.MessageError:
        return []
    if known_fields is not None:
        wanted = [name for name in wanted if template.is_column(name, known_fields)]
    if not wanted:
        return []
    missing = dict.fromkeys(wanted, 0)
    checked = 0
    for fields in recipients:
        checked += 1
        context = template.fields_context(fields or {})
        for name in wanted:
            if not str(context.get(name, "")).strip():
                missing[name] += 1
    return [MissingField(name, n, checked, sampled) for name, n in missing.items() if n]


def with_default(template_text: str, name: str, default: str) -> str:
    """``template_text`` with ``|default:"<default>"`` added to every bare ``{{ name }}`` (and
    ``{{ name|filters }}`` without a default): what the composer's one-click default does, kept
    here so the page and its tests agree. Quotes in ``default`` are dropped (Django's template
    language has no escape for them)."""
    value = default.replace('"', "").replace("'", "")
    pattern = re.compile(r"\{\{\s*" + re.escape(name) + r"((?:\|[^}|]*)*)\s*\}\}")

    def add(match: re.Match) -> str:
        filters = match.group(1).rstrip()
        if re.search(r"\|\s*default\s*:", filters):
            return match.group(0)
        return "{{ " + name + filters + f'|default:"{value}"' + " }}"

    return pattern.sub(add, template_text)
