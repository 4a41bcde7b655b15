"""The staff side, one module per model admin, each named for it: recipient lists
(``recipient_list_admin``, its forms ``recipient_list_forms``), campaigns (``campaign_admin``: the
changelist and the form; its pages are view classes in ``campaign_views``, ``retry_view``,
``winner_view``, ``send_test_view``, ``composer_views``, what the page shows in
``campaign_change_page``, the operations in ``campaign_operations``), seed lists
(``seed_list_admin``), segments with their count, sample and why (``segment_admin``; its form of plain
fields ``segment_forms``), results (``result_admin``, with ``result_filters`` and
``results_changelist`` for a million rows), the replies they received (``reply_admin``),
suppressions (``suppression_admin``), persons and tags (``person_admin``: the search, a person's
page and its tags and erasure in ``person_views``; the recipients' tag actions in
``recipient_tag_actions``), and the campaign and suppression forms (``forms``); the audit
trail's admin is :mod:`tgcampaigns.audit.admin`. django-q2's and django-axes' pages are superuser-only
(``superuser_only``); every changelist of the site answers malformed query parameters with 400
(``malformed_query``; keep it last: it wraps the admins registered before it)."""

from . import (
    campaign_admin,
    person_admin,
    recipient_list_admin,
    reply_admin,
    result_admin,
    seed_list_admin,
    segment_admin,
    superuser_only,
    suppression_admin,
)
from .malformed_query import guard_every_changelist

guard_every_changelist()

__all__ = [
    "campaign_admin",
    "person_admin",
    "recipient_list_admin",
    "reply_admin",
    "result_admin",
    "seed_list_admin",
    "segment_admin",
    "superuser_only",
    "suppression_admin",
]
