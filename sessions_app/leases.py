"""Short leases for one-off connections (health check, contact cleanup) outside the engine.

One process per auth key across the cluster: a second connection with the same key gets it
revoked (AUTH_KEY_DUPLICATED). Unlike the engine's lease these are taken whatever the session's
status (a health check may look at a disabled session).
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .models import TelegramSession


def owner_name(purpose: str) -> str:
    """A lease owner for this process: ``purpose:host:pid``."""
    return f"{purpose}:{socket.gethostname()}:{os.getpid()}"


def take(session: TelegramSession, owner: str) -> bool:
    """Take the lease if nobody holds it (or it expired); True when taken. One guarded UPDATE."""
    now = timezone.now()
    until = now + timedelta(seconds=float(settings.TGC_LEASE_SECONDS))
    free = Q(lease_owner="") | Q(lease_owner=owner) | Q(lease_expires_at=None) | Q(lease_expires_at__lt=now)
    return (
        TelegramSession.objects.filter(free, pk=session.pk).update(lease_owner=owner, lease_expires_at=until)
        == 1
    )


def release(session: TelegramSession, owner: str) -> None:
    TelegramSession.objects.filter(pk=session.pk, lease_owner=owner).update(
        lease_owner="", lease_expires_at=None
    )
