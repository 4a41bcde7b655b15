"""How a recipient file is read: the mapping step's choices, kept on the list.

A :class:`Mapping` says which encoding, delimiter, sheet and header row to read, whether that
row is a header, each column's role (:mod:`.columns`), the identity order and the default region.
Empty values mean "detect" (encoding, delimiter, sheet, header row, header) or "guess from the
headers" (roles). After an import the list keeps the mapping as it was applied (detected values
filled in), and the next upload whose header row is the same starts from staff's choices in it
(:meth:`Mapping.choices`): re-importing the same CRM export needs no clicks, while how the file
is read is detected again for each file.

The identity order decides which identity of a row becomes its key when it fills several
identity columns: by default a username, then a phone, then a user id (:data:`IDENTITY_ORDER`).
Usernames come first because every kind of session can reach them; phones need a user account
(contacts.importContacts), and a bare user id reaches only people the session has met (bots:
people who started them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from .columns import IDENTITY_ROLES, ROLES
from .normalise import KINDS, PHONE, USER_ID, USERNAME

IDENTITY_ORDER = (USERNAME, PHONE, USER_ID)
KIND_LABELS = {USERNAME: "username", PHONE: "phone", USER_ID: "user id"}


class MappingError(ValueError):
    """A mapping that cannot be applied; ``str(exc)`` is for staff."""


@dataclass(frozen=True)
class Mapping:
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""
    header_row: int = 0  # the 1-based row the header (or the data) starts at; 0: found per file
    header: bool | None = None
    roles: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()  # the header row ``roles`` were chosen for
    identity_order: tuple[str, ...] = IDENTITY_ORDER
    default_region: str = ""
    reused_from: str = ""  # the list whose choices this mapping started from (said to staff)

    def __post_init__(self) -> None:
        if sorted(self.identity_order) != sorted(KINDS):
            raise MappingError("the identity order must name username, phone and user id once each")
        unknown = [r for r in self.roles if r not in ROLES]
        if unknown:
            raise MappingError(f"unknown column role {unknown[0]!r}")

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Mapping:
        """The inverse of :meth:`as_json`; unknown keys are ignored, a bad value is a
        :class:`MappingError`."""
        data = dict(data or {})
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for name in ("roles", "headers", "identity_order"):
            if name in known:
                known[name] = tuple(known[name] or ())
        if not known.get("identity_order"):
            known.pop("identity_order", None)
        return cls(**known)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("roles", "headers", "identity_order"):
            data[name] = list(data[name])
        return data

    def with_(self, **changes: Any) -> Mapping:
        return replace(self, **changes)

    def choices(self) -> Mapping:
        """Staff's choices only (roles, identity order, region …), without anything about the
        file it was applied to (encoding, delimiter, sheet, header row): what a later upload with
        the same header row reuses."""
        return replace(self, encoding="", delimiter="", sheet="", header_row=0, header=None, reused_from="")

    def identity_columns(self) -> list[int]:
        return [i for i, role in enumerate(self.roles) if role in IDENTITY_ROLES]

    def order_text(self) -> str:
        return ", then ".join(KIND_LABELS[k] for k in self.identity_order)
