"""The staff side, one module per model admin: recipient lists (``lists``), campaigns
(``campaigns``), results (``results``), suppressions (``suppressions``), and their forms."""

from . import campaigns, lists, results, suppressions

__all__ = ["campaigns", "lists", "results", "suppressions"]
