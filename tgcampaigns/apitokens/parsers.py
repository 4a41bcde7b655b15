"""The API's JSON parser: DRF's, refusing a string no database can store.

JSON may escape a UTF-16 surrogate alone (``"\\ud800"``); Python's ``json`` reads it as a string
that cannot be encoded as UTF-8, so SQLite and PostgreSQL fail on it at the write, a server error
after the work was done. Such a body is refused as a parse error instead (400). A surrogate pair
(``"\\ud83c\\udf39"``, an emoji) is one character and is read as it always was.
"""

from __future__ import annotations

import io
import re
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# A \uD800–\uDFFF escape: only then can the parsed data hold a lone surrogate (raw bytes cannot).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
LONE_SURROGATE = (
    "JSON parse error - a string holds a lone UTF-16 surrogate (such as \\ud800), which is no "
    "character: send the text as UTF-8, or each character outside the BMP as its surrogate pair"
)


class StrictJSONParser(JSONParser):
    """:class:`JSONParser` that raises :class:`ParseError` for a string holding a lone surrogate."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        if stream is None:
            return super().parse(stream, media_type, parser_context)
        body = stream.read()
        data = super().parse(io.BytesIO(body), media_type, parser_context)
        if _SURROGATE_ESCAPE.search(body) and _holds_lone_surrogate(data):
            raise ParseError(LONE_SURROGATE)
        return data


def _holds_lone_surrogate(data: Any) -> bool:
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
