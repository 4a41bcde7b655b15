"""``manage.py importrecipients FILE --name NAME --consent-basis BASIS [mapping options]``: import a
recipient file as a new list, with the mapping step's choices as options.

    manage.py importrecipients crm.csv --name "Autumn" --consent-basis customer \\
        --column Username=username --column Mobile=phone --identity-order phone,username,user_id \\
        --region US --encoding cp1252 --default-time-zone America/Chicago

Without column options the roles are guessed from the headers, or taken from the last list whose
file had the same header row (``--fresh`` guesses anyway; ``--like LIST_ID`` starts from that
list's mapping). ``--preview`` prints the first rows as they will be read and stores nothing.
``--default-time-zone`` sets the list's default zone for send windows (an IANA name).
"""

from __future__ import annotations

import os

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.lists.columns import FIELD, ROLES, guess_roles
from campaigns.lists.file_preview import Preview, preview_file, reused_note
from campaigns.lists.formats import formats_text
from campaigns.lists.importing import forget_rows, import_recipient_list
from campaigns.lists.jobs import announce, earlier_mapping
from campaigns.lists.mapping import Mapping, MappingError
from campaigns.lists.table import ImportRefused
from campaigns.lists.zonenames import valid_zone
from campaigns.models import ConsentBasis, ImportStatus, RecipientList

DELIMITERS = {"comma": ",", ",": ",", "semicolon": ";", ";": ";", "tab": "\t", "\\t": "\t", "\t": "\t"}


# What settles each doubt (:attr:`.file_preview.Preview.doubt`) on the command line.
_DOUBT_HINTS = (("encoding is uncertain", "--encoding NAME"), ("no column is headed", "--column HEADER=ROLE"))


class Command(BaseCommand):
    help = f"Import a recipient file ({formats_text()}) as a new recipient list."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--name", help="The list's name (default: the file's name).")
        parser.add_argument("--consent-basis", choices=ConsentBasis.values, help="Why these people agreed.")
        parser.add_argument("--consent-note", default="")
        parser.add_argument("--encoding", default="", help="A codec name (default: detected), e.g. cp1252.")
        parser.add_argument("--delimiter", default="", help="comma, semicolon or tab (default: detected).")
        parser.add_argument(
            "--sheet", default="", help="A workbook's sheet, by name (default: the one holding recipients)."
        )
        parser.add_argument(
            "--header-row",
            type=int,
            default=0,
            metavar="N",
            help="The row (1-based) holding the column names, or the first row of data with "
            "--no-header (default: found below titles and empty rows).",
        )
        header = parser.add_mutually_exclusive_group()
        header.add_argument("--header", dest="header", action="store_true", default=None)
        header.add_argument("--no-header", dest="header", action="store_false", help="The first row is data.")
        parser.add_argument(
            "--column",
            action="append",
            default=[],
            metavar="HEADER=ROLE",
            help=f"A column's role, by header or 1-based number; roles: {', '.join(ROLES)}. Repeatable.",
        )
        parser.add_argument("--identity-order", default="", help="e.g. phone,username,user_id")
        parser.add_argument(
            "--region", default="", help="Default region for national phone numbers, e.g. US."
        )
        parser.add_argument(
            "--default-time-zone",
            default="",
            metavar="ZONE",
            help="The list's default time zone for send windows (IANA, e.g. Europe/Berlin), for "
            "recipients whose timezone column and phone number do not tell theirs.",
        )
        parser.add_argument("--like", type=int, help="Start from this list's saved mapping.")
        parser.add_argument(
            "--fresh", action="store_true", help="Guess the roles even if a list had these columns."
        )
        parser.add_argument(
            "--preview", action="store_true", help="Print how the file will be read; store nothing."
        )

    def handle(self, *args, **options) -> None:
        path = options["file"]
        if not os.path.isfile(path):
            raise CommandError(f"No file {path}.")
        options["default_time_zone"] = zone = options["default_time_zone"].strip()
        if zone and not valid_zone(zone):
            raise CommandError(f"“{zone}” is not a time zone: use an IANA name such as Europe/Berlin.")
        try:
            preview = self._preview(path, options)
        except (ImportRefused, MappingError) as exc:
            raise CommandError(f"The file was refused: {exc}") from None
        self._show(preview)
        if options["preview"]:
            return
        if preview.doubt:  # the encoding or the recipients' column is only a guess: say it
            hints = [h for word, h in _DOUBT_HINTS if word in preview.doubt]
            raise CommandError(f"The file was refused: {preview.doubt} ({', '.join(hints)}).")
        if not options["consent_basis"]:
            raise CommandError("Say why these people agreed to hear from you: --consent-basis.")
        self._import(path, preview, options)

    def _preview(self, path: str, options: dict) -> Preview:
        start = Mapping()
        if options["like"]:
            try:
                like = RecipientList.objects.get(pk=options["like"])
                start = Mapping.from_json(like.mapping).choices().with_(reused_from=like.name)
            except RecipientList.DoesNotExist:
                raise CommandError(f"No recipient list with id {options['like']}.") from None
        changes = {
            "encoding": options["encoding"] or start.encoding,
            "delimiter": DELIMITERS.get(options["delimiter"], options["delimiter"]) or start.delimiter,
            "sheet": options["sheet"] or start.sheet,
            "header_row": options["header_row"] or start.header_row,
            "default_region": options["region"].upper() or start.default_region,
        }
        if options["header"] is not None:
            changes["header"] = options["header"]
        if options["identity_order"]:
            changes["identity_order"] = tuple(k.strip() for k in options["identity_order"].split(","))
        if options["header_row"] < 0:
            raise CommandError("--header-row counts from 1.")
        preview = preview_file(path, start.with_(**changes))
        if not options["like"] and not options["fresh"] and not options["column"]:
            # Staff's choices only; the file's encoding, delimiter, sheet and header row are
            # detected for this file (or given by the options). The note printed says so.
            earlier = earlier_mapping(preview.mapping)
            if earlier is not None:
                preview = preview_file(path, earlier.with_(**{k: v for k, v in changes.items() if v}))
        if options["column"]:
            roles = _roles_given(preview, options["column"])
            preview = preview_file(path, preview.mapping.with_(roles=tuple(roles)))
        return preview

    def _show(self, preview: Preview) -> None:
        mapping = preview.mapping
        read = f"{preview.file_format.upper()}"
        if mapping.encoding:
            read += f", encoding {mapping.encoding}, delimiter {mapping.delimiter!r}"
        if mapping.sheet:
            read += f", sheet {mapping.sheet!r} of {', '.join(repr(n) for n in preview.sheets)}"
        if mapping.header_row > 1:
            read += f", starting at row {mapping.header_row}"
        self.stdout.write(
            f"Read as {read}; about {preview.estimated_rows} row{'' if preview.estimated_rows == 1 else 's'}."
        )
        roles = ", ".join(
            f"{name or f'column {i + 1}'}={role}"
            for i, (name, role) in enumerate(zip(preview.columns, mapping.roles))
        )
        self.stdout.write(
            f"Columns: {roles}; identity order: {mapping.order_text()}; region: {mapping.default_region or '-'}."
        )
        for row in preview.rows:
            outcome = row.key or row.error
            self.stdout.write(f"  row {row.number}: {' | '.join(row.cells)}  ->  {outcome}")
        for note in preview.notes:
            if note == reused_note(preview):
                note += " Give --fresh to guess the roles instead, --region to change the region."
            self.stdout.write(f"Note: {note}")

    def _import(self, path: str, preview: Preview, options: dict) -> None:
        recipient_list = RecipientList.objects.create(
            name=options["name"] or os.path.basename(path),
            consent_basis=options["consent_basis"],
            consent_note=options["consent_note"],
            default_time_zone=options["default_time_zone"],
            import_status=ImportStatus.RUNNING,
            import_total=preview.estimated_rows,
        )
        with open(path, "rb") as stored:
            recipient_list.store_file(File(stored, name=os.path.basename(path)))
            recipient_list.save()

        def progress(rows: int) -> None:
            RecipientList.objects.filter(pk=recipient_list.pk).update(import_progress=rows)
            self.stderr.write(f"  {rows:,} rows", ending="\r")

        try:
            report = import_recipient_list(
                recipient_list, path, mapping=preview.mapping, atomic=False, progress=progress
            )
        except BaseException as exc:  # refused, failed or interrupted (Ctrl-C): nothing is kept
            forget_rows(recipient_list)
            recipient_list.file.delete(save=False)
            recipient_list.delete()
            if isinstance(exc, ImportRefused):
                raise CommandError(f"The file was refused: {exc}") from None
            raise
        announce(recipient_list.pk)  # import.finished, for webhook subscribers
        if report.recognised:
            self.stdout.write(f"Recognised: {report.recognised} (its columns mapped as such an export's).")
        self.stdout.write(f"{recipient_list.summary()} (list id {recipient_list.pk})")
        if report.problems:
            self.stdout.write("First problems:")
            for problem in report.problems[:20]:
                self.stdout.write(
                    f"  row {problem['row']}: {problem['value'] or '(empty)'}: {problem['error']}"
                )


def _roles_given(preview: Preview, specs: list[str]) -> list[str]:
    """The roles ``--column HEADER=ROLE`` options give. Columns they do not name keep the roles
    guessed from their headers; when no header named an identity (no header row, or a title
    taken for one), they are personalisation fields, so only the columns named are identities."""
    headers = list(preview.columns) if preview.mapping.header is not False else []
    guessed = bool(headers) and guess_roles(headers) is not None
    roles = list(preview.mapping.roles) if guessed else [FIELD] * len(preview.columns)
    for spec in specs:
        column, _, role = spec.rpartition("=")
        index = _column(preview.columns, column)
        if role not in ROLES:
            raise CommandError(f"Unknown role {role!r}; roles: {', '.join(ROLES)}.")
        roles[index] = role
    return roles


def _column(columns: list[str], column: str) -> int:
    """The index of ``column``: a 1-based number or a header (case-insensitive)."""
    if column.isdigit() and 1 <= int(column) <= len(columns):
        return int(column) - 1
    for i, name in enumerate(columns):
        if name.lower() == column.strip().lower():
            return i
    raise CommandError(f"No column {column!r}; the columns are {', '.join(repr(c) for c in columns)}.")
