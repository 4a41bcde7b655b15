"""Cutting off a recipient file upload that is over ``TGC_IMPORT_MAX_BYTES`` while it arrives.

Django stores an upload (in memory or a temporary file) before any view sees it, so a 200 MB
file would be received whole before the form could refuse it. This upload handler runs first
for the recipient list upload page (:data:`LIMITED_VIEWS`): a request whose Content-Length is
over the limit is stopped before its body is read, and a chunked one as soon as it passes the
limit. The view finds the reason in ``request.upload_refused`` and shows it on the form. The
page also checks the file's size in the browser before sending it; a proxy in front should
refuse bodies over the limit too (nginx ``client_max_body_size``).
"""

from __future__ import annotations

from django.core.files.uploadhandler import FileUploadHandler, StopUpload

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
            self._refuse(content_length - FORM_OVERHEAD)
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
