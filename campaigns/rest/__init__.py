"""The REST API under ``/api/v1/`` (docs/api.md): thin views over the rooms' services, one module
per resource — recipient lists (``lists_api``), suppressions and persons (``people_api``),
campaigns (``campaigns_api``), results and replies (``results_api``) — wired in ``routes``.

Authentication, the rate limit, permissions, idempotent POSTs and the problem documents every
error answers with come from :mod:`tgcampaigns.apitokens`; the token's user acts with that
user's permissions, as in the admin, and every write is audited naming the token.
"""
