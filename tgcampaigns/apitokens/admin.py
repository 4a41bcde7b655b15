"""API tokens on the user's admin page: listed (name, prefix, created, last used, revoked), made
by adding a row with a name (the token is shown once, in the page's message) and revoked by
ticking *Revoke*. Each creation and revocation is in the audit trail. A changelist of every
token, with a *Revoke* action, serves the operator looking for one."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction

from .models import ApiToken

READ_ONLY = ("prefix_shown", "created_at", "last_used_at", "revoked_at")


class TokenForm(forms.ModelForm):
    revoke = forms.BooleanField(required=False, help_text="Refuse this token from now on.")

    class Meta:
        model = ApiToken
        fields = ["name"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # locked, and each says why (a disabled box's tooltip)
            self.fields["name"].disabled = True
            self.fields["name"].widget.attrs["title"] = (
                "Fixed when the token was made: to rename it, revoke it and make another."
            )
            if self.instance.is_revoked:
                self.fields["revoke"].disabled = True
                self.fields["revoke"].widget.attrs["title"] = (
                    "Revoked already: a revoked token stays revoked."
                )


class TokenInline(admin.TabularInline):
    model = ApiToken
    form = TokenForm
    extra = 0
    can_delete = False
    fields = ("name", "prefix_shown", "created_at", "last_used_at", "revoked_at", "revoke")
    readonly_fields = READ_ONLY
    verbose_name_plural = "API tokens (add one to make a token: it is shown once, after saving)"

    @admin.display(description="Token starts")
    def prefix_shown(self, obj: ApiToken) -> str:
        return f"tgc_{obj.prefix}_…" if obj.prefix else "made when saved"


def mint_and_revoke(request: HttpRequest, formset) -> None:
    """Save the token inline's rows: a new row becomes a token (said once), a ticked one revoked.
    Sets the formset's ``new_objects``/``changed_objects``/``deleted_objects`` as its ``save()``
    would (the admin's change message reads them)."""
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    for form in formset.forms:
        if not form.has_changed() or form.cleaned_data.get("DELETE"):
            continue
        token = form.instance
        if token.pk is None:
            token, clear = ApiToken.objects.mint(formset.instance, form.cleaned_data["name"])
            formset.new_objects.append(token)
            audit.record(request, AuditAction.API_TOKEN_CREATE, f"API token “{token.name}” made.", token)
            messages.warning(
                request,
                f"The API token “{token.name}” is {clear} — copy it now: it is not shown again.",
            )
        elif form.cleaned_data.get("revoke") and token.revoke():
            formset.changed_objects.append((token, ["revoked_at"]))
            audit.record(request, AuditAction.API_TOKEN_REVOKE, f"API token “{token.name}” revoked.", token)
            messages.info(request, f"The API token “{token.name}” is revoked.")


User = get_user_model()
BaseUserAdmin = type(admin.site._registry[User]) if admin.site.is_registered(User) else UserAdmin


class UserWithTokensAdmin(BaseUserAdmin):
    """Django's user admin with the user's API tokens under it."""

    inlines = (*BaseUserAdmin.inlines, TokenInline)

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        if formset.model is ApiToken:
            mint_and_revoke(request, formset)
            return
        super().save_formset(request, form, formset, change)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, UserWithTokensAdmin)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Every token; made on its user's page."""

    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username")
    list_select_related = ("user",)
    readonly_fields = ("user", "name", *READ_ONLY)
    fields = ("user", "name", *READ_ONLY)
    actions = ["revoke_tokens"]

    @admin.display(description="Token starts")
    def prefix_shown(self, obj: ApiToken) -> str:
        return f"tgc_{obj.prefix}_…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made on the user's page, where it is shown once

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke_tokens(self, request: HttpRequest, queryset) -> None:
        revoked = [t for t in queryset if t.revoke()]
        if revoked:
            audit.record(request, AuditAction.API_TOKEN_REVOKE, "API token revoked.", revoked)
        self.message_user(request, f"{len(revoked)} tokens revoked.")
