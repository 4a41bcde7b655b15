"""Idempotent POSTs: an ``Idempotency-Key`` header makes a retried request return the first
answer instead of acting twice (a launch, an upsert, an opt-out).

The first request with a key stores (token, key, fingerprint) before it acts, with no status yet;
its answer is stored after. A retry with the same key and body gets the stored answer (header
``Idempotent-Replayed: true``); the same key with another body is a 422 problem; a retry while
the first is still being answered is a 409 problem (try again). A 5xx answer is not kept, so a
retry acts again. Keys are per token and kept for :data:`KEEP_FOR`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from .models import ApiToken, IdempotentRequest

HEADER = "Idempotency-Key"
KEEP_FOR = timedelta(hours=24)
# A first request still unanswered after this is taken to have died with its process.
ABANDONED_AFTER = timedelta(minutes=5)
MAX_KEY_LENGTH = 255


class Refused(Exception):
    """The key cannot be used now: ``status`` 409 (in progress), 422 (another body), 400."""

    def __init__(self, status: int, detail: str, code: str):
        super().__init__(detail)
        self.status, self.detail, self.code = status, detail, code


def fingerprint(request) -> str:
    """SHA-256 of the method, the path with its query, and the body (a multipart body by its
    fields and each file's bytes, as parsed)."""
    h = hashlib.sha256(f"{request.method} {request.get_full_path()}\n".encode())
    if request.content_type.startswith("multipart/"):
        for name, value in sorted(request.data.lists() if hasattr(request.data, "lists") else []):
            for item in value:
                if hasattr(item, "chunks"):
                    h.update(f"{name}=file:{item.name}:".encode())
                    for chunk in item.chunks():
                        h.update(chunk)
                    item.seek(0)
                else:
                    h.update(f"{name}={item}\n".encode())
    else:
        h.update(request.body)
    return h.hexdigest()


def begin(request, token: ApiToken, key: str) -> IdempotentRequest | Response:
    """The stored answer to replay, or the new record to finish with :func:`finish`. Raises
    :class:`Refused`."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Refused(400, f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters.", "invalid_idempotency_key")
    now = timezone.now()
    print_ = fingerprint(request)
    IdempotentRequest.objects.filter(token=token, created_at__lt=now - KEEP_FOR).delete()
    try:
        with transaction.atomic():
            return IdempotentRequest.objects.create(token=token, key=key, fingerprint=print_, created_at=now)
    except IntegrityError:
        pass
    first = IdempotentRequest.objects.filter(token=token, key=key).first()
    if first is None:  # deleted meanwhile (a 5xx answer): the client may try again
        raise Refused(
            409, "A request with this key was just being answered; try again.", "idempotency_conflict"
        )
    if first.fingerprint != print_:
        raise Refused(
            422, f"This {HEADER} was used with another request body or path.", "idempotency_key_reused"
        )
    if first.status is None:
        if first.created_at < now - ABANDONED_AFTER:
            IdempotentRequest.objects.filter(pk=first.pk, status=None).update(created_at=now)
            return first
        raise Refused(
            409, "The first request with this key is still being answered; try again.", "idempotency_conflict"
        )
    replay = Response(first.body, status=first.status)
    replay["Idempotent-Replayed"] = "true"
    if first.status >= 400:
        replay.content_type = "application/problem+json"
    return replay


def finish(record: IdempotentRequest, response) -> None:
    """Keep ``response``'s status and JSON body for the retries (a 5xx answer is forgotten)."""
    if response.status_code >= 500 or not hasattr(response, "data"):
        forget(record)
        return
    body = json.loads(json.dumps(response.data, cls=JSONEncoder))
    IdempotentRequest.objects.filter(pk=record.pk).update(status=response.status_code, body=body)


def forget(record: IdempotentRequest) -> None:
    """Drop the record of a request that got no answer worth keeping: a retry acts again."""
    IdempotentRequest.objects.filter(pk=record.pk).delete()
