"""The API's pages, one rule for every list endpoint: cursor pagination on ``id``, newest first (a
page costs one index range scan however deep it is: an OFFSET would read every row before it, and
rows added meanwhile never shift a page), and its parameters held to their ranges.

- ``?limit=``: rows a page, a whole number in :data:`LIMIT` (default 100); anything else is a 400
  problem naming ``limit`` and the range (DRF falls back to the default without a word);
- ``?cursor=``: from the previous page's ``next``; one the API did not give is a 400 naming
  ``cursor`` (DRF: a 404);
- ``?offset=``, ``?page=``, ``?page_size=`` (other paginators' words) are refused naming
  themselves: ignored, a client stepping through offsets would read the first page forever;
- an endpoint that answers everything at once (not paged) refuses ``limit`` and ``cursor``
  instead of ignoring them.

:class:`IdCursor` is the paginator; :func:`check_parameters` is called by every API view
(:class:`tgcampaigns.apitokens.views.ApiView`) before it answers.
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from urllib.parse import parse_qs

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination, CursorPagination
from rest_framework.request import Request

from tgcampaigns.bounds import ROW_ID, Bounds

LIMIT = Bounds(1, 1000, "rows")
DEFAULT_LIMIT = 100
# Other paginators' parameters, which a cursor page would silently ignore.
FOREIGN = ("offset", "page", "page_size")
CURSOR_REFUSED = "Not a cursor this API gave: follow a page's next or previous link as it is."


class IdCursor(CursorPagination):
    """``?cursor=`` from the previous page's ``next``; ``?limit=`` rows a page (:data:`LIMIT`,
    default :data:`DEFAULT_LIMIT`). Raises ValidationError (a 400 problem) for either out of
    its range."""

    ordering = "-id"
    page_size = DEFAULT_LIMIT
    page_size_query_param = "limit"
    max_page_size = LIMIT.high

    def get_page_size(self, request: Request) -> int:
        given = request.query_params.get(self.page_size_query_param)
        return self.page_size if given is None else read_limit(given)

    def decode_cursor(self, request: Request):
        """DRF's cursor, read only when it is one :meth:`encode_cursor` makes: strict base64 (DRF
        skips what is no base64, so ``%%%`` was the first page again), of an offset, a direction
        and a position that is a row's id (``p=abc`` was a 500 in the id's filter)."""
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is not None and not _made_here(encoded):
            raise ValidationError({self.cursor_query_param: [CURSOR_REFUSED]})
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: [CURSOR_REFUSED]}) from None

    def get_schema_operation_parameters(self, view) -> list[dict]:
        """DRF's parameters, with the limit's range and default."""
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=LIMIT.low, maximum=LIMIT.high, default=self.page_size)
                parameter["description"] = f"Rows a page, {LIMIT.span} (default {self.page_size})."
        return parameters


def _made_here(encoded: str) -> bool:
    """Whether ``encoded`` is a cursor :class:`IdCursor` could have made."""
    try:
        tokens = parse_qs(
            b64decode(encoded.encode("ascii"), validate=True).decode("ascii"), strict_parsing=True
        )
    except (UnicodeError, binascii.Error, ValueError):
        return False
    if not tokens or set(tokens) - {"o", "r", "p"} or any(len(v) != 1 for v in tokens.values()):
        return False
    offset, reverse, position = (tokens.get(k, ["0"])[0] for k in ("o", "r", "p"))
    return (
        offset.isdigit()
        and reverse in ("0", "1")
        and position.isascii()
        and position.isdigit()
        and (int(position) in ROW_ID or "p" not in tokens)
    )


def read_limit(given: str) -> int:
    """``?limit=``'s text as a whole number in :data:`LIMIT`; ValidationError naming ``limit``
    and the range otherwise ("abc", "-5", "0", "2.5", "1e308", 10^30)."""
    text = given.strip()
    number = int(text) if text.isascii() and text.isdigit() else None
    if number not in LIMIT:
        raise ValidationError({"limit": [LIMIT.message]})
    return number


def check_parameters(request: Request, paginator: BasePagination | None) -> None:
    """Refuse (ValidationError, a 400 problem naming the parameter) paging parameters the
    endpoint would ignore: another paginator's anywhere, and ``limit`` or ``cursor`` where
    ``paginator`` is None (the endpoint answers everything at once)."""
    params = request.query_params
    for name in FOREIGN:
        if name in params:
            raise ValidationError(
                {name: ["Not a parameter of this API: pages are cursors, follow each page's next link."]}
            )
    if paginator is None:
        for name in ("limit", "cursor"):
            if name in params:
                raise ValidationError({name: ["This endpoint answers everything at once: it has no pages."]})
