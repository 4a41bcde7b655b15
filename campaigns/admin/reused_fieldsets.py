"""A change form's fieldsets, drawn once and reused for ``TGC_PAGE_CACHE_SECONDS``: Django's
fieldset templates are the largest part of a campaign page's CPU (a dozen widgets and read-only
fields, each through several templates), and a team watching a send opens the same page many
times a second.

They are reused only when everything they are drawn from is in the key: the page is a GET (a
form coming back with errors is drawn from what was posted), every editable field is drawn from
the object alone (a choice among other rows, such as a draft's lists or a paused campaign's
sessions, is drawn fresh: rows may have been added), and the key holds what was saved of the
object (its fields and related ids), the form's fields and which are disabled (a read-only
field is not among them: a view-only user's form has none), the fieldsets,
the time zone and the language. A related row renamed meanwhile shows its new name within the
same few seconds as the page's other reused blocks (:mod:`campaigns.reporting.page_cache`).
"""

from __future__ import annotations

import hashlib

from django.contrib.admin.helpers import AdminForm
from django.forms import ModelChoiceField
from django.http import HttpRequest
from django.utils import timezone, translation

from tgcampaigns import conf


def fieldsets_key(request: HttpRequest, adminform: AdminForm, saved: str) -> str:
    """The key under which ``adminform``'s fieldsets may be reused (a hex digest), or ``""``
    when they must be drawn now. ``saved``: a digest of what was saved of the form's object,
    e.g. :func:`campaigns.reporting.page_cache.saved_state`."""
    form = adminform.form
    if request.method != "GET" or form.is_bound or conf.page_cache_seconds() <= 0:
        return ""
    editable = [field for field in form.fields.values() if not field.disabled]
    if any(isinstance(field, ModelChoiceField) for field in editable):
        return ""
    parts = (
        type(form).__qualname__,
        form.instance.pk,
        saved,
        repr(adminform.fieldsets),
        tuple((name, field.disabled) for name, field in form.fields.items()),
        timezone.get_current_timezone_name(),
        translation.get_language(),
    )
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
