"""Session health: who a session is, whether it is authorised, its flood wait and last error.

Used by the admin action "Check health" and ``manage.py checksessions``. A check connects the
session, so it first takes the session's lease (one process per auth key: a second connection
with the same key gets it revoked, AUTH_KEY_DUPLICATED); a session in use is reported, not touched.
"""

from __future__ import annotations

from dataclasses import dataclass

from asgiref.sync import async_to_sync
from django.utils import timezone

from . import leases
from .models import SessionStatus, TelegramSession
from .transport import ErrorKind, TransportError


@dataclass
class Health:
    """One check's outcome. ``flood_wait_left`` in seconds; ``error`` a code ("" when fine)."""

    session: str
    checked: bool
    authorized: bool = False
    who: str = ""
    flood_wait_left: float = 0.0
    last_error: str = ""
    error: str = ""
    in_use_by: str = ""

    def summary(self) -> str:
        """One line for staff."""
        if not self.checked:
            return f"{self.session}: not checked, in use by {self.in_use_by}."
        parts = [f"{self.session}: " + (f"authorised as {self.who}" if self.authorized else "NOT authorised")]
        if self.error:
            parts.append(f"error {self.error}")
        if self.flood_wait_left:
            parts.append(f"flood wait {int(self.flood_wait_left)} s left")
        if self.last_error:
            parts.append(f"last error {self.last_error}")
        return "; ".join(parts) + "."


def check_health(session: TelegramSession) -> Health:
    """Call ``get_me`` through the session's transport and store who it is.

    Stores ``me_id``/``me_username``/``me_name``/``last_checked_at``; a session-fatal error is
    recorded and disables the session. Never raises for Telegram failures (they are reported).
    """
    # A simulator session has no auth key to protect: it is checked even while a campaign runs.
    wanted = [] if session.is_simulated else [session]
    with leases.holding(wanted, leases.owner_name("health")) as taken:
        if wanted and not taken:
            session.refresh_from_db(fields=["lease_owner"])
            return Health(session.name, checked=False, in_use_by=session.lease_owner)
        me, error = _get_me(session)

    now = timezone.now()
    fields: dict = {"last_checked_at": now}
    if me and me.get("authorized"):
        fields.update(me_id=me["id"], me_username=me["username"], me_name=me["name"])
    TelegramSession.objects.filter(pk=session.pk).update(**fields)
    for key, value in fields.items():
        setattr(session, key, value)
    if error is not None:
        status = SessionStatus.DISABLED if error.kind is ErrorKind.SESSION else None
        session.record_error(error.code, error.text, status=status)

    health = Health(
        session.name,
        checked=True,
        authorized=bool(me and me.get("authorized")),
        flood_wait_left=session.flood_wait_left(now),
        last_error=session.last_error_code,
        error=error.code if error else "",
    )
    if health.authorized:
        handle = f"@{me['username']}" if me["username"] else (me["name"] or "")
        health.who = f"{handle} (id {me['id']}{', bot' if me['bot'] else ''})".strip()
    return health


def _get_me(session: TelegramSession) -> tuple[dict | None, TransportError | None]:
    async def call() -> dict:
        transport = session.transport()
        try:
            await transport.connect()
            return await transport.get_me()
        finally:
            await transport.disconnect()

    try:
        return async_to_sync(call)(), None
    except TransportError as exc:
        return None, exc
