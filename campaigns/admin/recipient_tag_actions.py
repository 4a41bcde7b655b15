"""The recipients changelist's *Add tags…* and *Remove tags…* actions: an intermediate form asks
for the names, then one statement per tag changes every selected row (:mod:`campaigns.people.tagging`;
with "select all", the changelist's whole selection, a million rows included, never loaded)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction

from ..people import tagging

SHOWN_IDS_MAX = 10_000  # rows posted back by id; beyond, "select all" posts the filter instead


class TagNamesForm(forms.Form):
    names = forms.CharField(
        label="Tags",
        max_length=1000,
        help_text="One or more, separated by commas (VIP, Berlin). Case does not count: VIP is vip.",
    )


def _tag_rows(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, adding: bool):
    form = TagNamesForm(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        names = tagging.parse_names(form.cleaned_data["names"])
        change = tagging.add_tags if adding else tagging.remove_tags
        tags, count = change(queryset, names)
        said = ", ".join(t.name for t in tags) or "no tag"
        verb = "added to" if adding else "removed from"
        action = AuditAction.TAGS_ADD if adding else AuditAction.TAGS_REMOVE
        audit.record(request, action, f"Tags {said} {verb} {count} recipient row(s) (bulk action).")
        model_admin.message_user(request, f"{said}: {verb} {count} row(s).", messages.SUCCESS)
        return None
    selected = request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Add tags to the selected recipients"
        if adding
        else "Remove tags from the selected recipients",
        "form": form,
        "action_name": request.POST.get("action", ""),
        "select_across": request.POST.get("select_across", "0"),
        "selected": selected[:SHOWN_IDS_MAX],
        "count": len(selected) if request.POST.get("select_across") != "1" else None,
        "adding": adding,
    }
    return TemplateResponse(request, "admin/campaigns/recipient/tag_rows.html", context)


@admin.action(description="Add tags…", permissions=["add_tags"])
def add_tags(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet):
    return _tag_rows(model_admin, request, queryset, adding=True)


@admin.action(description="Remove tags…", permissions=["remove_tags"])
def remove_tags(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet):
    return _tag_rows(model_admin, request, queryset, adding=False)
