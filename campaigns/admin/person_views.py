"""The *Persons* pages as small view classes, wired in :meth:`.person_admin.PersonAdmin.get_urls`:
the search (:class:`PersonSearchView`: an identity in any spelling, or the start of a name or
phone), one person's page (:class:`PersonPageView`: :mod:`campaigns.people.persons`), their tags
(:class:`PersonTagsView`, POST) and *Erase this person* (:class:`PersonEraseView`, confirmed).

A person is addressed by one of their recipient rows' id, so no identity is written in a URL.
Seeing a person needs the results' view permission or ``erase_person`` (personal data, who erases
them sees them first: :func:`.access.may_see_persons`); changing their tags ``add_recipienttag`` /
``delete_recipienttag``; erasing them ``erase_person``.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views import View

from tgcampaigns import audit
from tgcampaigns.audit import AuditAction
from tgcampaigns.permissions import may_view

from ..lists.search import recipient_filter
from ..models import Recipient
from ..people import erasure, persons, tagging
from .access import may_erase_persons, may_see_persons, may_see_results
from .malformed_query import MALFORMED_QUERY_ERRORS, bad_query, savepoint

SEARCH_ROWS = 50  # rows a name or phone-prefix search lists


def may_add_tags(request: HttpRequest) -> bool:
    return request.user.has_perm("campaigns.add_recipienttag")


def may_remove_tags(request: HttpRequest) -> bool:
    return request.user.has_perm("campaigns.delete_recipienttag")


class PersonsView(View):
    """A page of the persons: ``model_admin`` (given to :meth:`as_view`) supplies the admin's
    context; every page needs :func:`.access.may_see_persons` (PermissionDenied)."""

    model_admin: admin.ModelAdmin = None

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not may_see_persons(request):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def render(self, request: HttpRequest, template: str, **context) -> TemplateResponse:
        admin_site = self.model_admin.admin_site
        base = {**admin_site.each_context(request), "opts": self.model_admin.opts}
        return TemplateResponse(request, f"admin/campaigns/person/{template}", {**base, **context})


class PersonSearchView(PersonsView):
    """GET ``?q=``: an identity that names a person opens their page; otherwise the rows whose
    name or phone starts with ``q`` (index look-ups only: :func:`campaigns.lists.search.recipient_filter`)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        """The search, answering 400 to a term the database refuses (a NUL byte, as every
        changelist does: :mod:`.malformed_query`)."""
        try:
            with savepoint():
                response = self.search(request, request.GET.get("q", "").strip())
                if hasattr(response, "render") and not response.is_rendered:
                    response.render()
        except MALFORMED_QUERY_ERRORS:
            return bad_query()
        return response

    def search(self, request: HttpRequest, term: str) -> HttpResponse:
        row_ids, held = persons.rows_of(term) if term else ([], False)
        if row_ids:
            return redirect("admin:campaigns_person_page", row_ids[0])
        rows = []
        if term and (wanted := recipient_filter(term)) is not None:
            rows = list(
                Recipient.objects.filter(wanted)
                .exclude(key="")
                .select_related("recipient_list")
                .distinct()
                .order_by("name_key", "key")[:SEARCH_ROWS]
            )
        return self.render(
            request,
            "search.html",
            title="Persons",
            term=term,
            rows=[(row, persons.row_name(row)) for row in rows],
            more=len(rows) == SEARCH_ROWS,
            known_without_rows=held,
            may_see_results=may_see_results(request),
        )


class PersonView(PersonsView):
    """A page of one person, addressed by one of their rows (``row_id``); Http404 when the row
    is gone (erased, its list deleted) or names nobody."""

    def dispatch(self, request: HttpRequest, row_id: int, **kwargs) -> HttpResponse:
        if not may_see_persons(request):
            raise PermissionDenied
        self.person = persons.person_of_row(row_id)
        if self.person is None:
            raise Http404("No such person")
        self.row_id = row_id
        return super().dispatch(request, **kwargs)


class PersonPageView(PersonView):
    """Everything held about the person; the tag and erase controls only for who may use them."""

    def get(self, request: HttpRequest) -> HttpResponse:
        person = self.person
        return self.render(
            request,
            "page.html",
            title=f"Person: {person.name}",
            person=person,
            row_id=self.row_id,
            rows=[(row, person.row_consent.get(row.pk, "")) for row in person.rows],
            may_add_tags=may_add_tags(request),
            may_remove_tags=may_remove_tags(request),
            may_erase=may_erase_persons(request),
            may_see_results=may_see_results(request),
            may_see_lists=may_view(request.user, "campaigns.recipientlist"),
            timeline_cap=persons.TIMELINE_RESULTS,
        )


class PersonTagsView(PersonView):
    """POST ``add`` (names, comma-separated) onto every valid row of the person, or ``remove``
    (one name) from all their rows; audited. 403 without the permission."""

    def post(self, request: HttpRequest) -> HttpResponse:
        adding = "add" in request.POST
        if not (may_add_tags(request) if adding else may_remove_tags(request)):
            raise PermissionDenied
        names = tagging.parse_names(request.POST.get("add" if adding else "remove", ""))
        if adding:
            rows = Recipient.objects.filter(pk__in=self.person.valid_row_ids)
            tags, count = tagging.add_tags(rows, names)
        else:
            rows = Recipient.objects.filter(pk__in=[r.pk for r in self.person.rows])
            tags, count = tagging.remove_tags(rows, names)
        if tags:
            said = ", ".join(t.name for t in tags)
            action = AuditAction.TAGS_ADD if adding else AuditAction.TAGS_REMOVE
            verb = "added to" if adding else "removed from"
            audit.record(request, action, f"Tags {said} {verb} a person's rows ({count} changed).", rows)
            messages.success(request, f"{said}: {verb} {len(rows)} row(s).")
        else:
            messages.warning(request, "No tag named.")
        return redirect("admin:campaigns_person_page", self.row_id)


class PersonEraseView(PersonView):
    """GET: what erasing will do and the button; POST ``confirmed``: :func:`erasure.erase_person`."""

    def dispatch(self, request: HttpRequest, row_id: int, **kwargs) -> HttpResponse:
        if not may_erase_persons(request):
            raise PermissionDenied
        return super().dispatch(request, row_id, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(
            request, "erase.html", title="Erase this person", person=self.person, row_id=self.row_id
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        if request.POST.get("confirmed") != "yes":
            return self.get(request)
        try:
            report = erasure.erase_person(self.person.keys[0], actor=request)
        except erasure.ErasureError as exc:
            messages.error(request, str(exc))
            return redirect("admin:campaigns_person_page", self.row_id)
        messages.success(request, report.summary())
        return redirect("admin:campaigns_person_changelist")
