"""The staff side, one module per model admin: recipient lists (``lists``), campaigns
(``campaigns``), results (``results``), suppressions (``suppressions``), the audit trail (``audit``), and their forms; django-q2's pages
are superuser-only (``djangoq``); every changelist of the site answers malformed query
parameters with 400 (``guard``; keep it last: it wraps the admins registered before it)."""

from . import audit, campaigns, djangoq, lists, results, suppressions
from .guard import guard_every_changelist

guard_every_changelist()

__all__ = ["audit", "campaigns", "djangoq", "lists", "results", "suppressions"]
