"""Who may see and take away personal data in the admin (docs/design.md "Personal data").

Results hold personal data: the recipient, their fields, the message as they got it. Every page
that shows one needs the results' view permission; a download also needs ``export_messageresult``.
"""

from __future__ import annotations

from django.http import HttpRequest


def may_see_results(request: HttpRequest) -> bool:
    return request.user.has_perm("campaigns.view_messageresult")


def may_export_results(request: HttpRequest) -> bool:
    return request.user.has_perms(["campaigns.view_messageresult", "campaigns.export_messageresult"])
