"""The base of every API endpoint: token authentication, the rate limit, permissions named per
method, paging parameters held to their ranges (:mod:`.paging`), idempotent POSTs
(:mod:`.idempotency`) and problems (:mod:`.problems`)."""

from __future__ import annotations

from collections.abc import Callable

from rest_framework import generics, permissions, renderers
from rest_framework.request import Request
from rest_framework.response import Response

from . import idempotency, paging
from .problems import CONTENT_TYPE, problem


class Replay(Exception):
    """Carries the stored answer of an idempotent POST out of ``initial``."""

    def __init__(self, response: Response):
        super().__init__("replay")
        self.response = response


class HasPerms(permissions.BasePermission):
    """The view's ``perms[method]`` checked on the token's user as the admin checks them: Django
    permission names, all required, or the admin's own rule for the page, a callable taking the
    request and returning whether it is allowed (``may_see_persons``: one permission *or*
    another). A user without them gets a 403 problem."""

    message = "Your role does not allow this (the token carries its user's permissions)."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method == "OPTIONS":  # what the endpoint accepts: no data
            return True
        perms = getattr(view, "perms", {})
        method = "GET" if request.method == "HEAD" else request.method  # HEAD runs GET's handler
        if method not in perms:
            return False
        rule = perms[method]
        return rule(request) if callable(rule) else request.user.has_perms(rule)


class ApiView(generics.GenericAPIView):
    """Subclasses set ``perms = {"GET": (…), "POST": (…)}``. A GET's paging parameters are held to
    :mod:`.paging`'s rule (a 400 problem naming the one at fault). A POST with
    ``Idempotency-Key`` is answered once: a retry gets the first answer."""

    permission_classes = [HasPerms]
    perms: dict[str, tuple[str, ...] | Callable[[Request], bool]] = {}

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        self._idempotent = None
        if request.method in ("GET", "HEAD"):
            paging.check_parameters(request, self.paginator)
        key = request.headers.get(idempotency.HEADER)
        if request.method != "POST" or key is None:
            return
        try:
            found = idempotency.begin(request, request.auth, key)
        except idempotency.Refused as refused:
            raise Replay(problem(refused.status, refused.detail, refused.code)) from None
        if isinstance(found, Response):
            raise Replay(found)
        self._idempotent = found

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, Replay):
            return exc.response
        try:
            return super().handle_exception(exc)
        except Exception:
            record, self._idempotent = getattr(self, "_idempotent", None), None
            if record is not None:  # a 500 follows: not an answer to keep
                idempotency.forget(record)
            raise

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.status_code >= 400:
            # A problem is JSON whatever the client asked for (a CSV export's refusal too).
            response.accepted_renderer = renderers.JSONRenderer()
            response.accepted_media_type = response.content_type = CONTENT_TYPE
        record = getattr(self, "_idempotent", None)
        if record is not None:
            self._idempotent = None
            idempotency.finish(record, response)
        return response
