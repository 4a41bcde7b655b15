"""Admin forms: campaign composition, suppressions (the recipient list upload and mapping step are
in :mod:`.uploads`).

Each form validates through the service that owns the rule (importing, media, recipients) so the
admin shows the same reasons the engine would act on.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Q

from ..content import images
from ..content import media as media_service
from ..lists.normalise import normalise
from ..models import Campaign, ImportStatus, MediaType, RecipientList, Suppression


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
        if "lists" in self.fields:
            # A list still being imported has only some of its recipients.
            chosen = self.instance.lists.all() if self.instance.pk else RecipientList.objects.none()
            self.fields["lists"].queryset = RecipientList.objects.filter(
                Q(import_status=ImportStatus.DONE) | Q(pk__in=chosen.values("pk"))
            )
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
    # The staff's name, not the temporary one (with the converted file's extension, if converted).
    result["file_name"] = images.sent_name(Path(upload.name).name, info.conversion, info.mime_type)
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


class ErasureForm(forms.Form):
    """Erase a person: one identity, and a confirmation (it cannot be undone)."""

    identity = forms.CharField(
        max_length=500,
        help_text="Any of the person's identities: @username, t.me link, phone in international format, "
        "or user id. Their other identities are found from it.",
    )
    confirm = forms.BooleanField(
        label="I understand: their rows, results and files are removed or anonymised, and this cannot be undone",
    )
