"""django-q2's and django-axes' pages, for superusers only.

A django-q2 schedule or queued task names any importable function (``os.system`` included) and
the workers run it, and *Resubmit* re-runs a task with its stored arguments: whoever may edit them
may run code. django-axes' pages list who failed to log in from where, and its actions lift
lockouts. Staff need none of it (the reaper's schedule is installed by ``migrate``; a lockout is
lifted with ``manage.py axes_reset_username``), so each of their admins is re-registered here
behind ``is_superuser``, every action declaring the permission it needs.
"""

from __future__ import annotations

import functools

from django.contrib import admin
from django.http import HttpRequest

APP_LABELS = ("django_q", "axes")


class SuperuserOnly:
    """Every permission of the admin, the module's too, needs an active superuser."""

    def _superuser(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._superuser(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._superuser(request)

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return self._superuser(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._superuser(request)


def _declared(action):
    """``action`` (a function or a method name) declaring the "change" permission when it
    declares none (django-q2's *Resubmit*, django-axes' clean-up)."""
    if isinstance(action, str) or getattr(action, "allowed_permissions", None):
        return action

    @functools.wraps(action)
    def declared(model_admin, request, queryset):
        return action(model_admin, request, queryset)

    declared.allowed_permissions = ("change",)
    return declared


def _superuser_only(model, admin_class: type[admin.ModelAdmin]) -> None:
    attributes = {"__module__": __name__, "actions": [_declared(a) for a in admin_class.actions or ()]}
    for name in admin_class.actions or ():
        if isinstance(name, str) and not getattr(getattr(admin_class, name), "allowed_permissions", None):
            attributes[name] = _declared(getattr(admin_class, name))
    admin.site.unregister(model)
    admin.site.register(model, type(admin_class.__name__, (SuperuserOnly, admin_class), attributes))


def restrict_to_superusers(site: admin.AdminSite = admin.site) -> None:
    for model, model_admin in list(site._registry.items()):
        if model._meta.app_label in APP_LABELS and not isinstance(model_admin, SuperuserOnly):
            _superuser_only(model, type(model_admin))


restrict_to_superusers()
