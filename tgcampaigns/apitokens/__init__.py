"""The REST API's door: API tokens (per user, hashed at rest, shown once, revocable), the bearer
authentication that turns one into its user, the rate limit per token, idempotent POSTs, and the
problem documents (RFC 9457) every error under ``/api/`` answers with. The endpoints themselves
are in :mod:`campaigns.rest`; this app imports nothing from ``campaigns``."""
