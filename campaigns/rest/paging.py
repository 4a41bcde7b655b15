"""Cursor pagination on ``id``, newest first: a page costs one index range scan however deep it
is (an OFFSET would read every row before it), and rows added meanwhile never shift a page."""

from rest_framework.pagination import CursorPagination


class IdCursor(CursorPagination):
    """``?cursor=`` from the previous page's ``next``; ``?limit=`` rows a page (default 100, at
    most 1000)."""

    ordering = "-id"
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000
