"""Optimistic concurrency for the admin's edit forms: a save from a page opened before someone
else's save is refused, with what changed since, instead of silently reverting their edit.

How: the change page carries a *version* of the object as it was when the page was opened — for
each field of the form, a keyed digest of its saved value (and, for the fields an admin names in
``conflict_texts``, such as a campaign's message, the text itself, so the refusal can show a short
before/after). On save the form reads the row again, locked (``SELECT … FOR UPDATE`` inside the
admin's transaction), and compares: a field changed since the page was opened (and not set alike
on this page) refuses the save
with a form error naming each changed field, who saved last and when (the admin's change log), a
link to reload the saved version. The refused page shows the other person's values in the fields
this user did not change since opening it, keeps this user's values in the fields they changed,
and says which of theirs those would replace (:func:`sort_changes`: the version also holds a
digest of what each field posted when left alone, to tell an edit from a stale page). It carries
the version it now shows, so saving it again keeps both people's edits; see :func:`check_version`
for why a save over different fields is refused once rather than merged.

Why not django-concurrency (2.8.1 supports Django 4.2–6.0): its ``VersionField`` bumps a column on
*every* ``save()`` and refuses any stale ``save()``, also the engine's and the workers' status
writes (a running campaign's row changes every few seconds, so an open page would be refused for
changes to fields it does not even show); it needs a migration on each model (the session and list
models are other rooms'); and its conflict page says only *that* the record changed, not *what*.
Digests of the form's own fields compare exactly what the page would overwrite, need no column,
and give the field names; digests rather than values keep secrets (an API hash) out of the page.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.db import models, router, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

# The change form posts the version back under this name (templates/admin/change_form.html).
VERSION_FIELD = "_edit_version"
SALT = "tgcampaigns.edit_conflicts"
# How much of a text the refusal quotes, before and after (characters).
QUOTE_CHARS = 80


def saved_value(instance: models.Model, name: str) -> str | None:
    """``instance``'s stored value of model field ``name`` as text (many-to-many: the sorted ids,
    a file: its name), or None when the form field is not a model field."""
    try:
        field = instance._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if field.many_to_many:
        if instance.pk is None:
            return ""
        return ",".join(sorted(str(pk) for pk in getattr(instance, name).values_list("pk", flat=True)))
    if isinstance(field, models.FileField):
        return getattr(instance, name).name or ""
    if not field.concrete:
        return None
    return field.value_to_string(instance)


def _digest(value: str) -> str:
    return salted_hmac(SALT, value).hexdigest()[:20]


def version_of(instance: models.Model, names, texts=(), form_class=None) -> dict:
    """``{"d": {field: digest}, "t": {field: text}}`` of ``instance``'s saved ``names``; the
    texts only for the fields in ``texts``. A field of ``form_class`` that is no model field
    (a campaign's variant B, kept in ``Campaign.variants``) is compared by the value the form
    shows for ``instance`` when opened."""
    values = {name: saved_value(instance, name) for name in names}
    if form_class is not None and None in values.values():
        shown = form_class(instance=instance)
        for name in [n for n, value in values.items() if value is None and n in shown.fields]:
            if not isinstance(shown.fields[name], forms.FileField) and not shown.fields[name].disabled:
                values[name] = json.dumps(shown[name].initial, default=str)
    values = {name: value for name, value in values.items() if value is not None}
    return {
        "d": {name: _digest(value) for name, value in values.items()},
        "t": {name: values[name] for name in texts if name in values},
    }


def sign_version(version: dict) -> str:
    return signing.dumps(version, salt=SALT, compress=True)


def read_version(token: str) -> dict | None:
    """The version a page posted, or None when it is missing or was tampered with."""
    try:
        version = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    return version if isinstance(version, dict) and isinstance(version.get("d"), dict) else None


def changed_since(opened: dict, now: dict) -> list[str]:
    """Fields whose digest differs between the version a page was opened with and now."""
    return [name for name, digest in opened["d"].items() if now["d"].get(name, digest) != digest]


def _quote(text: str) -> str:
    return f"“{Truncator(text).chars(QUOTE_CHARS)}” ({len(text)} characters)"


def _last_save(instance: models.Model, user=None) -> str:
    """`` (by you, in another tab or window, at 15:21)`` when ``user`` saved ``instance`` last
    (the admin's change log), `` (by NAME at 15:21)`` for someone else, the date too when not
    today (local time, settings.TIME_ZONE); empty when the log has no save."""
    entry = (
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(instance, for_concrete_model=False),
            object_id=str(instance.pk),
        )
        .select_related("user")
        .order_by("-action_time")
        .first()
    )
    if entry is None:
        return ""
    when = timezone.localtime(entry.action_time)
    at = f"{when:%H:%M}" if when.date() == timezone.localdate() else f"{when:%Y-%m-%d %H:%M}"
    if user is not None and entry.user_id == user.pk:
        return f" (by you, in another tab or window, at {at})"
    return f" (by {entry.user.get_username()} at {at})"


def page_digests(form: forms.ModelForm) -> dict[str, str]:
    """``{field: digest}`` of what the page of ``form`` posts for each field if left alone: the
    saved values for a page just opened (unbound), the values it shows for a re-rendered one. A
    field posted with the same digest was not touched on that page. Uploads are not compared
    (an upload is never left alone: ``changed_data`` tells)."""
    digests = {}
    for name, field in form.fields.items():
        if isinstance(field, forms.FileField):
            continue
        keys = posted_data(form, name).keys()
        if form.is_bound:
            values = [_getlist(form.data, key) for key in keys]
        else:
            values = list(posted_data(form, name).values())
        digests[name] = _digest(_page_text(values))
    return digests


def _getlist(data, key: str) -> list[str]:
    return data.getlist(key) if hasattr(data, "getlist") else ([] if data.get(key) is None else [data[key]])


def _page_text(values: list[list]) -> str:
    """One text for a field's posted values: browsers post a textarea's line ends as CR LF, and
    the order of ticked boxes is not an edit, an empty input is no value."""
    return json.dumps(
        [sorted(str(v).replace("\r\n", "\n") for v in part if v not in ("", None)) for part in values]
    )


def sort_changes(form: forms.ModelForm, changed: list[str], opened: dict) -> tuple[list[str], list[str]]:
    """Split the fields someone else changed since the page was opened into ``(yours, theirs)``:
    *yours*, this user changed too (saving would replace the other person's value); *theirs*,
    this user did not touch (the page posts what it showed when opened). A field where both now
    hold the same value is in neither: saving it replaces nothing. A page without page digests
    (from before them) counts every field as yours, as before."""
    page = opened.get("p") or {}
    mine = page_digests(form)
    yours, theirs = [], []
    for name in changed:
        if name not in form.changed_data:
            continue
        if name in page and page[name] == mine.get(name):
            theirs.append(name)
        else:
            yours.append(name)
    return yours, theirs


def posted_data(form: forms.ModelForm, name: str) -> dict[str, list[str]]:
    """What the page posts for field ``name`` when it shows the form's initial value (the saved
    one): ``{input name: [values]}``, as :meth:`QueryDict.setlist` takes them."""
    field = form.fields[name]
    widget, key = field.widget, form.add_prefix(name)
    value = field.prepare_value(form[name].initial)
    if isinstance(widget, forms.MultiWidget):
        parts = value if isinstance(value, (list, tuple)) else widget.decompress(value)
        return {
            key + suffix: [sub.format_value(part) or ""]
            for suffix, sub, part in zip(widget.widgets_names, widget.widgets, parts, strict=False)
        }
    if isinstance(widget, forms.CheckboxInput):
        return {key: ["on"] if value else []}
    if isinstance(widget, forms.widgets.ChoiceWidget) or isinstance(value, (list, tuple)):
        values = value if isinstance(value, (list, tuple)) else [value]
        return {key: [str(v) for v in values if v is not None]}
    formatted = widget.format_value(value)
    return {key: [] if formatted is None else [str(formatted)]}


def show_theirs(form: forms.ModelForm, names: list[str]) -> None:
    """Make the bound ``form`` show (and post again) the saved values of ``names``."""
    data = form.data.copy()
    for name in names:
        for key, values in posted_data(form, name).items():
            data.setlist(key, values)
    form.data = data


def _labels(form: forms.ModelForm, names) -> str:
    return ", ".join(str(form.fields[n].label or n) if n in form.fields else n for n in names)


def _before_after(form: forms.ModelForm, names, opened: dict, now: dict, yours_names=()):
    """A line per quoted text: as the page opened, theirs now and (for one in ``yours_names``,
    the fields this user changed too) yours."""
    rows = []
    for name in names:
        if name not in opened["t"] or name not in now["t"]:
            continue
        yours = form.cleaned_data.get(name) if name in yours_names else None
        mine = f" — yours: {_quote(yours)}" if isinstance(yours, str) and yours != now["t"][name] else ""
        rows.append((_labels(form, [name]), _quote(opened["t"][name]), _quote(now["t"][name]), mine))
    return format_html_join(
        "",
        '<br><span class="tgc-conflict-text">{} when you opened this page: {} — theirs now: {}{}</span>',
        rows,
    )


def conflict_error(
    form: forms.ModelForm, current: models.Model, changed: list[str], opened: dict, now: dict, user=None
):
    """The refusal: who saved since (``user``, the one refused: "by you, in another tab"), which
    fields changed (their labels), which of them this user's save would replace and which now
    show the other person's values, a before/after of each quoted text and a reload link.
    ``changed`` is ``(yours, theirs)`` from :func:`sort_changes`."""
    yours, theirs = changed
    replace = (
        format_html(" If you save again, your {} will replace theirs.", _labels(form, yours)) if yours else ""
    )
    shown = (
        format_html(" The fields you did not change now show theirs: {}.", _labels(form, theirs))
        if theirs
        else ""
    )
    return ValidationError(
        format_html(
            '<span class="tgc-conflict">Not saved: this {} was saved again{} since you opened this page. '
            "Changed since: {}.{}{}{}<br>Check the form below and save again to keep your changes. "
            '<a href="" class="tgc-conflict-reload">Reload the saved version</a> to drop them instead.'
            "</span>",
            current._meta.verbose_name,
            _last_save(current, user),
            _labels(form, yours + theirs),
            _before_after(form, yours + theirs, opened, now, yours),
            replace,
            shown,
        ),
        code="edit_conflict",
    )


def check_version(form: forms.ModelForm, texts=(), user=None) -> None:
    """Raise the refusal (a ValidationError) when the row ``form`` edits changed since the page
    posted its version, after making the form show the other person's values in the fields this
    user did not change (:func:`show_theirs`). A post without a version, or with one that was
    tampered with, is saved unchecked as before (an API client, a page from before this check):
    only its own sender could have removed it.

    A save where the two people changed different fields is refused too, with the refreshed form,
    rather than merged: the user sees the other person's change before their own lands beside it
    (a new name may refer to the old message; the form's checks ran on the values the page
    opened with, e.g. a variant against the old message). One more click, and nothing of either
    person is lost. Fields both set to the same value are no conflict. ``user``: who posted
    (the refusal says "by you" when they saved last, in another tab)."""
    opened = read_version(form.data.get(VERSION_FIELD, ""))
    instance = form.instance
    if opened is None or instance.pk is None:
        return
    rows = type(instance)._default_manager.filter(pk=instance.pk)
    if transaction.get_connection(router.db_for_write(type(instance))).in_atomic_block:
        # Locked until the admin's transaction ends: no save slips between this check and ours.
        rows = rows.select_for_update()
    current = rows.first()
    if current is None:
        return
    now = version_of(current, opened["d"].keys(), texts, type(form))
    yours, theirs = sort_changes(form, changed_since(opened, now), opened)
    if yours or theirs:
        error = conflict_error(form, current, (yours, theirs), opened, now, user)
        show_theirs(form, theirs)
        raise error


class EditConflictGuard:
    """For a ModelAdmin: its change form refuses a save over changes made since the page was
    opened (see the module). ``conflict_texts``: fields quoted before/after in the refusal."""

    conflict_texts: tuple[str, ...] = ()

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        if obj is None:
            return form_class
        texts = self.conflict_texts

        def clean(form):
            data = super(guarded, form).clean()
            check_version(form, texts, getattr(request, "user", None))
            return data

        guarded = type(
            form_class.__name__, (form_class,), {"clean": clean, "__module__": form_class.__module__}
        )
        return guarded

    def render_change_form(
        self, request: HttpRequest, context, add=False, change=False, form_url="", obj=None
    ):
        """The page carries its version: of the row as it is now when opened, and after a refused
        save too (and ``edit_conflict``, the banner's cue) (the page now shows what changed, so saving again keeps one's own text); after
        any other form error, still the version the page was first opened with."""
        if obj is not None and obj.pk is not None:
            form = context["adminform"].form
            context["edit_version"] = self._page_version(request, form, obj)
            context["edit_version_field"] = VERSION_FIELD
            if form.is_bound and form.has_error(NON_FIELD_ERRORS, "edit_conflict"):
                # Not Django's "Please correct the error below": there is nothing to correct. With
                # no other error the page prints the refusal itself (templates/admin/change_form.html).
                context["edit_conflict"] = True
                others = [
                    e for e in context.get("errors") or () if e is not form.errors.get(NON_FIELD_ERRORS)
                ]
                context["errors"] = others
                # The heading and breadcrumbs name the saved object, not this page's unsaved edits
                # (the failed save wrote the posted values into ``obj``).
                saved = type(obj)._default_manager.filter(pk=obj.pk).first() or obj
                context["original"], context["subtitle"] = saved, str(saved)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _page_version(self, request: HttpRequest, form: forms.ModelForm, obj: models.Model) -> str:
        posted = request.POST.get(VERSION_FIELD, "") if request.method == "POST" else ""
        if posted and read_version(posted) and not form.has_error(NON_FIELD_ERRORS, "edit_conflict"):
            return posted
        fresh = obj  # a GET's object was just read
        if request.method == "POST":  # a POST wrote its values into obj: the saved row's version
            fresh = type(obj)._default_manager.filter(pk=obj.pk).first() or obj
        return sign_version(
            version_of(fresh, list(form.fields), self.conflict_texts, type(form)) | {"p": page_digests(form)}
        )
