"""The recipient list upload in two steps: the file (:class:`RecipientListUploadForm`), then the
mapping step (:class:`RecipientListMappingForm`): the first rows as decoded, the encoding, delimiter,
sheet and header row, one role per column, the identity order, the default region and the default
time zone. The list's page (:class:`RecipientListChangeForm`) changes its name, consent note and
default time zone. And the
suppression list's "Add many" (:class:`SuppressionBulkForm`), which reads pasted recipients the
same way.

Each form validates through the service that owns the rule (:mod:`campaigns.lists`), so the admin
shows the same reasons the import acts on.
"""

from __future__ import annotations

import codecs
from itertools import permutations

import phonenumbers
from django import forms
from django.utils.html import format_html, format_html_join

from tgcampaigns import conf

from ..lists import jobs
from ..lists.columns import IDENTITY_ROLES, ROLE_LABELS
from ..lists.entries import Entry, read_entries
from ..lists.file_preview import Preview, preview_file
from ..lists.formats import ACCEPT, CSV, WORKBOOKS, formats_text
from ..lists.limits import Limits
from ..lists.mapping import IDENTITY_ORDER, KIND_LABELS, Mapping
from ..lists.table import ImportRefused
from ..lists.zonenames import valid_zone, zone_choices
from ..models import ImportStatus, RecipientList
from .display import file_size

RECIPIENT_FILE_TYPES = ACCEPT  # the formats campaigns.lists.formats reads


TIME_ZONE_HELP = (
    "For recipients whose own timezone column and phone number do not tell their zone (usernames, "
    "user ids, numbers of a country with several zones): send windows use it. An IANA name such as "
    "Europe/Berlin (type to choose); empty for none."
)


class ZoneInput(forms.TextInput):
    """A text input offering every IANA zone this machine knows (an HTML ``<datalist>``): typing
    "Berl" finds Europe/Berlin, and any text may still be typed (the field checks it)."""

    datalist_id = "tgc-time-zones"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__({"list": self.datalist_id, "autocomplete": "off", "size": 32} | (attrs or {}))

    def render(self, name, value, attrs=None, renderer=None) -> str:
        options = format_html_join("", '<option value="{}">', ((zone,) for zone, _ in zone_choices()))
        return format_html(
            '{}<datalist id="{}">{}</datalist>',
            super().render(name, value, attrs, renderer),
            self.datalist_id,
            options,
        )


def clean_time_zone(value: str | None) -> str:
    """An IANA zone this machine knows, stripped, or ""; else a ValidationError."""
    zone = (value or "").strip()
    if zone and not valid_zone(zone):
        raise forms.ValidationError(
            f"“{zone[:64]}” is not a time zone: use an IANA name such as Europe/Berlin or Asia/Tokyo."
        )
    return zone


def time_zone_field() -> forms.CharField:
    return forms.CharField(
        max_length=64, required=False, label="Default time zone", help_text=TIME_ZONE_HELP, widget=ZoneInput
    )


class RecipientListChangeForm(forms.ModelForm):
    """The list's page: its name, consent note and default time zone (the recipients are the
    file's and do not change)."""

    default_time_zone = time_zone_field()

    class Meta:
        model = RecipientList
        fields = ["name", "consent_note", "default_time_zone"]

    def clean_default_time_zone(self) -> str:
        return clean_time_zone(self.cleaned_data["default_time_zone"])


class RecipientListUploadForm(forms.ModelForm):
    """Step 1 of an upload: the file with its name and consent basis. :meth:`stage` stores the
    file and reads its first rows; a file that cannot be a recipient list is refused here, with
    nothing stored. Step 2 (:class:`RecipientListMappingForm`) says how to read it."""

    file = forms.FileField(
        allow_empty_file=True,  # the importer refuses it, with the same words as everywhere else
        help_text=f"{formats_text()} (CSV comma, semicolon or tab separated), as exported from "
        "your spreadsheet, CRM, phone or Telegram Desktop. Next you will see its first rows and say "
        "what each column holds.",
        widget=forms.ClearableFileInput(attrs={"accept": RECIPIENT_FILE_TYPES}),
    )

    class Meta:
        model = RecipientList
        fields = ["name", "file", "consent_basis", "consent_note"]
        help_texts = {
            "consent_basis": "Why these people agreed to hear from you. We only message people who did.",
        }

    def __init__(self, *args, upload_refused: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.upload_refused = upload_refused
        limit = Limits.from_settings().max_bytes
        self.fields["file"].widget.attrs["data-max-bytes"] = str(limit)
        self.fields["file"].help_text += f" At most {file_size(limit)}."
        if upload_refused:
            self.fields["file"].required = False

    def clean_file(self):
        if self.upload_refused:
            raise forms.ValidationError(self.upload_refused)
        return self.cleaned_data["file"]

    def stage(self, user) -> RecipientList:
        """Store the file and create the list, waiting for its mapping (``import_status``
        ``mapping``), the mapping guessed from the headers or taken from the last list whose
        file had the same header row. Raises ``ImportRefused``; then nothing is kept."""
        recipient_list = self.save(commit=False)
        recipient_list.created_by = user
        recipient_list.import_status = ImportStatus.MAPPING
        upload = self.cleaned_data["file"]
        # Stored first, explicitly, so the name to delete is the one the storage chose.
        recipient_list.store_file(upload)
        try:
            start = Mapping(default_region=default_region())
            preview = preview_file(recipient_list.file, start)
            earlier = jobs.earlier_mapping(preview.mapping)
            if earlier is not None:
                try:
                    preview = preview_file(recipient_list.file, earlier)
                except ImportRefused:
                    pass  # read as guessed
            # A guessed recipients' column or encoding is stored unchosen: the mapping step says so.
            chosen = (
                preview.mapping.with_(roles=(), headers=(), encoding="") if preview.doubt else preview.mapping
            )
            recipient_list.mapping = chosen.as_json()
            recipient_list.import_total = preview.estimated_rows
            recipient_list.save()
        except BaseException:
            recipient_list.file.close()
            recipient_list.file.storage.delete(recipient_list.file.name)
            raise
        return recipient_list


def default_region() -> str:
    """``TGC_DEFAULT_REGION``, read at call time."""
    return conf.default_region().strip().upper()


_ENCODINGS = [
    ("utf-8", "UTF-8"),
    ("utf-8-sig", "UTF-8 with BOM"),
    ("utf-16", "UTF-16 (Excel “Unicode Text”)"),
    ("cp1252", "Windows-1252 (Western Europe, Americas)"),
    ("cp1250", "Windows-1250 (Central Europe)"),
    ("cp1251", "Windows-1251 (Cyrillic)"),
    ("cp1253", "Windows-1253 (Greek)"),
    ("cp1254", "Windows-1254 (Turkish)"),
    ("cp1255", "Windows-1255 (Hebrew)"),
    ("cp1256", "Windows-1256 (Arabic)"),
    ("cp1257", "Windows-1257 (Baltic)"),
    ("iso8859-15", "ISO-8859-15 (Latin-9)"),
    ("latin-1", "ISO-8859-1 (Latin-1)"),
    ("koi8-r", "KOI8-R (Russian)"),
    ("cp866", "DOS Cyrillic (866)"),
    ("mac-roman", "Mac Roman"),
    ("iso8859-2", "ISO-8859-2 (Latin-2)"),
    ("cp1258", "Windows-1258 (Vietnamese)"),
    ("koi8-u", "KOI8-U (Ukrainian)"),
    ("gb18030", "GB18030 (Chinese)"),
    ("gbk", "GBK (Simplified Chinese)"),
    ("gb2312", "GB2312 (Simplified Chinese)"),
    ("big5", "Big5 (Traditional Chinese)"),
    ("big5hkscs", "Big5-HKSCS (Hong Kong)"),
    ("cp950", "Windows-950 (Traditional Chinese)"),
    ("shift_jis", "Shift JIS (Japanese)"),
    ("cp932", "Windows-932 (Japanese Shift JIS, Windows)"),
    ("shift_jis_2004", "Shift JIS 2004 (Japanese)"),
    ("euc_jp", "EUC-JP (Japanese)"),
    ("euc_jis_2004", "EUC-JIS-2004 (Japanese)"),
    ("iso2022_jp", "ISO-2022-JP (Japanese mail)"),
    ("euc-kr", "EUC-KR (Korean)"),
    ("cp949", "Windows-949 (Korean)"),
    ("johab", "Johab (Korean)"),
    ("cp874", "Windows-874 (Thai)"),
]


def _encoding_label(codec: str, label: str) -> str:
    """An encoding's choice as people and the pages name it: "Windows-1254 (Turkish) · cp1254".
    The codec's name is what the mapping step's notes, the list's page and ``--encoding`` use."""
    return label if codec.lower() in label.lower() else f"{label} · {codec}"


# (codec name as ``codecs.lookup`` gives it, its label).
ENCODING_CHOICES = [
    (codecs.lookup(name).name, _encoding_label(codecs.lookup(name).name, label)) for name, label in _ENCODINGS
]
DELIMITER_CHOICES = [(",", "Comma ,"), (";", "Semicolon ;"), ("\t", "Tab")]
ORDER_CHOICES = [
    (",".join(order), ", then ".join(KIND_LABELS[k] for k in order)) for order in permutations(IDENTITY_ORDER)
]


class RecipientListMappingForm(forms.Form):
    """Step 2 of an upload, the mapping step: how to read the file (encoding, delimiter, sheet,
    header row), one role per column (``role_0`` …), the identity order, the default region and
    the list's default time zone (``default_time_zone``: kept on the list, not in the mapping).
    ``preview`` is the file as read with the current mapping; its columns give the role fields."""

    encoding = forms.ChoiceField(choices=ENCODING_CHOICES, required=False)
    delimiter = forms.ChoiceField(choices=DELIMITER_CHOICES, required=False)
    sheet = forms.ChoiceField(choices=(), required=False)
    header_row = forms.IntegerField(
        min_value=1,
        required=False,
        label="Header row",
        help_text="The row holding the column names (found below titles and empty rows; empty: find it).",
    )
    header = forms.BooleanField(required=False, label="The first row holds the column names")
    identity_order = forms.ChoiceField(
        choices=ORDER_CHOICES,
        help_text="When a row fills several identity columns, the first of these becomes its key; "
        "the others are kept for de-duplication and opt-outs.",
    )
    default_region = forms.CharField(
        max_length=2,
        required=False,
        label="Default region",
        help_text="Country (ISO code such as DE, US) of phone numbers written without +country code.",
    )
    default_time_zone = time_zone_field()

    def __init__(
        self, *args, preview: Preview, columns: int | None = None, default_time_zone: str = "", **kwargs
    ) -> None:
        mapping = preview.mapping
        kwargs.setdefault(
            "initial",
            {
                "encoding": mapping.encoding,
                "delimiter": mapping.delimiter,
                "sheet": mapping.sheet,
                "header_row": mapping.header_row or None,
                "header": mapping.header is not False,
                "identity_order": ",".join(mapping.identity_order),
                "default_region": mapping.default_region,
                "default_time_zone": default_time_zone,
                **{f"role_{i}": role for i, role in enumerate(mapping.roles)},
            },
        )
        super().__init__(*args, **kwargs)
        self.preview = preview
        if preview.file_format == "csv":
            choices = list(ENCODING_CHOICES)
            if mapping.encoding and mapping.encoding not in dict(choices):
                choices.insert(0, (mapping.encoding, mapping.encoding))
            self.fields["encoding"].choices = choices
            label = dict(choices).get(mapping.encoding, mapping.encoding)
            self.fields["encoding"].help_text = (
                f"Only a guess: {label} (see the note above). Choose the one that reads the names right."
                if preview.encoding_doubt
                else f"Detected: {label}."
            )
            del self.fields["sheet"]
        else:
            del self.fields["encoding"], self.fields["delimiter"]
            self.fields["sheet"].choices = [(name, name) for name in preview.sheets]
            if len(preview.sheets) < 2:
                del self.fields["sheet"]
        if preview.file_format not in (CSV, *WORKBOOKS):  # a vCard or JSON export has no header row
            del self.fields["header_row"], self.fields["header"]
        for i in range(len(preview.columns) if columns is None else columns):
            self.fields[f"role_{i}"] = forms.ChoiceField(choices=list(ROLE_LABELS.items()), label="")

    def role_fields(self) -> list:
        return [self[name] for name in self.fields if name.startswith("role_")]

    def shown_table(self) -> dict:
        """The preview table in the order the page shows its columns
        (:meth:`~campaigns.lists.file_preview.Preview.column_order`: the deciding ones first):
        ``columns`` as (role field, name), ``rows`` as (row, its cells)."""
        roles = self.role_fields()
        names = self.preview.columns
        order = [i for i in self.preview.column_order() if i < len(roles)] + list(
            range(len(names), len(roles))
        )
        return {
            "columns": [(roles[i], names[i] if i < len(names) else "") for i in order],
            "rows": [
                (row, [row.cells[i] if i < len(row.cells) else "" for i in order])
                for row in self.preview.rows
            ],
        }

    def clean_default_region(self) -> str:
        return clean_region(self.cleaned_data["default_region"])

    def clean_default_time_zone(self) -> str:
        return clean_time_zone(self.cleaned_data["default_time_zone"])

    def mapping(self) -> Mapping:
        """The mapping the (valid) form says; the columns' headers are the preview's, so a change of
        encoding, delimiter or sheet that gives other columns has their roles guessed again."""
        data = self.cleaned_data
        roles = tuple(data[name] for name in self.fields if name.startswith("role_"))
        sheet = data.get("sheet") or self.preview.mapping.sheet
        header_row = data.get("header_row") or 0
        if sheet != self.preview.mapping.sheet and header_row == self.preview.mapping.header_row:
            header_row = 0  # another sheet: its own header row is found, unless one was typed
        return self.preview.mapping.with_(
            encoding=data.get("encoding") or "",
            delimiter=data.get("delimiter") or "",
            sheet=sheet,
            header_row=header_row,
            header=bool(data.get("header")) if "header" in self.fields else self.preview.mapping.header,
            roles=roles,
            identity_order=tuple(data["identity_order"].split(",")),
            default_region=data["default_region"],
        )


def clean_region(value: str) -> str:
    """A two-letter region phonenumbers knows, upper-cased, or ""; else a ValidationError."""
    region = (value or "").strip().upper()
    if region and region not in phonenumbers.SUPPORTED_REGIONS:
        raise forms.ValidationError("Use a two-letter country code such as DE or US.")
    return region


class SuppressionBulkForm(forms.Form):
    """Many opt-outs at once, read like a recipient file's column: one per line (``;``, tabs and
    commas also separate), with the same default region, reading and spreadsheet repairs, so a
    phone is suppressed under the key its list gives it."""

    keys = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "cols": 60}),
        help_text="One recipient per line: @username, t.me link, phone or user id.",
    )
    reading = forms.ChoiceField(
        choices=[(role, ROLE_LABELS[role]) for role in IDENTITY_ROLES],
        required=False,
        label="The entries are",
        help_text="How bare digits and words are read, as for a column of an uploaded list.",
    )
    default_region = forms.CharField(
        max_length=2,
        required=False,
        label="Default region",
        help_text="Country (ISO code such as DE, US) of phone numbers written without +country code.",
    )
    note = forms.CharField(max_length=300, required=False)

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("initial", {"default_region": default_region()})
        super().__init__(*args, **kwargs)

    def clean_default_region(self) -> str:
        return clean_region(self.cleaned_data["default_region"])

    def entries(self) -> list[Entry]:
        """Every entry with its key or reason (valid form only)."""
        data = self.cleaned_data
        return read_entries(
            data["keys"], default_region=data["default_region"] or None, reading=data["reading"]
        )

    def clean(self) -> dict:
        data = super().clean()
        if "keys" in data and not read_entries(data["keys"]):
            self.add_error("keys", "Enter at least one recipient.")
        return data
