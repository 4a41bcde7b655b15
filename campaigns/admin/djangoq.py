"""django-q2's pages, for superusers only.

A schedule or a queued task names any importable function (``os.system`` included) and the
workers run it, and *Resubmit* re-runs a task with its stored arguments: whoever may edit them
may run code. Staff need none of it (the reaper's schedule is installed by ``migrate``), so each
django-q2 admin is re-registered here behind ``is_superuser``, with its one action declaring the
permission it needs.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django_q import admin as q_admin  # registers django-q2's admins first, to replace them here


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


@admin.action(description="Resubmit selected tasks to queue", permissions=["change"])
def resubmit_task(model_admin, request: HttpRequest, queryset) -> None:
    q_admin.resubmit_task(model_admin, request, queryset)


def _superuser_only(model, admin_class: type[admin.ModelAdmin]) -> None:
    attributes = {"__module__": __name__}
    if admin_class.actions:
        attributes["actions"] = [resubmit_task]
    admin.site.unregister(model)
    admin.site.register(model, type(admin_class.__name__, (SuperuserOnly, admin_class), attributes))


for _model, _admin in list(admin.site._registry.items()):
    if _model._meta.app_label == "django_q":
        _superuser_only(_model, type(_admin))
