"""The admin site: Django's, its app list built only when a page reads it.

Every admin page's context carries the list of apps and models the user may see
(``available_apps``, for the navigation sidebar): Django builds it eagerly, checking each model's
permissions. Here it is built on first use, so that a page whose sidebar comes from the cache
(``{% tgc_nav_sidebar %}``, :mod:`campaigns.templatetags.tgc`) does not build it at all.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


class CampaignsAdminSite(admin.AdminSite):
    """Django's ``AdminSite`` whose :meth:`get_app_list` is evaluated lazily."""

    def get_app_list(self, request: HttpRequest, app_label: str | None = None):
        """Django's app list (a list of app dicts, each with its ``models``), built when it is
        first iterated, indexed, counted or tested."""
        return SimpleLazyObject(lambda: admin.AdminSite.get_app_list(self, request, app_label))


class CampaignsAdminConfig(AdminConfig):
    """``django.contrib.admin`` with :class:`CampaignsAdminSite` as ``admin.site``."""

    default_site = "tgcampaigns.admin_site.CampaignsAdminSite"
