"""The staff side, one module per model admin: recipient lists (``lists``), campaigns
(``campaigns``, with the rooms of its page: ``operations``, ``launching``, ``retry``,
``testsends`` — and the seed lists' admin —, ``composer``), results (``results``), the replies they received (``replies``), suppressions
(``suppressions``) (the audit trail is :mod:`tgcampaigns.audit`), and their forms. django-q2's and django-axes'
pages are superuser-only (``superuser_only``); every changelist of the site answers malformed
query parameters with 400 (``guard``; keep it last: it wraps the admins registered before it)."""

from . import campaigns, lists, replies, results, superuser_only, suppressions
from .guard import guard_every_changelist

guard_every_changelist()

__all__ = ["campaigns", "lists", "replies", "results", "superuser_only", "suppressions"]
