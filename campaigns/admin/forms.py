"""Admin forms: campaign composition, suppressions (the recipient list upload and mapping step are
in :mod:`.uploads`).

Each form validates through the service that owns the rule (importing, media, recipients) so the
admin shows the same reasons the engine would act on.
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

from django import forms
from django.contrib.admin.widgets import AdminFileWidget, AdminSplitDateTime
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Q
from django.utils import timezone

from tgcampaigns.bounds import bounded

from ..content import media as media_service
from ..content import variants
from ..engine.zones import zone_problems
from ..lists.normalise import typed_identity
from ..models import Campaign, CampaignStatus, ImportStatus, MediaType, RecipientList, Suppression
from .display import identity_refused

# How far ahead a campaign may be scheduled: further is a typing slip (year 9999), and its
# launch summary's dates would run past the calendar.
SCHEDULE_AHEAD = timedelta(days=366)


class ZonedSplitDateTime(AdminSplitDateTime):
    """The admin's date and time inputs (calendar, clock, Today, Now) without Django's "Note: You
    are N hours behind server time": the app shows times in the user's chosen zone (the help text
    names it), so the browser's own zone is beside the point. Django's DateTimeShortcuts.js adds
    its note only where the inputs' parent holds no ``.timezonewarning`` yet
    (``addTimezoneWarning``); the template holds an empty, hidden one."""

    # In the app's templates: the form renderer (DjangoTemplates) reads apps' folders, not DIRS.
    template_name = "campaigns/widgets/zoned_split_datetime.html"


class UploadedNameFileInput(AdminFileWidget):
    """The admin's file input naming the current file as it was uploaded (``shown_name``, set by
    the form), not by its stored path ("media/2026/12/photo_aB3dE9x.jpg")."""

    template_name = "campaigns/widgets/named_file_input.html"
    shown_name = ""

    def get_context(self, name, value, attrs) -> dict:
        context = super().get_context(name, value, attrs)
        context["widget"]["shown_name"] = self.shown_name
        return context


def _window_time() -> forms.TimeInput:
    """A send window bound: the browser's plain ``<input type=time>`` (hours and minutes), not the
    admin's clock with "Now", whose server time to the second means nothing for a local time in
    each recipient's own zone."""
    return forms.TimeInput(format="%H:%M", attrs={"type": "time"})


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
            "segments",
            "sessions",
            "strategy",
            "delay_seconds",
            "max_attempts",
            "priority",
            "scheduled_at",
            "send_window_start",
            "send_window_end",
        ]
        widgets = {
            "message": forms.Textarea(attrs={"rows": 8, "cols": 80, "class": "vLargeTextField"}),
            "media": UploadedNameFileInput,
            "lists": forms.CheckboxSelectMultiple,
            "segments": forms.CheckboxSelectMultiple,
            "sessions": forms.CheckboxSelectMultiple,
            "scheduled_at": ZonedSplitDateTime,
            "send_window_start": _window_time(),
            "send_window_end": _window_time(),
        }
        field_classes = {"scheduled_at": forms.SplitDateTimeField}  # the admin's, outside it too
        help_texts = {
            "message": "The text, or the caption when media is attached. Personalise it with a column of "
            "the chosen lists (those you can use are listed under the preview), with a fallback for rows "
            "without it: {{ column|default:'there' }}.",
            "media_type": "Photo, video and voice are checked against Telegram's limits.",
            "segments": "Saved choices of people (Segments): each is evaluated once, when the campaign "
            "is launched. A person on a list and in a segment gets one message.",
            "scheduled_at": "Leave empty to start on launch.",
            "send_window_start": "Quiet hours: send only from this local time in each recipient's own "
            "time zone (from a timezone column, the phone number or the list's default zone), e.g. 09:00.",
            "send_window_end": "…until this local time, e.g. 20:00 (before the start: the window spans "
            "midnight). Leave both empty to send at any hour.",
        }

    # A/B test: the other wordings and the split (stored as Campaign.variants and .split).
    variant_b = forms.CharField(
        required=False,
        label="Variant B",
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80, "class": "vLargeTextField"}),
        help_text="A/B test: another wording of the message (the message above is variant A). "
        "Personalised and checked like the message.",
    )
    variant_c = forms.CharField(
        required=False, label="Variant C", widget=forms.Textarea(attrs={"rows": 4, "cols": 80})
    )
    variant_d = forms.CharField(
        required=False, label="Variant D", widget=forms.Textarea(attrs={"rows": 4, "cols": 80})
    )
    share_a = forms.IntegerField(required=False, min_value=0, max_value=100, label="Share of A (%)")
    share_b = forms.IntegerField(required=False, min_value=0, max_value=100, label="Share of B (%)")
    share_c = forms.IntegerField(required=False, min_value=0, max_value=100, label="Share of C (%)")
    share_d = forms.IntegerField(required=False, min_value=0, max_value=100, label="Share of D (%)")
    share_hold = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=100,
        label="Held for the winner (%)",
        help_text="Recipients who get the winning wording later: once the variants are sent, the "
        "campaign pauses and you choose the winner. Shares add up to 100 (e.g. 10 / 10 / 80, or 50 / 50).",
    )
    VARIANT_FIELDS = ("variant_b", "variant_c", "variant_d")
    SHARE_FIELDS = {"A": "share_a", "B": "share_b", "C": "share_c", "D": "share_d", "hold": "share_hold"}

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
            # A detected type is not a choice: the next file chosen is detected again (19.6).
            self.initial["media_type"] = (self.instance.media_info or {}).get(
                "asked", self.instance.media_type
            )
        for name, bounds in Campaign.BOUNDS.items():
            if name in self.fields:
                bounded(self.fields[name], bounds)
        if "media" in self.fields:
            self.fields["media"].widget.shown_name = self.instance.media_file_name
        self.media_info: dict | None = None  # None: unchanged
        self.media_name: str | None = None  # the new file's name as uploaded; None: unchanged
        if self.instance.pk:
            texts = list(self.instance.variants or [])
            for name, text in zip(self.VARIANT_FIELDS, texts, strict=False):
                self.initial.setdefault(name, text)
            for label, name in self.SHARE_FIELDS.items():
                if label in (self.instance.split or {}):
                    self.initial.setdefault(name, self.instance.split[label])
        if "message" not in self.fields:  # read-only once launched: so is the test
            for name in (*self.VARIANT_FIELDS, *self.SHARE_FIELDS.values()):
                self.fields[name].disabled = True

    def clean_scheduled_at(self):
        """A start time at most :data:`SCHEDULE_AHEAD` from now (a past one starts on launch)."""
        when = self.cleaned_data.get("scheduled_at")
        latest = timezone.now() + SCHEDULE_AHEAD
        if when is not None and when > latest:
            raise forms.ValidationError(
                f"Schedule it at most {SCHEDULE_AHEAD.days} days ahead "
                f"(before {timezone.localtime(latest):%Y-%m-%d})."
            )
        return when

    def clean(self) -> dict:
        data = super().clean()
        self._clean_window(data)
        if "message" in self.fields and not self.fields["variant_b"].disabled:
            self._clean_test(data)
        if "media" not in self.fields:  # read-only once launched
            return data
        upload = data.get("media")
        wanted = data.get("media_type") or None
        if not upload:  # no file, or "clear" ticked
            if wanted:
                self.add_error("media", f"Choose a file to send as {MediaType(wanted).label.lower()}.")
            data["media_type"], self.media_info, self.media_name = "", {}, ""
        elif "media" in self.changed_data or "media_type" in self.changed_data:
            new = "media" in self.changed_data
            name = Path(upload.name).name if new else self.instance.media_file_name
            try:
                info = inspect_upload(upload, wanted, name)
            except media_service.MediaRefused as exc:
                self.add_error("media", str(exc))
            else:
                data["media_type"], self.media_info = info["media_type"], {**info, "asked": wanted or ""}
                self.media_name = name
        else:
            data["media_type"] = self.instance.media_type  # the field shows the choice, not the type
        return data

    def _clean_window(self, data: dict) -> None:
        """Both ends of the send window or neither, and not the same time."""
        if "send_window_start" not in self.fields:
            return
        start, end = data.get("send_window_start"), data.get("send_window_end")
        if (start is None) != (end is None):
            self.add_error(
                "send_window_end" if end is None else "send_window_start",
                "Set both ends of the send window, or neither.",
            )
        elif start is not None and start == end:
            self.add_error("send_window_end", "The window must end at another time than it starts.")
        elif start is not None and self.instance.pk and self.instance.status == CampaignStatus.PAUSED:
            # Rows get their zones when it resumes: refuse now what the launch check would.
            probe = Campaign(pk=self.instance.pk, send_window_start=start, send_window_end=end)
            for problem in zone_problems(probe):
                self.add_error("send_window_start", problem[:1].upper() + problem[1:] + ".")

    def _clean_test(self, data: dict) -> None:
        """The A/B test's wordings and split (:func:`campaigns.content.variants.split_problems`):
        stored as ``variants`` (B, C, D, trailing empties dropped) and ``split`` ({} without a test)."""
        texts = [(data.get(name) or "").strip() for name in self.VARIANT_FIELDS]
        while texts and not texts[-1]:
            texts.pop()
        split = {
            label: data[name] for label, name in self.SHARE_FIELDS.items() if data.get(name) not in (None, 0)
        }
        if not texts and not split:
            self.instance.variants, self.instance.split = [], {}
            return
        for problem in variants.split_problems(data.get("message") or "", texts, split):
            self.add_error(None, problem)
        self.instance.variants, self.instance.split = texts, split

    def save(self, commit: bool = True) -> Campaign:
        if self.media_info is not None:
            self.instance.media_info = self.media_info
        if self.media_name is not None:
            self.instance.media_name = self.media_name[:255]
        return super().save(commit)


def inspect_upload(upload, media_type: str | None, name: str) -> dict:
    """:func:`campaigns.content.media.inspect_media` for a new upload or the stored file, as a
    dict; ``name``: the file's name as staff uploaded it (not the temporary or stored one), its
    ``file_name`` (with the converted file's extension, if converted).

    Uploads under ``FILE_UPLOAD_MAX_MEMORY_SIZE`` live in memory, and the inspector reads a path,
    so those are written to a temporary file (keeping the suffix, which some parsers look at).
    """
    if isinstance(upload, UploadedFile) and hasattr(upload, "temporary_file_path"):
        info = media_service.inspect_media(upload.temporary_file_path(), media_type, name)
    elif isinstance(upload, UploadedFile):
        fd, path = tempfile.mkstemp(suffix=Path(upload.name).suffix)
        try:
            with os.fdopen(fd, "wb") as tmp:
                for chunk in upload.chunks():
                    tmp.write(chunk)
            info = media_service.inspect_media(path, media_type, name)
        finally:
            os.unlink(path)
        upload.seek(0)
    else:  # the stored FieldFile, when only the type changed
        info = media_service.inspect_media(upload.path, media_type, name)
    return info.as_json()


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
    """The stored key for ``raw`` (:func:`.normalise.typed_identity`), or a ValidationError with
    the validator's reason."""
    result = typed_identity(raw)
    if not result.is_valid:
        raise forms.ValidationError(identity_refused(raw, result.error))
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
