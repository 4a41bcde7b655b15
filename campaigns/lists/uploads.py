"""Cutting off a recipient file upload that is over ``TGC_IMPORT_MAX_BYTES`` while it arrives.

Django stores an upload (in memory or a temporary file) before any view sees it, so a 200 MB
file would be received whole before the form could refuse it. This upload handler runs first
for the recipient list upload page (:data:`LIMITED_VIEWS`): a request whose Content-Length is
over the limit is stopped before its body is read, and a chunked one as soon as it passes the
limit. The view finds the reason in ``request.upload_refused`` and shows it on the form. The
page also checks the file's size in the browser before sending it; a proxy in front should
refuse bodies over the limit too (nginx ``client_max_body_size``).

A request refused by its Content-Length is answered without the file: Django does not catch a
``StopUpload`` raised before it parses the body (it answered 500), so the handler parses the
form's small fields that come before the file in the first :data:`FORM_OVERHEAD` bytes (the CSRF
token, the list's name) and hands those on as the whole request. A chunked request is stopped as
soon as it passes the limit (Django catches ``StopUpload`` there and keeps the fields read so far).
"""

from __future__ import annotations

import re

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

from .limits import Limits

# Views (URL names) whose uploads are recipient files.
LIMITED_VIEWS = {"admin:campaigns_recipientlist_add"}
# Room for the form's other fields around the file in a multipart body.
FORM_OVERHEAD = 64 * 1024


class LimitedUploadHandler(FileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        match = getattr(self.request, "resolver_match", None)
        self.limits = Limits.from_settings() if match and match.view_name in LIMITED_VIEWS else None
        if self.limits and content_length and content_length > self.limits.max_bytes + FORM_OVERHEAD:
            at_least = content_length - FORM_OVERHEAD
            self.request.upload_refused = self.limits.too_large(at_least, at_least=True)
            # Not reading the rest: the point is to stop before the whole body has arrived.
            return leading_fields(input_data.read(FORM_OVERHEAD), boundary, encoding), MultiValueDict()
        return None

    def receive_data_chunk(self, raw_data, start):
        if self.limits and start + len(raw_data) > self.limits.max_bytes:
            self._refuse(start + len(raw_data))
        return raw_data

    def file_complete(self, file_size):
        return None

    def _refuse(self, at_least: int) -> None:
        self.request.upload_refused = self.limits.too_large(at_least, at_least=True)
        # Not reading the rest: the point is to stop before the whole body has arrived.
        raise StopUpload(connection_reset=True)


_DISPOSITION = re.compile(rb'content-disposition:[^\r\n]*\bname="([^"]*)"([^\r\n]*)', re.IGNORECASE)


def leading_fields(head: bytes, boundary: bytes | str, encoding: str | None) -> QueryDict:
    """The complete form fields (not files) among the first bytes ``head`` of a multipart body
    with ``boundary``, as a QueryDict; a part cut off by the end of ``head`` is left out."""
    fields = QueryDict(mutable=True, encoding=encoding)
    delimiter = b"--" + (boundary.encode("ascii") if isinstance(boundary, str) else boundary)
    parts = head.split(delimiter)
    for part in parts[1:-1]:  # the last part may be cut off
        headers, separator, body = part.partition(b"\r\n\r\n")
        found = _DISPOSITION.search(headers)
        if not separator or not found or b"filename=" in found.group(2).lower():
            continue
        value = body[:-2] if body.endswith(b"\r\n") else body
        charset = encoding or "utf-8"
        fields.appendlist(found.group(1).decode(charset, "replace"), value.decode(charset, "replace"))
    fields._mutable = False
    return fields
