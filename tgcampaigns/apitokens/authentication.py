"""``Authorization: Bearer tgc_…``: the request acts as the token's user, with that user's
permissions. A missing, unknown or revoked token, or one of an inactive user, is a 401 problem
(:mod:`.problems`) that names the scheme in ``WWW-Authenticate``."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .models import ApiToken, digest

KEYWORD = "Bearer"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """DRF authentication by API token; ``request.auth`` is the :class:`ApiToken`."""

    def authenticate(self, request) -> tuple | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != KEYWORD.lower():
            return None  # not ours: NotAuthenticated (401) follows
        token = token.strip()
        if not token or " " in token or len(token) > 200:
            raise exceptions.AuthenticationFailed("The Authorization header must be “Bearer <token>”.")
        found = ApiToken.objects.usable().select_related("user").filter(digest=digest(token)).first()
        if found is None:
            raise exceptions.AuthenticationFailed("The token is unknown, revoked, or its user is inactive.")
        found.touch()
        return found.user, found

    def authenticate_header(self, request) -> str:
        return f'{KEYWORD} realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes the authentication."""

    target_class = BearerTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token made on the user's admin page.",
        }
