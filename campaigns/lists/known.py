"""Contact exports recognised by their header row, mapped without clicks ("Recognised: Google
Contacts export").

Each :class:`KnownExport` names the export, the headers that identify it (all of them present,
compared squashed: :func:`.vocabulary.squash`) and the roles of its own columns where the general
guess would be wrong (Shopify's ``Customer ID`` is no Telegram user id; its ``Accepts SMS
Marketing`` is the consent, ``Accepts Email Marketing`` is not). Columns it does not name are
guessed as in any file. Readers of other formats (vCard, Telegram Desktop) register their own with
:func:`register`; :func:`recognise_export` is the hook that names the export from a header row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .normalise import PHONE
from .vocabulary import squash


@dataclass(frozen=True)
class KnownExport:
    """``name`` as staff read it; ``signature``: squashed headers that must all be present;
    ``roles``: squashed header → role, and ``role_of`` answers None for the others."""

    name: str
    signature: frozenset[str]
    roles: dict[str, str] = field(default_factory=dict)

    def role_of(self, squashed: str) -> str | None:
        return self.roles.get(squashed)


def _squashed(*headers: str) -> frozenset[str]:
    return frozenset(squash(h) for h in headers)


KNOWN_EXPORTS: list[KnownExport] = [
    KnownExport(
        "Google Contacts export",
        _squashed("First Name", "Last Name", "Phone 1 - Label", "Phone 1 - Value"),
        dict(labels="tags", organizationname="company", address1city="city", address1country="country"),
    ),
    KnownExport(
        "Google Contacts export (older layout)",
        _squashed("Given Name", "Family Name", "Phone 1 - Type", "Phone 1 - Value"),
        dict(
            name="full_name",
            givenname="first_name",
            familyname="last_name",
            groupmembership="tags",
            organization1name="company",
            address1city="city",
            address1country="country",
        ),
    ),
    KnownExport(
        "Outlook contacts export",
        _squashed("First Name", "Middle Name", "Last Name", "Mobile Phone", "Business Phone", "Home Phone"),
        dict(callback="ignore", telex="ignore", radiophone="ignore", pager="ignore", ttytddphone="ignore"),
    ),
    KnownExport(
        "HubSpot contacts export",
        _squashed("Record ID", "First Name", "Last Name"),
        dict(recordid="field", mobilephonenumber=PHONE, phonenumber=PHONE, countryregion="country"),
    ),
    KnownExport(
        "Shopify customers export",
        _squashed("Customer ID", "Accepts Email Marketing", "Default Address Country Code"),
        dict(
            customerid="field",
            acceptsemailmarketing="field",
            acceptssmsmarketing="consent",
            defaultaddresscountrycode="country",
            defaultaddresscity="city",
            defaultaddresscompany="company",
            tags="tags",
        ),
    ),
    KnownExport(
        "Mailchimp audience export",
        _squashed("Email Address", "MEMBER_RATING", "OPTIN_TIME", "LEID"),
        dict(cc="country", timezone="time_zone", optintime="field", leid="field", euid="field"),
    ),
]


# Exports of people who withdrew: every row is someone who must not be messaged, so the file is
# refused whatever its mapping says (header sets that must all be present → what it is, the fix).
WITHDRAWN_EXPORTS: list[tuple[frozenset[str], str]] = [
    (
        _squashed("Email Address", "UNSUB_TIME"),
        "Mailchimp's export of unsubscribed members: each of them withdrew consent. Import "
        "subscribed_members_export….csv from the same download instead",
    ),
    (
        _squashed("Email Address", "CLEAN_TIME"),
        "Mailchimp's export of cleaned members (addresses that bounced or were removed). Import "
        "subscribed_members_export….csv from the same download instead",
    ),
]


def withdrawn_export(headers: list[str]) -> str:
    """What the file is and the fix, when ``headers`` are those of an export of people who
    withdrew (:data:`WITHDRAWN_EXPORTS`); else ""."""
    present = {squash(h) for h in headers}
    return next((words for signature, words in WITHDRAWN_EXPORTS if signature <= present), "")


def register(export: KnownExport) -> None:
    """Recognise ``export`` too (a reader of another format adds its own), before the others."""
    KNOWN_EXPORTS.insert(0, export)


def recognise_export(headers: list[str]) -> KnownExport | None:
    """The known export whose signature ``headers`` carry (the most specific first), or None."""
    present = {squash(h) for h in headers}
    matches = [export for export in KNOWN_EXPORTS if export.signature <= present]
    return max(matches, key=lambda export: len(export.signature), default=None)
