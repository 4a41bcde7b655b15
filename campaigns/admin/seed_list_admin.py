"""The seed lists' admin: staff's own accounts a test goes to (*Send test…*), entries stored
normalised, at most ``SEED_LIST_MAX``; every change recorded in the audit trail."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction
from tgcampaigns.edit_conflicts import EditConflictGuard

from ..lists.normalise import normalise
from ..models import SEED_LIST_MAX, SeedList
from .display import identity_refused


def normalised_entries(text: str) -> list[str]:
    """The keys of ``text`` (one identity per line), or a ValidationError naming each bad line."""
    keys, errors = [], []
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            continue
        result = normalise(line)
        if result.is_valid:
            keys.append(result.key)
        else:
            errors.append(identity_refused(line, result.error))
    if errors:
        raise forms.ValidationError(errors)
    return list(dict.fromkeys(keys))


class SeedListForm(forms.ModelForm):
    class Meta:
        model = SeedList
        fields = ["name", "entries"]
        widgets = {"entries": forms.Textarea(attrs={"rows": 6, "cols": 40})}

    def clean_entries(self) -> str:
        keys = normalised_entries(self.cleaned_data["entries"])
        if not keys:
            raise forms.ValidationError("Add at least one account.")
        if len(keys) > SEED_LIST_MAX:
            raise forms.ValidationError(f"At most {SEED_LIST_MAX} accounts: a test is not a campaign.")
        return "\n".join(keys)


@admin.register(SeedList)
class SeedListAdmin(EditConflictGuard, admin.ModelAdmin):
    """Staff's own accounts a test goes to; entries stored normalised, at most SEED_LIST_MAX."""

    form = SeedListForm
    list_display = ("name", "size", "created_by", "created_at")
    search_fields = ("name",)

    @admin.display(description="Accounts")
    def size(self, obj: SeedList) -> int:
        return len(obj.keys())

    def save_model(self, request: HttpRequest, obj: SeedList, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        audit.record(
            request, AuditAction.SEED_LIST_CHANGE, f"Seed list {'changed' if change else 'added'}.", obj
        )

    def delete_model(self, request: HttpRequest, obj: SeedList) -> None:
        audit.record(request, AuditAction.SEED_LIST_CHANGE, "Seed list deleted.", obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        audit.record(request, AuditAction.SEED_LIST_CHANGE, "Seed list deleted.", queryset)
        super().delete_queryset(request, queryset)
