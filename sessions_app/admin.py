"""Admin for Telegram sessions (with the login wizard and health check) and resolved peers.

Secrets (StringSession, bot token, API hash) are stored encrypted in ``editable=False`` fields: no
form shows them; the API hash is write-only (a password field that never renders its value), and
this module never logs them. Logging in goes through :mod:`sessions_app.login`.

The session's state (status, FloodWait, last error, lease) is the engine's: read-only on the page
for everyone, changed only by the actions below, each of which declares its permission (README
"Roles and permissions") and is recorded in the audit trail.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction
from tgcampaigns.bounds import bounded
from tgcampaigns.edit_conflicts import EditConflictGuard

from . import login
from .health import check_health
from .models import ResolvedPeer, SessionKind, SessionStatus, TelegramSession
from .models.session_bounds import bounds_for

HEALTH_CHECK_LIMIT = 20  # sessions per action: each check is a network round trip in the request


class PhoneForm(forms.Form):
    phone = forms.CharField(label="Phone number", help_text="International format, e.g. +4915112345678.")


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Login code", help_text="Sent by Telegram to the account's other devices (or by SMS)."
    )


class PasswordForm(forms.Form):
    password = forms.CharField(label="Two-step verification password", widget=forms.PasswordInput)


class BotTokenForm(forms.Form):
    token = forms.CharField(
        label="Bot token", widget=forms.PasswordInput, help_text="From @BotFather: 123456:ABC-…"
    )


class UnquarantineForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        min_length=10,
        help_text='Why it is safe to send again (e.g. "@SpamBot says the limit is lifted"). Recorded.',
    )


class TelegramSessionForm(forms.ModelForm):
    """The session's settings; its API hash is write-only: the field never shows the stored value,
    an empty field keeps it, and *clear* removes it (then ``TELEGRAM_API_HASH`` applies)."""

    api_hash = forms.CharField(
        label="API hash",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="From my.telegram.org. Stored encrypted, never shown. Empty: keep the stored one "
        "(or use TELEGRAM_API_HASH when none is stored).",
    )
    clear_api_hash = forms.BooleanField(label="Clear the stored API hash", required=False)

    class Meta:
        model = TelegramSession
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The ranges of the backend being saved (a simulator's delay may be 0): each refusal, a
        # value that is no number too, is the range's sentence; the model checks them on save.
        backend = self.data.get("backend") if self.is_bound else None
        for name, bounds in bounds_for(backend or self.instance.backend).items():
            if name in self.fields:
                bounded(self.fields[name], bounds)

    def save(self, commit: bool = True) -> TelegramSession:
        if self.cleaned_data.get("clear_api_hash"):
            self.instance.api_hash_encrypted = ""
        elif self.cleaned_data.get("api_hash"):
            self.instance.api_hash = self.cleaned_data["api_hash"]
        return super().save(commit)


# The engine's state of a session: changed by the engine and by the actions, never typed in.
STATE_FIELDS = (
    "status",
    "flood_wait_until",
    "last_error_code",
    "last_error_text",
    "last_error_at",
    "current_load",
    "lease_owner",
    "lease_expires_at",
)


@admin.register(TelegramSession)
class TelegramSessionAdmin(EditConflictGuard, admin.ModelAdmin):
    form = TelegramSessionForm
    list_display = (
        "name",
        "kind",
        "backend_label",
        "status",
        "weight",
        "current_load",
        "requests_today",
        "flood_wait_left_label",
        "last_error_code",
    )
    list_filter = ("kind", "backend", "server", "status")
    search_fields = ("name", "me_username", "phone")
    actions = (
        "check_health_action",
        "disable_action",
        "reactivate_action",
        "unquarantine_action",
        "release_lease_action",
    )
    readonly_fields = (
        "login_link",
        "me_id",
        "me_username",
        "me_name",
        "server",
        "last_checked_at",
        "api_hash_state",
        *STATE_FIELDS,
    )
    add_fieldsets = ((None, {"fields": ("name", "kind", "backend", "phone", "weight")}),)
    fieldsets = (
        (None, {"fields": ("name", "kind", "backend", "status", "login_link", "phone", "weight")}),
        ("Account", {"fields": ("me_id", "me_username", "me_name", "server", "last_checked_at")}),
        (
            "Pace",
            {
                "fields": ("send_delay", "max_per_minute", "daily_cap", "flood_wait_until"),
                "description": "Defaults are set by kind when the session is created.",
            },
        ),
        ("After the send", {"fields": ("mark_replies_read",)}),
        ("Last error", {"fields": ("last_error_code", "last_error_text", "last_error_at")}),
        ("Lease", {"fields": ("current_load", "lease_owner", "lease_expires_at"), "classes": ("collapse",)}),
        (
            "API credentials",
            {"fields": ("api_id", "api_hash_state", "api_hash", "clear_api_hash"), "classes": ("collapse",)},
        ),
        ("Simulator", {"fields": ("simulator_config",), "classes": ("collapse",)}),
    )

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_queryset(self, request):
        return super().get_queryset(request).with_requests_today()

    def save_model(self, request, obj: TelegramSession, form, change: bool) -> None:
        if not change:
            obj.apply_pace_defaults()
        super().save_model(request, obj, form, change)

    # The actions' permissions (Meta.permissions of TelegramSession) ------------------------------
    def _has(self, request: HttpRequest, codename: str) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.{codename}_{self.opts.model_name}")

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return self._has(request, "operate")

    def has_release_lease_permission(self, request: HttpRequest) -> bool:
        return self._has(request, "release_lease")

    def has_unquarantine_permission(self, request: HttpRequest) -> bool:
        return self._has(request, "unquarantine")

    def has_login_permission(self, request: HttpRequest) -> bool:
        return self._has(request, "login")

    # Columns -----------------------------------------------------------------------------------
    @admin.display(description="Backend", ordering="backend")
    def backend_label(self, obj: TelegramSession) -> str:
        return "SIMULATOR" if obj.is_simulated else "Telegram"

    @admin.display(description="Requests today (UTC)", ordering="requests_today_count")
    def requests_today(self, obj: TelegramSession) -> int:
        """What the daily cap counts: requests that reached Telegram today, in any campaign."""
        return getattr(obj, "requests_today_count", 0)

    @admin.display(description="Flood wait left", ordering="flood_wait_until")
    def flood_wait_left_label(self, obj: TelegramSession) -> str:
        seconds = int(obj.flood_wait_left())
        return (
            f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else (f"{seconds} s" if seconds else "—")
        )

    @admin.display(description="Stored API hash")
    def api_hash_state(self, obj: TelegramSession) -> str:
        return "set (encrypted, not shown)" if obj.api_hash_encrypted else "none: TELEGRAM_API_HASH is used"

    @admin.display(description="Login")
    def login_link(self, obj: TelegramSession) -> str:
        if obj.pk is None or obj.is_simulated:
            return "Simulator sessions need no login." if obj.pk else "—"
        url = reverse("admin:sessions_app_telegramsession_login", args=[obj.pk])
        label = "Log in again…" if obj.status == SessionStatus.ACTIVE else "Log in…"
        return format_html('<a class="button" href="{}">{}</a>', url, label)

    # Actions -----------------------------------------------------------------------------------
    @admin.action(description="Check health (get_me)", permissions=["operate"])
    def check_health_action(self, request: HttpRequest, queryset) -> None:
        checked = list(queryset[:HEALTH_CHECK_LIMIT])
        for session in checked:
            health = check_health(session)
            ok = health.checked and health.authorized and not health.error
            self.message_user(request, health.summary(), messages.SUCCESS if ok else messages.WARNING)
        audit.record(request, AuditAction.SESSION_HEALTH, "Health checked (get_me).", checked)
        if queryset.count() > HEALTH_CHECK_LIMIT:
            self.message_user(request, f"Checked the first {HEALTH_CHECK_LIMIT} only.", messages.WARNING)

    @admin.action(description="Disable (no sends until re-activated)", permissions=["operate"])
    def disable_action(self, request: HttpRequest, queryset) -> None:
        sessions = queryset.disable()
        audit.record(request, AuditAction.SESSION_DISABLE, "Disabled by an operator.", sessions)
        self.message_user(
            request, f"{len(sessions)} session(s) disabled; their pending rows go to other sessions."
        )

    @admin.action(description="Re-activate (logged-in sessions)", permissions=["operate"])
    def reactivate_action(self, request: HttpRequest, queryset) -> None:
        """Logged-in sessions become active; never a quarantined one (:meth:`unquarantine_action`)."""
        quarantined = queryset.filter(status=SessionStatus.QUARANTINED).count()
        sessions = queryset.reactivate()
        audit.record(request, AuditAction.SESSION_REACTIVATE, "Re-activated by an operator.", sessions)
        self.message_user(request, f"{len(sessions)} session(s) active.")
        if quarantined:
            self.message_user(
                request,
                f"{quarantined} quarantined session(s) left as they are: use “Un-quarantine…”, with a reason.",
                messages.WARNING,
            )
        if skipped := queryset.exclude(status=SessionStatus.ACTIVE).count() - quarantined:
            self.message_user(request, f"{skipped} session(s) must log in first.", messages.WARNING)

    @admin.action(
        description="Un-quarantine (spam-limited sessions, with a reason)…", permissions=["unquarantine"]
    )
    def unquarantine_action(self, request: HttpRequest, queryset):
        """Quarantined sessions become active again, after a reason is given; it is recorded."""
        quarantined = queryset.filter(status=SessionStatus.QUARANTINED)
        if not quarantined.exists():
            self.message_user(request, "None of the selected sessions is quarantined.", messages.WARNING)
            return None
        form = UnquarantineForm(request.POST if "reason" in request.POST else None)
        if form.is_bound and form.is_valid():
            sessions = quarantined.unquarantine()
            reason = form.cleaned_data["reason"].strip()
            audit.record(request, AuditAction.SESSION_UNQUARANTINE, f"Un-quarantined: {reason}", sessions)
            self.message_user(request, f"{len(sessions)} session(s) active again; the reason is recorded.")
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Un-quarantine spam-limited sessions",
            "opts": self.opts,
            "sessions": list(quarantined),
            "form": form,
            "action_name": request.POST.get("action", ""),
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
        }
        return TemplateResponse(request, "admin/sessions_app/telegramsession/unquarantine.html", context)

    @admin.action(description="Release lease (only if its worker is dead)", permissions=["release_lease"])
    def release_lease_action(self, request: HttpRequest, queryset) -> None:
        sessions = list(queryset.exclude(lease_owner=""))
        count = queryset.release_leases()
        audit.record(request, AuditAction.SESSION_RELEASE_LEASE, "Lease released by an operator.", sessions)
        self.message_user(
            request,
            f"{count} lease(s) released. If the worker is still alive, two connections may now share "
            "one auth key and Telegram revokes it: release only leases of dead workers.",
            messages.WARNING if count else messages.INFO,
        )

    # Login wizard ------------------------------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view(self.login_view)
        return [
            path("<path:object_id>/login/", view, name="sessions_app_telegramsession_login"),
        ] + super().get_urls()

    @method_decorator(sensitive_post_parameters())
    @method_decorator(sensitive_variables())
    def login_view(self, request: HttpRequest, object_id: str):
        """One URL, the step chosen by the session's status: phone → code → password, or token.
        Every POST parameter and local variable is hidden from error reports (a code, password
        or token must never reach one)."""
        session = get_object_or_404(TelegramSession, pk=object_id)
        if not self.has_login_permission(request):
            raise PermissionDenied
        change_url = reverse("admin:sessions_app_telegramsession_change", args=[session.pk])
        if session.is_simulated:
            self.message_user(request, "Simulator sessions need no login.", messages.INFO)
            return HttpResponseRedirect(change_url)
        if request.method == "POST" and "restart" in request.POST:
            TelegramSession.objects.filter(pk=session.pk).update(
                status=SessionStatus.NEW, login_phone_code_hash=""
            )
            return HttpResponseRedirect(request.path)

        step, form_class, title = _login_step(session)
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                done = _run_login_step(step, session, form.cleaned_data)
            except login.LoginError as exc:
                form.add_error(None, str(exc))
                audit.record(
                    request, AuditAction.SESSION_LOGIN, f"Login step “{step}” failed: {exc}", session
                )
            else:
                if done:
                    who = f"@{session.me_username}" if session.me_username else session.me_name
                    audit.record(request, AuditAction.SESSION_LOGIN, f"Logged in as {who}.", session)
                    self.message_user(request, f"{session.name} is logged in as {who}.", messages.SUCCESS)
                    return HttpResponseRedirect(change_url)
                audit.record(request, AuditAction.SESSION_LOGIN, f"Login step “{step}” done.", session)
                return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": session,
            "title": title,
            "step": step,
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/sessions_app/telegramsession/login.html", context)


def _login_step(session: TelegramSession) -> tuple[str, type[forms.Form], str]:
    if session.kind == SessionKind.BOT:
        return "token", BotTokenForm, f"Log in bot {session.name}"
    if session.status == SessionStatus.AWAITING_CODE:
        return "code", CodeForm, f"Log in {session.name}: enter the code"
    if session.status == SessionStatus.AWAITING_PASSWORD:
        return "password", PasswordForm, f"Log in {session.name}: two-step verification"
    return "phone", PhoneForm, f"Log in {session.name}: phone number"


@sensitive_variables()
def _run_login_step(step: str, session: TelegramSession, data: dict) -> bool:
    """Run one step; True when the session is now logged in. Raises login.LoginError."""
    if step == "token":
        return login.sign_in_bot(session, data["token"]) == SessionStatus.ACTIVE
    if step == "phone":
        login.send_code(session, data["phone"])
        return False
    if step == "code":
        return login.sign_in(session, data["code"]) == SessionStatus.ACTIVE
    return login.sign_in_password(session, data["password"]) == SessionStatus.ACTIVE


@admin.register(ResolvedPeer)
class ResolvedPeerAdmin(admin.ModelAdmin):
    """Read-only: peers are written by the transport, per session."""

    list_display = ("key", "session", "peer_type", "peer_id", "imported_contact", "resolved_at")
    list_filter = ("peer_type", "imported_contact", "session")
    list_select_related = ("session",)
    search_fields = ("key", "=peer_id")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
