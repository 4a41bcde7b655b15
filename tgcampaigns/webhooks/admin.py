"""Webhooks in the admin: subscriptions (the secret shown once, a disabled one's reason) and the
delivery log (each attempt's status code, time, answer and error) with *Resend*."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.html import format_html

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction

from . import sending
from .catalogue import Event
from .models import WebhookAttempt, WebhookDelivery, WebhookSubscription


class SubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https", label="URL")
    events = forms.MultipleChoiceField(choices=Event.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookSubscription
        fields = ("name", "url", "events", "active")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if not url.lower().startswith(("https://", "http://")):
            raise forms.ValidationError("Use an https:// (or http://) address.")
        return url


def _show_secret(request: HttpRequest, subscription: WebhookSubscription, secret: str) -> None:
    messages.warning(
        request,
        format_html(
            "Signing secret of “{}”: <code>{}</code> — copy it into the receiver now: it is not shown again.",
            subscription.name,
            secret,
        ),
    )


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    """Subscriptions: a new one gets a secret, shown once; enabling a disabled one clears its run of
    failures."""

    form = SubscriptionForm
    list_display = ("name", "url", "event_list", "active", "disabled_reason", "failure_run", "created_at")
    list_filter = ("active",)
    search_fields = ("name", "url")
    readonly_fields = ("disabled_reason", "failure_run", "created_at")
    actions = ["new_secret"]

    @admin.display(description="events")
    def event_list(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.events or [])

    def save_model(self, request: HttpRequest, obj: WebhookSubscription, form, change: bool) -> None:
        secret = "" if change else obj.set_secret()
        if change and "active" in form.changed_data and obj.active:
            obj.disabled_reason, obj.failure_run = "", 0
        super().save_model(request, obj, form, change)
        action = AuditAction.WEBHOOK_SUBSCRIPTION_CHANGE if change else AuditAction.WEBHOOK_SUBSCRIPTION_ADD
        audit.record(request, action, f"Webhook subscription {'changed' if change else 'added'}.", obj)
        if secret:
            _show_secret(request, obj, secret)

    def delete_model(self, request: HttpRequest, obj: WebhookSubscription) -> None:
        audit.record(request, AuditAction.WEBHOOK_SUBSCRIPTION_DELETE, "Webhook subscription deleted.", obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        audit.record(
            request, AuditAction.WEBHOOK_SUBSCRIPTION_DELETE, "Webhook subscription deleted.", queryset
        )
        super().delete_queryset(request, queryset)

    @admin.action(
        description="Make a new signing secret (the old one stops verifying)", permissions=["change"]
    )
    def new_secret(self, request: HttpRequest, queryset) -> None:
        for subscription in queryset:
            secret = subscription.set_secret()
            subscription.save(update_fields=["secret_encrypted"])
            _show_secret(request, subscription, secret)
        audit.record(request, AuditAction.WEBHOOK_SECRET, "Signing secret made anew.", queryset)


class AttemptInline(admin.TabularInline):
    """The delivery log: read-only."""

    model = WebhookAttempt
    fields = ("number", "started_at", "duration_ms", "status_code", "delivered", "error", "response_excerpt")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Each event to each subscription, its attempts below it; *Resend* queues one more attempt."""

    list_display = (
        "created_at",
        "event_type",
        "subscription",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("status", "event__type", "subscription")
    list_select_related = ("event", "subscription")
    search_fields = ("=event__msg_id",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = (
        "event_type",
        "webhook_id",
        "subscription",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_status_code",
        "last_error",
        "payload",
    )
    readonly_fields = fields
    inlines = [AttemptInline]
    actions = ["resend"]

    @admin.display(description="event", ordering="event__type")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type

    @admin.display(description="webhook-id")
    def webhook_id(self, obj: WebhookDelivery) -> str:
        return obj.event.msg_id

    @admin.display(description="payload")
    def payload(self, obj: WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.event.payload, indent=2, ensure_ascii=False))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks.resend_webhookdelivery")

    @admin.action(description="Resend the selected deliveries now", permissions=["resend"])
    def resend(self, request: HttpRequest, queryset) -> None:
        selected = queryset.count()
        ids = sending.resend(queryset)
        skipped = selected - len(ids)
        if ids:
            audit.record(
                request,
                AuditAction.WEBHOOK_RESEND,
                f"Resent {len(ids)} webhook deliveries.",
                WebhookDelivery.objects.filter(pk__in=ids),
            )
            self.message_user(request, f"{len(ids)} deliveries queued to be sent again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} left as they are: being sent right now, or to a disabled subscription "
                "(enable it first).",
                messages.WARNING,
            )
