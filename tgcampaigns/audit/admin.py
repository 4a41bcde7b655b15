"""The audit trail in the admin: read-only, filtered by action, actor, object type and date."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "actor", "action", "object_repr", "message")
    list_filter = ("action", "content_type", ("user", admin.RelatedOnlyFieldListFilter), "at")
    search_fields = ("message", "object_repr", "actor", "=object_id")
    date_hierarchy = "at"
    list_select_related = ("content_type",)
    show_full_result_count = False
    fields = ("at", "actor", "user", "action", "content_type", "object_id", "object_repr", "message")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
