"""The staff side, one module per model admin: recipient lists (``lists``), campaigns
(``campaigns``), results (``results``), suppressions (``suppressions``), the audit trail (``audit``), and their forms; django-q2's pages
are superuser-only (``djangoq``)."""

from . import audit, campaigns, djangoq, lists, results, suppressions

__all__ = ["audit", "campaigns", "djangoq", "lists", "results", "suppressions"]
