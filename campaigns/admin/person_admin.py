"""Admin entries for persons (:class:`~campaigns.models.Person`, a proxy of the recipient rows:
its changelist is the search, its pages :mod:`.person_views`) and tags (:class:`TagAdmin`: each
tag with how many rows carry it; renaming and deleting are audited)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import path, reverse
from django.utils.html import format_html

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction

from ..models import Person, RecipientTag, Tag, tag_key
from .access import may_see_persons
from .person_views import PersonEraseView, PersonPageView, PersonSearchView, PersonTagsView


def person_link(recipient_id: int | None, text: str = "Person") -> str:
    """A link to the page of the person recipient row ``recipient_id`` is one of ("" for none)."""
    if not recipient_id:
        return ""
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:campaigns_person_page", args=[recipient_id]), text
    )


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    """*Persons*: the search box and each person's page; nothing is added or changed here but
    tags (on the page). Visible to whoever may see results or erase a person (personal data:
    :func:`.access.may_see_persons`)."""

    def get_urls(self):
        def wrap(view_class):
            return self.admin_site.admin_view(view_class.as_view(model_admin=self))

        return [
            path("", wrap(PersonSearchView), name="campaigns_person_changelist"),
            path("<int:row_id>/", wrap(PersonPageView), name="campaigns_person_page"),
            path("<int:row_id>/tags/", wrap(PersonTagsView), name="campaigns_person_tags"),
            path("<int:row_id>/erase/", wrap(PersonEraseView), name="campaigns_person_erase"),
        ]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_see_persons(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return may_see_persons(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class TagForm(forms.ModelForm):
    class Meta:
        model = Tag
        fields = ("name",)

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not tag_key(name):
            raise forms.ValidationError("A tag needs a name.")
        if Tag.objects.filter(key=tag_key(name)).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("Another tag has this name (in any case).")
        return name


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    """Every tag with the number of recipient rows that carry it. Tags are made by imports, the
    recipients' action and persons' pages; here they are renamed or deleted (audited)."""

    form = TagForm
    list_display = ("name", "rows", "created_at")
    search_fields = ("key",)
    fields = ("name", "key", "created_at")
    readonly_fields = ("key", "created_at")
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest):
        # Per tag, a count over the (tag, recipient) index alone (an index-only scan): a join
        # and GROUP BY read every link's row, twice as slow at a million (bench/person.py).
        links = RecipientTag.objects.filter(tag=OuterRef("pk")).order_by().values("tag")
        count = Subquery(links.annotate(n=Count("*")).values("n"))
        return super().get_queryset(request).annotate(row_count=Coalesce(count, 0))

    @admin.display(description="rows", ordering="row_count")
    def rows(self, obj: Tag) -> int:
        return obj.row_count

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Tag, form, change: bool) -> None:
        obj.key = tag_key(obj.name)
        super().save_model(request, obj, form, change)
        audit.record(request, AuditAction.TAG_CHANGE, f"Tag renamed to “{obj.name}”.", obj)

    def delete_model(self, request: HttpRequest, obj: Tag) -> None:
        audit.record(request, AuditAction.TAG_CHANGE, f"Tag “{obj.name}” deleted.", obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        audit.record(request, AuditAction.TAG_CHANGE, "Tag deleted.", queryset)
        super().delete_queryset(request, queryset)
