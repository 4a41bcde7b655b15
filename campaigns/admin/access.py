"""Who may see and take away personal data in the admin (docs/design.md "Personal data").

Results hold personal data: the recipient, their fields, the message as they got it. Every page
that shows one needs the results' view permission; a download also needs ``export_messageresult``.
A person's pages (the search, the page that gathers everything held about them) are open to those
and to whoever may erase a person (``erase_person``): who erases someone finds them and sees what
goes first.
"""

from __future__ import annotations

from django.http import HttpRequest

from tgcampaigns.permissions import may_view


def may_see_results(request: HttpRequest) -> bool:
    return may_view(request.user, "campaigns.messageresult")  # view, or change (Django's rule)


def may_export_results(request: HttpRequest) -> bool:
    return may_see_results(request) and request.user.has_perm("campaigns.export_messageresult")


def may_erase_persons(request: HttpRequest) -> bool:
    return request.user.has_perm("campaigns.erase_person")


def may_see_persons(request: HttpRequest) -> bool:
    """The persons' search and pages: who may see results, or erase a person."""
    return may_see_results(request) or may_erase_persons(request)
