"""vCard files (``.vcf``: versions 2.1, 3.0 and 4.0, RFC 2426 and RFC 6350) as a table: one row
per contact, with columns the column guesser maps without clicks.

A small reader of our own, on the standard library's :mod:`quopri`: vobject 0.9.9 raises on a
2.1 entry whose quoted-printable name runs over several lines joined by soft breaks (``=`` at a
line's end), which phones export for every non-ASCII name. What is read:

- folded lines (a line starting with a space or tab continues the one before) are unfolded;
- ``ENCODING=QUOTED-PRINTABLE`` (or 2.1's bare ``QUOTED-PRINTABLE``) values, with their soft
  breaks, are decoded in their ``CHARSET`` (UTF-8 when none is named); ``ENCODING=b`` values
  (photos) are skipped;
- group prefixes (Apple's ``item1.TEL``) and ``X-ABLabel`` labels (``_$!<Mobile>!$_``);
- ``\\,`` ``\\;`` ``\\\\`` and ``\\n`` escapes; ``N``, ``ORG`` and ``ADR`` split on unescaped ``;``.

Columns: ``first_name`` and ``last_name`` (N's given and family names), ``full_name`` (FN),
``phone_1`` … ``phone_n`` ordered by preference (``PREF``/``pref=1`` first, then ``CELL``/mobile,
then the others in file order; the first is the row's key, the others its further identities),
``email``, ``company`` (ORG), ``city`` and ``country`` (the first ADR), ``note``, ``tags``
(CATEGORIES: a phone's contact groups). A contact with no
``TEL`` is a row reported "no phone number". Row numbers: the header is row 1, contact n is row
n + 1.
"""

from __future__ import annotations

import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from .evidence import MAX_VALUES
from .formats import as_utf8
from .table import BrokenRow, Table

NO_PHONE = "no phone number (the contact has no TEL line)"
NO_FAX = "no phone number (the contact's only numbers are fax or pager numbers, never messaged)"
NOT_CLOSED = (
    "this contact has no END:VCARD (another BEGIN:VCARD or the end of the file comes first), so "
    "its lines may be another contact's: check the file around the contact named “{name}”"
)
TOO_MANY_TEL = (
    "{count} TEL lines in one contact; one contact is one person (at most {most} numbers): "
    "split the contact into the people it holds"
)
_FAX_TYPES = {"fax", "pager"}
# Property names that start a content line: a quoted-printable soft break never swallows such a
# line (a value ending in a stray "=" would otherwise take the TEL or END:VCARD after it).
_PROPERTY_LINE = re.compile(
    rb"(?:[A-Za-z0-9-]+\.)?(?:BEGIN|END|VERSION|TEL|EMAIL|N|FN|ADR|ORG|NOTE|PHOTO|BDAY|URL|"
    rb"TITLE|UID|REV|CATEGORIES|LABEL|X-[A-Za-z0-9-]+)[;:]"
)
_LINE_BREAK = re.compile(rb"\r\n|\n|\r")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_MOBILE_LABELS = {"cell", "mobile", "iphone", "handy", "cellular"}


@dataclass
class Contact:
    """One ``BEGIN:VCARD`` … ``END:VCARD`` entry, as read."""

    first_name: str = ""
    last_name: str = ""
    full_name: str = ""
    phones: list[tuple[int, int, str, str]] = field(default_factory=list)  # (preference, order, value, group)
    email: str = ""
    company: str = ""
    city: str = ""
    country: str = ""
    note: str = ""
    tags: list[str] = field(default_factory=list)  # CATEGORIES (comma-separated in the file)
    labels: dict[str, str] = field(default_factory=dict)  # group → X-ABLabel, lower-cased
    fax: int = 0  # TEL lines typed fax or pager: never a recipient's number
    problem: str = ""  # why the contact cannot be trusted as read (no END:VCARD): a broken row


@dataclass
class _Property:
    group: str
    name: str
    params: dict[str, list[str]]
    value: str


def read_vcards(data: bytes) -> Table:
    """The contacts of the vCard file ``data`` as a :class:`Table` (module docstring). A file
    saved as UTF-16 (with its byte order mark) is read as the same text in UTF-8."""
    contacts = list(_contacts(_logical_lines(_utf8(data))))
    for contact in contacts:
        if len(contact.phones) > MAX_VALUES and not contact.problem:
            # Thousands of TEL lines would make every row that wide: the contact is reported.
            contact.problem = TOO_MANY_TEL.format(count=len(contact.phones), most=MAX_VALUES)
            contact.phones = sorted(contact.phones)[:MAX_VALUES]
    width = max((len(c.phones) for c in contacts), default=0) or 1
    header = ["first_name", "last_name", "full_name", *(f"phone_{i + 1}" for i in range(width))]
    header += ["email", "company", "city", "country", "note", "tags"]

    def rows() -> Iterator[tuple[int, list]]:
        yield 1, header
        for number, contact in enumerate(contacts, start=2):
            phones = [phone[2] for phone in sorted(contact.phones)]
            cells = [contact.first_name, contact.last_name, contact.full_name]
            cells += phones + [""] * (width - len(phones))
            cells += [contact.email, contact.company, contact.city, contact.country, contact.note]
            cells.append(", ".join(contact.tags))
            if contact.problem:
                yield number, BrokenRow(contact.problem, cells)
            else:
                yield number, cells if phones else BrokenRow(NO_FAX if contact.fax else NO_PHONE, cells)

    return Table(rows=rows(), file_format="vcard", declared_rows=len(contacts) + 1)


def _logical_lines(data: bytes) -> Iterator[bytes]:
    """The content lines of ``data``: folded lines joined, quoted-printable soft breaks joined."""
    current: bytes | None = None
    for line in _LINE_BREAK.split(data):
        if current is not None and line[:1] in (b" ", b"\t"):
            current += line[1:]
        elif (
            current is not None
            and current.endswith(b"=")
            and _quoted_printable(current)
            and not _PROPERTY_LINE.match(line)
        ):
            current = current[:-1] + line  # a soft line break
        else:
            if current:
                yield current
            current = line
    if current:
        yield current


def _utf8(data: bytes) -> bytes:
    """``data`` as UTF-8 without its byte order mark when it has one (Windows' "Unicode", a
    UTF-8 BOM before the first BEGIN:VCARD); else as it is (each value is decoded in its own
    CHARSET later)."""
    return as_utf8(data)


def _quoted_printable(line: bytes) -> bool:
    name = line.split(b":", 1)[0].upper()
    return b"QUOTED-PRINTABLE" in name


def _contacts(lines: Iterator[bytes]) -> Iterator[Contact]:
    """The file's contacts in the order they end. A BEGIN:VCARD inside an open contact starts a
    nested one (vCard 2.1's AGENT, or a missing END:VCARD): the inner contact is read on its own
    and the outer one goes on after it. A contact still open at the end of the file is reported
    (:data:`NOT_CLOSED`), never dropped."""
    open_contacts: list[Contact] = []
    for line in lines:
        prop = _parse(line)
        if prop is None:
            continue
        if prop.name == "BEGIN" and prop.value.strip().upper() == "VCARD":
            open_contacts.append(Contact())
        elif prop.name == "END" and prop.value.strip().upper() == "VCARD" and open_contacts:
            yield _labelled(open_contacts.pop())
        elif open_contacts:
            _apply(open_contacts[-1], prop)
    for contact in reversed(open_contacts):
        name = contact.full_name or " ".join(p for p in (contact.first_name, contact.last_name) if p)
        contact.problem = NOT_CLOSED.format(name=name[:60] or "without a name")
        yield _labelled(contact)


def _parse(line: bytes) -> _Property | None:
    """One content line as group, name, parameters and decoded value; None for a line that has
    no ``:`` (a stray line between entries)."""
    head, colon, raw = line.partition(b":")
    if not colon:
        return None
    parts = _split(head.decode("ascii", errors="replace"), ";")
    group, _, name = parts[0].rpartition(".")
    params: dict[str, list[str]] = {}
    for part in parts[1:]:
        key, equals, value = part.partition("=")
        if not equals:  # vCard 2.1: TEL;CELL;PREF, or a bare QUOTED-PRINTABLE / UTF-8
            key, value = _bare_parameter(key)
        values = [v.strip().strip('"').lower() for v in value.split(",")]
        params.setdefault(key.strip().upper(), []).extend(values)
    encoding = (params.get("ENCODING") or [""])[0]
    if encoding in ("b", "base64"):
        return _Property(group.lower(), name.upper(), params, "")
    if encoding == "quoted-printable":
        raw = quopri.decodestring(raw)
    return _Property(group.lower(), name.upper(), params, _decode(raw, params.get("CHARSET")))


def _bare_parameter(value: str) -> tuple[str, str]:
    upper = value.strip().upper()
    if upper in ("QUOTED-PRINTABLE", "BASE64", "8BIT", "7BIT", "B"):
        return "ENCODING", upper.lower()
    if upper in ("UTF-8", "UTF8") or upper.startswith(("ISO-8859", "WINDOWS-")):
        return "CHARSET", upper.lower()
    return "TYPE", upper.lower()


def _decode(raw: bytes, charset: list[str] | None) -> str:
    names = [*(charset or []), "utf-8", "cp1252"]
    for name in names:
        try:
            return raw.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    return raw.decode("utf-8", errors="replace")


def _split(text: str, separator: str) -> list[str]:
    """``text`` split on ``separator`` where it is not escaped with a backslash."""
    return re.split(rf"(?<!\\){re.escape(separator)}", text)


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), text).strip()


def _components(value: str) -> list[str]:
    return [_unescape(part) for part in _split(value, ";")]


def _apply(contact: Contact, prop: _Property) -> None:
    name, value = prop.name, prop.value
    if name == "N":
        parts = _components(value) + [""] * 5
        contact.last_name, contact.first_name = parts[0], parts[1]
    elif name == "FN":
        contact.full_name = _unescape(value)
    elif name == "TEL":
        number = _unescape(value)
        number = number[4:] if number.lower().startswith("tel:") else number
        types = set(prop.params.get("TYPE", [])) | {"pref" for _ in prop.params.get("PREF", [])}
        if number and types & _FAX_TYPES:
            contact.fax += 1
        elif number:
            rank = 0 if "pref" in types else 1 if types & _MOBILE_LABELS else 2
            contact.phones.append((rank, len(contact.phones), number, prop.group))
    elif name == "X-ABLABEL" and prop.group:
        contact.labels[prop.group] = _unescape(value).strip("_$!<>").lower()
    elif name == "EMAIL" and not contact.email:
        contact.email = _unescape(value)
    elif name == "ORG" and not contact.company:
        contact.company = ", ".join(p for p in _components(value) if p)
    elif name == "ADR" and not (contact.city or contact.country):
        parts = _components(value) + [""] * 7
        contact.city, contact.country = parts[3], parts[6]
    elif name == "NOTE" and not contact.note:
        contact.note = _unescape(value)
    elif name == "CATEGORIES":
        contact.tags += [_unescape(p).strip() for p in re.split(r"(?<!\\),", value) if p.strip()]


def _labelled(contact: Contact) -> Contact:
    """Apple's labels (``item1.X-ABLabel:_$!<Mobile>!$_``) make their group's TEL a mobile."""
    phones = []
    for rank, order, number, group in contact.phones:
        if rank == 2 and contact.labels.get(group, "") in _MOBILE_LABELS:
            rank = 1
        phones.append((rank, order, number, group))
    contact.phones = phones
    return contact
