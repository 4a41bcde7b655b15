"""Admin forms: recipient list upload, campaign composition, suppressions.

Each form validates through the service that owns the rule (importing, media, recipients) so the
admin shows the same reasons the engine would act on.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from ..content import media as media_service
from ..lists.importing import ImportReport, import_recipient_list
from ..lists.normalise import normalise
from ..models import Campaign, MediaType, RecipientList, Suppression

RECIPIENT_FILE_TYPES = ".csv,.txt,.tsv,.xlsx"


class RecipientListUploadForm(forms.ModelForm):
    """Upload a CSV/XLSX/TXT file with its consent basis; :meth:`import_list` creates the list and
    its recipients in one transaction, so a refused file leaves nothing behind."""

    file = forms.FileField(
        allow_empty_file=True,  # the importer refuses it, with the same words as everywhere else
        help_text="CSV (comma, semicolon or tab separated), TXT or XLSX. One recipient per row: "
        "@username, t.me link, phone or numeric user id; other columns personalise the message.",
        widget=forms.ClearableFileInput(attrs={"accept": RECIPIENT_FILE_TYPES}),
    )

    class Meta:
        model = RecipientList
        fields = [
            "name",
            "file",
            "consent_basis",
            "consent_note",
            "default_region",
            "recipient_column",
            "encoding",
        ]
        help_texts = {
            "consent_basis": "Why these people agreed to hear from you. We only message people who did.",
            "default_region": "ISO country code (e.g. DE, US) for phone numbers written without +country code.",
            "recipient_column": "Leave empty to find it by its header (recipient, telegram, username, phone…).",
            "encoding": "Leave empty to detect it (UTF-8, UTF-16, Windows-1251…).",
        }

    def clean_default_region(self) -> str:
        region = self.cleaned_data["default_region"].strip().upper()
        if region and not (len(region) == 2 and region.isalpha()):
            raise forms.ValidationError("Use a two-letter country code such as DE or US.")
        return region

    def import_list(self, user) -> tuple[RecipientList, ImportReport]:
        """Save the list and import its file. Raises ``ImportRefused`` with nothing saved: the
        transaction takes back the rows, and the stored file is deleted (it holds personal data
        that no list refers to)."""
        recipient_list = self.save(commit=False)
        recipient_list.created_by = user
        upload = self.cleaned_data["file"]
        # Stored first, explicitly, so the name to delete is the one the storage chose.
        recipient_list.file.save(upload.name, upload, save=False)
        try:
            with transaction.atomic():
                recipient_list.save()
                data = self.cleaned_data
                with recipient_list.file.open("rb") as source:
                    report = import_recipient_list(
                        recipient_list,
                        source,
                        column=data["recipient_column"] or None,
                        encoding=data["encoding"] or None,
                        default_region=data["default_region"] or None,
                    )
        except BaseException:
            recipient_list.file.storage.delete(recipient_list.file.name)
            raise
        return recipient_list, report


def _media_choices() -> list[tuple[str, str]]:
    return [("", "Detect from the file's content (or no media)")] + [c for c in MediaType.choices if c[0]]


class CampaignForm(forms.ModelForm):
    """Compose a campaign. A newly uploaded media file (or a changed media type) is checked with
    :func:`campaigns.content.media.inspect_media` against Telegram's limits; the type comes from the file's
    content unless staff choose one (e.g. Document, to send a wide image uncompressed)."""

    class Meta:
        model = Campaign
        fields = [
            "name",
            "parse_mode",
            "message",
            "media",
            "media_type",
            "lists",
            "sessions",
            "strategy",
            "delay_seconds",
            "max_attempts",
            "priority",
            "scheduled_at",
        ]
        widgets = {
            "message": forms.Textarea(attrs={"rows": 8, "cols": 80, "class": "vLargeTextField"}),
            "lists": forms.CheckboxSelectMultiple,
            "sessions": forms.CheckboxSelectMultiple,
        }
        help_texts = {
            "message": "The text, or the caption when media is attached. Personalise with the list's "
            "columns: {{ first_name|default:'there' }}, {{ city }}.",
            "media_type": "Photo, video and voice are checked against Telegram's limits.",
            "scheduled_at": "Leave empty to start on launch.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "media_type" in self.fields:
            self.fields["media_type"] = forms.ChoiceField(
                choices=_media_choices(),
                required=False,
                label="Media type",
                help_text=self.fields["media_type"].help_text,
            )
        self.media_info: dict | None = None  # None: unchanged

    def clean(self) -> dict:
        data = super().clean()
        if "media" not in self.fields:  # read-only once launched
            return data
        upload = data.get("media")
        wanted = data.get("media_type") or None
        if not upload:  # no file, or "clear" ticked
            if wanted:
                self.add_error("media", f"Choose a file to send as {MediaType(wanted).label.lower()}.")
            data["media_type"], self.media_info = "", {}
        elif "media" in self.changed_data or "media_type" in self.changed_data:
            try:
                info = inspect_upload(upload, wanted)
            except media_service.MediaRefused as exc:
                self.add_error("media", str(exc))
            else:
                data["media_type"], self.media_info = info["media_type"], info
        return data

    def save(self, commit: bool = True) -> Campaign:
        if self.media_info is not None:
            self.instance.media_info = self.media_info
        return super().save(commit)


def inspect_upload(upload, media_type: str | None) -> dict:
    """:func:`campaigns.content.media.inspect_media` for a new upload or the stored file, as a dict.

    Uploads under ``FILE_UPLOAD_MAX_MEMORY_SIZE`` live in memory, and the inspector reads a path,
    so those are written to a temporary file (keeping the suffix, which some parsers look at).
    """
    if isinstance(upload, UploadedFile) and hasattr(upload, "temporary_file_path"):
        info = media_service.inspect_media(upload.temporary_file_path(), media_type)
    elif isinstance(upload, UploadedFile):
        fd, path = tempfile.mkstemp(suffix=Path(upload.name).suffix)
        try:
            with os.fdopen(fd, "wb") as tmp:
                for chunk in upload.chunks():
                    tmp.write(chunk)
            info = media_service.inspect_media(path, media_type)
        finally:
            os.unlink(path)
        upload.seek(0)
    else:  # the stored FieldFile, when only the type changed
        info = media_service.inspect_media(upload.path, media_type)
    result = info.as_json()
    result["file_name"] = Path(upload.name).name  # the staff's name, not the temporary one
    return result


class SuppressionForm(forms.ModelForm):
    """A manual opt-out; the key is normalised like a recipient's, so ``t.me/Alice_W`` and
    ``@alice_w`` suppress the same person."""

    class Meta:
        model = Suppression
        fields = ["key", "source", "note"]
        help_texts = {"key": "@username, t.me link, phone in international format, or user id."}

    def clean_key(self) -> str:
        return normalised_key(self.cleaned_data["key"])


def normalised_key(raw: str) -> str:
    """The stored key for ``raw``, or a ValidationError with the validator's reason."""
    result = normalise(raw)
    if not result.is_valid:
        raise forms.ValidationError(f"{raw.strip()!r}: {result.error}")
    return result.key


class SuppressionBulkForm(forms.Form):
    """Many opt-outs at once, one per line (commas and semicolons also separate)."""

    keys = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "cols": 60}),
        help_text="One recipient per line: @username, t.me link, +phone or user id.",
    )
    note = forms.CharField(max_length=300, required=False)

    def clean_keys(self) -> list[tuple[str, str]]:
        """(raw, key or "") per non-empty entry; invalid ones are reported, not fatal."""
        raw = self.cleaned_data["keys"].replace(",", "\n").replace(";", "\n")
        entries = [line.strip() for line in raw.splitlines() if line.strip()]
        if not entries:
            raise forms.ValidationError("Enter at least one recipient.")
        return [(entry, normalise(entry).key) for entry in entries]
