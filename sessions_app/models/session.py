"""A Telegram session (user account or bot): credentials, pace, FloodWait, lease, health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Case, F, Q, Value, When

from tgcampaigns import counters, crypto
from tgcampaigns.bounds import Bounds

from .. import clock, servers
from ..transport.base import ErrorKind, RefusingTransport, Transport, TransportError
from . import session_bounds
from .session_bounds import API_ID, DAILY_CAP, FASTEST_DELAY, MAX_PER_MINUTE, SEND_DELAY, WEIGHT


class SessionKind(models.TextChoices):
    USER = "user", "User account"
    BOT = "bot", "Bot"


class Backend(models.TextChoices):
    TELETHON = "telethon", "Telegram (Telethon)"
    SIMULATOR = "simulator", "Simulator (no real messages)"


class SessionStatus(models.TextChoices):
    NEW = "new", "Not logged in"
    AWAITING_CODE = "awaiting_code", "Waiting for login code"
    AWAITING_PASSWORD = "awaiting_password", "Waiting for 2FA password"
    ACTIVE = "active", "Active"
    DISABLED = "disabled", "Disabled (session error)"
    QUARANTINED = "quarantined", "Quarantined (spam-limited)"
    PAUSED = "paused", "Paused by operator"


# Defaults per kind. Bots: ~30 messages/s in bulk and 1/s per chat (Telegram Bots FAQ,
# core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this). User accounts: Telegram
# publishes no figure; cold messages to non-contacts bring PEER_FLOOD after a few dozen, so the
# default is a slow, conservative pace an operator raises only for warm audiences. A bot's is the
# fastest any session may go (session_bounds.FASTEST_DELAY).
PACE_DEFAULTS = {
    SessionKind.USER: {"send_delay": 20.0, "max_per_minute": 3, "daily_cap": 40},
    SessionKind.BOT: {"send_delay": FASTEST_DELAY, "max_per_minute": MAX_PER_MINUTE.high, "daily_cap": 0},
}


def utc_day_start(now: datetime) -> datetime:
    """Midnight UTC of ``now``'s day: daily caps count sends per UTC day."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


# Statuses of a login in progress: a session in one of them is not logged in yet.
LOGIN_STEPS = (SessionStatus.AWAITING_CODE, SessionStatus.AWAITING_PASSWORD)


class TelegramSessionQuerySet(models.QuerySet):
    """The session verbs staff use (the admin actions call these) and the daily request counter.

    Each status verb is one UPDATE over the selected sessions and returns the sessions it changed
    (a list, read before the UPDATE, so the caller can record them in the audit trail).
    """

    def on_this_server(self) -> TelegramSessionQuerySet:
        """Sessions of the configured MTProto server (:func:`sessions_app.servers.telegram_server`),
        and simulators: a session logged in on another server (staging, Telegram's test DCs)
        never sends from here."""
        return self.filter(Q(backend=Backend.SIMULATOR) | Q(server=servers.telegram_server()))

    def usable(self) -> TelegramSessionQuerySet:
        """Sessions that may send: active, and of the configured server (:meth:`on_this_server`)."""
        return self.filter(status=SessionStatus.ACTIVE).on_this_server()

    def logged_in(self) -> TelegramSessionQuerySet:
        """Sessions that can send once active: simulators, and accounts with a stored session."""
        return self.filter(Q(backend=Backend.SIMULATOR) | ~Q(session_string_encrypted=""))

    def _set_status(self, status: str) -> list[TelegramSession]:
        changed = list(self)
        self.model.objects.filter(pk__in=[s.pk for s in changed]).update(status=status)
        for session in changed:
            session.status = status
        return changed

    def disable(self) -> list[TelegramSession]:
        """Pause the sessions (status ``paused``): no sends until re-activated; their pending rows
        go to the campaign's other sessions."""
        return self._set_status(SessionStatus.PAUSED)

    def reactivate(self) -> list[TelegramSession]:
        """Logged-in sessions that are paused, disabled or new become ``active``. Never a
        quarantined one (Telegram spam-limited it: :meth:`unquarantine`, with a reason) nor one in
        the middle of a login."""
        ready = self.logged_in().exclude(
            status__in=(*LOGIN_STEPS, SessionStatus.QUARANTINED, SessionStatus.ACTIVE)
        )
        return ready._set_status(SessionStatus.ACTIVE)

    def unquarantine(self) -> list[TelegramSession]:
        """Quarantined sessions become ``active`` again (the caller records the staff's reason)."""
        return self.filter(status=SessionStatus.QUARANTINED)._set_status(SessionStatus.ACTIVE)

    def release_leases(self) -> int:
        """End the selected sessions' leases, whoever holds them, in one UPDATE; returns how many
        were held. :func:`sessions_app.leases.release` narrows it to one owner's leases. From the
        admin only for leases of dead workers: a live holder and the next one would share an auth
        key, and Telegram revokes it."""
        return self.exclude(lease_owner="").update(lease_owner="", lease_expires_at=None, current_load=0)

    # The daily request counter ------------------------------------------------------------------
    def count_requests(self, n: int = 1, now: datetime | None = None) -> int:
        """Add ``n`` requests that reached Telegram to today's count (UTC day) of the selected
        sessions, in one UPDATE; a count of an earlier day starts again from ``n``. Returns the
        number of sessions updated."""
        today = utc_day_start(now or clock.now()).date()
        return self.update(
            requests_count=Case(
                When(requests_day=today, then=F("requests_count") + n),
                default=Value(n),
                output_field=models.PositiveIntegerField(),
            ),
            requests_day=today,
        )

    def with_requests_today(self, now: datetime | None = None) -> TelegramSessionQuerySet:
        """Annotate ``requests_today_count``: requests that reached Telegram today (UTC)."""
        today = utc_day_start(now or clock.now()).date()
        return self.annotate(
            requests_today_count=Case(
                When(requests_day=today, then=F("requests_count")),
                default=Value(0),
                output_field=models.PositiveIntegerField(),
            )
        )


def validate_simulator_config(value) -> None:
    """Django validator: the simulator's numbers within their ranges
    (:func:`session_bounds.simulator_problems`)."""
    if problems := session_bounds.simulator_problems(value):
        raise ValidationError(" ".join(problems))


class TelegramSession(models.Model):
    """One Telegram account or bot the engine sends from.

    The MTProto session (DC + auth key, Telethon ``StringSession``), the bot token and the API hash
    are stored Fernet-encrypted (:mod:`tgcampaigns.crypto`). Pace: ``send_delay`` seconds between two sends,
    at most ``max_per_minute`` sends in any 60 s, at most ``daily_cap`` sends per UTC day (0 = no
    cap). ``flood_wait_until``: no request leaves before it. ``lease_owner``/``lease_expires_at``:
    the one process allowed to use the auth key (two connections with one key get it revoked).
    """

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=SessionKind.choices, default=SessionKind.USER)
    backend = models.CharField(max_length=20, choices=Backend.choices, default=Backend.TELETHON)
    phone = models.CharField(max_length=32, blank=True, help_text="E.164, for user accounts.")
    api_id = models.PositiveIntegerField(
        null=True, blank=True, help_text=f"From my.telegram.org ({API_ID.span}). Empty: TELEGRAM_API_ID."
    )
    # Encrypted like the session string: with api_id and a phone code it logs an account in.
    # Fernet tokens (tgcampaigns.crypto), re-encrypted by `manage.py rotatesecrets`.
    ENCRYPTED_FIELDS = ("session_string_encrypted", "bot_token_encrypted", "api_hash_encrypted")
    api_hash_encrypted = models.TextField(blank=True, editable=False)
    session_string_encrypted = models.TextField(blank=True, editable=False)
    bot_token_encrypted = models.TextField(blank=True, editable=False)
    login_phone_code_hash = models.CharField(max_length=64, blank=True, editable=False)

    status = models.CharField(max_length=20, choices=SessionStatus.choices, default=SessionStatus.NEW)
    # The numbers' ranges: session_bounds (checked by clean_fields, for the backend).
    weight = models.PositiveIntegerField(
        default=1, help_text=f"Share of recipients under 'weighted' ({WEIGHT.span})."
    )
    send_delay = models.FloatField(
        default=20.0,
        help_text=f"Seconds between two sends ({SEND_DELAY.span}; a simulator's from 0).",
    )
    max_per_minute = models.PositiveIntegerField(
        default=3, help_text=f"{MAX_PER_MINUTE.span}; 0 = no per-minute ceiling."
    )
    daily_cap = models.PositiveIntegerField(
        default=40, help_text=f"Requests per UTC day ({DAILY_CAP.span}); 0 = no cap."
    )
    flood_wait_until = models.DateTimeField(null=True, blank=True)
    current_load = models.IntegerField(default=0, editable=False, help_text="Sends in flight.")

    # The MTProto server the session logged in to (sessions_app.servers.telegram_server):
    # "production", "test" (Telegram's test DCs) or a staging server's name. Only sessions of the
    # configured server send. Sessions from before this field were all production's.
    server = models.CharField(
        "MTProto server",
        max_length=100,
        default=servers.PRODUCTION,
        editable=False,
        help_text="The server it logged in to: production, test, or a staging server (docs/staging.md).",
    )

    lease_owner = models.CharField(max_length=120, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    me_id = models.BigIntegerField(null=True, blank=True, editable=False)
    me_username = models.CharField(max_length=64, blank=True, editable=False)
    me_name = models.CharField(max_length=200, blank=True, editable=False)
    last_error_code = models.CharField(max_length=100, blank=True)
    last_error_text = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    # Connection failures that are no answer from Telegram (DC or proxy unreachable, a timeout,
    # another protocol layer): since when it cannot connect, failed attempts in a row, and when the
    # engine tries again (a back-off; campaigns.engine.reach). Cleared by a successful connect.
    unreachable_since = models.DateTimeField(null=True, blank=True, editable=False)
    connect_failures = models.PositiveIntegerField(default=0, editable=False)
    next_connect_at = models.DateTimeField(null=True, blank=True, editable=False)

    # After the send: whether reading a recipient's reply marks their chat read (staff's choice;
    # off by default, so the account's owner still sees the reply as new), and the catch-up's
    # cursor (the last result id whose read mark and replies were checked).
    mark_replies_read = models.BooleanField(
        default=False, help_text="Mark private replies read when they are recorded."
    )
    catch_up_cursor = models.BigIntegerField(default=0, editable=False)
    simulator_config = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_simulator_config],
        help_text="Simulator only: seed, latency_ms [min,max], transient/recipient/flood rates (0–1).",
    )
    # Requests that reached Telegram on ``requests_day`` (UTC), whatever their outcome: what the
    # daily cap counts (TelegramSessionQuerySet.count_requests, requests_today).
    requests_day = models.DateField(null=True, blank=True, editable=False)
    requests_count = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TelegramSessionQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        # The admin actions' permissions (README "Roles and permissions"): each touches Telegram
        # or a live worker's auth key, so "view" or "change" alone allows none of them.
        permissions = [
            ("login_telegramsession", "Can log a session in to Telegram"),
            ("operate_telegramsession", "Can check, disable and re-activate a session"),
            ("release_lease_telegramsession", "Can release a session's lease"),
            ("unquarantine_telegramsession", "Can un-quarantine a spam-limited session, with a reason"),
        ]

    def __str__(self) -> str:
        label = " [simulator]" if self.is_simulated else ""
        return f"{self.name}{label}"

    @property
    def is_simulated(self) -> bool:
        return self.backend == Backend.SIMULATOR

    # Secrets ---------------------------------------------------------------------------------
    @property
    def session_string(self) -> str:
        return crypto.decrypt(self.session_string_encrypted)

    @session_string.setter
    def session_string(self, value: str) -> None:
        self.session_string_encrypted = crypto.encrypt(value)

    @property
    def api_hash(self) -> str:
        """This session's own API hash ("" when it uses ``TELEGRAM_API_HASH``)."""
        return crypto.decrypt(self.api_hash_encrypted)

    @api_hash.setter
    def api_hash(self, value: str) -> None:
        self.api_hash_encrypted = crypto.encrypt(value.strip())

    @property
    def bot_token(self) -> str:
        return crypto.decrypt(self.bot_token_encrypted)

    @bot_token.setter
    def bot_token(self, value: str) -> None:
        self.bot_token_encrypted = crypto.encrypt(value)

    def store_session_string(self, value: str) -> None:
        """Save a new StringSession (encrypted) with one UPDATE, e.g. after a bot's token login."""
        self.session_string = value
        TelegramSession.objects.filter(pk=self.pk).update(
            session_string_encrypted=self.session_string_encrypted
        )

    # The one transport factory ---------------------------------------------------------------
    def transport(self) -> Transport:
        """The transport this session sends through: the labelled simulator, or Telethon.

        Built here and nowhere else. A session of another MTProto server than the configured one
        (:attr:`server`) gets a transport that refuses everything (``session`` error
        ``OTHER_SERVER``) and never connects: staging sessions never send a production campaign.
        The transport knows nothing of the ORM: what it keeps between
        processes (resolved peers, sent media, a bot's new auth key, the simulator's deliveries)
        goes through the stores handed in here. One transport serves one slice in the process that
        holds this session's lease (:mod:`sessions_app.leases`).
        """
        from asgiref.sync import sync_to_async

        if not self.is_simulated and self.server != (configured := servers.telegram_server()):
            return RefusingTransport(
                TransportError(
                    ErrorKind.SESSION,
                    "OTHER_SERVER",
                    f"this session belongs to the {self.server} server; this installation talks to "
                    f"the {configured} server (TELEGRAM_DC): log it in again there, or use it there",
                )
            )
        if self.is_simulated:
            from ..transport.simulator import SimulatorTransport
            from .simulated_delivery import DatabaseLedger

            return SimulatorTransport(self, ledger=DatabaseLedger(self.pk))
        from ..transport.telethon_transport import TelethonTransport
        from .peers import DatabasePeerCache
        from .sent_media import DatabaseMediaCache

        return TelethonTransport(
            self,
            peer_cache=DatabasePeerCache(self.pk),
            media_cache=DatabaseMediaCache(self.pk),
            save_session=sync_to_async(self.store_session_string),
        )

    # Ranges ----------------------------------------------------------------------------------
    def bounds(self) -> dict[str, Bounds]:
        """This session's bounded fields and their ranges (its backend's: :mod:`.session_bounds`)."""
        return session_bounds.bounds_for(self.backend)

    def clean_fields(self, exclude=None) -> None:
        """Django's checks, then each bounded field held to its backend's range; a refusal is the
        range's sentence alone (not Django's "Ensure this value is …")."""
        errors: dict = {}
        try:
            super().clean_fields(exclude)
        except ValidationError as refused:
            errors = refused.update_error_dict(errors)
        for name, bounds in self.bounds().items():
            value = getattr(self, name)
            if name in (exclude or ()) or (value is None and name not in errors):
                continue
            if name in errors or value not in bounds:
                errors[name] = [ValidationError(bounds.message, code="range")]
        if errors:
            raise ValidationError(errors)

    def held(self, name: str) -> int | float:
        """The bounded setting ``name`` as the engine obeys it (:meth:`Bounds.held`): a value
        stored outside its range (a raw UPDATE, a row older than the ranges) is read as the
        nearest end of it, one that is no number as the kind's default pace. Never faster than
        the range allows, never an overflow."""
        bounds = self.bounds()[name]
        defaults = PACE_DEFAULTS.get(self.kind, PACE_DEFAULTS[SessionKind.USER])
        return bounds.held(getattr(self, name), defaults.get(name, bounds.low))

    def interval(self) -> float:
        """Seconds per request at this session's steady allowed rate: the larger of its delay and
        60 / its per-minute ceiling, each as :meth:`held`."""
        per_minute = self.held("max_per_minute")
        return max(self.held("send_delay"), 60.0 / per_minute if per_minute else 0.0)

    # State -----------------------------------------------------------------------------------
    def apply_pace_defaults(self) -> None:
        for field, value in PACE_DEFAULTS[SessionKind(self.kind)].items():
            setattr(self, field, value)

    def flood_wait_left(self, now=None) -> float:
        """Seconds until this session may send again (0 when it may send now)."""
        if not self.flood_wait_until:
            return 0.0
        return max(0.0, (self.flood_wait_until - (now or clock.now())).total_seconds())

    def record_error(self, code: str, text: str, *, status: str | None = None) -> None:
        """Store the last error (and a new status) with one UPDATE."""
        fields = {"last_error_code": code[:100], "last_error_text": text, "last_error_at": clock.now()}
        if status:
            fields["status"] = status
        TelegramSession.objects.filter(pk=self.pk).update(**fields)
        for key, value in fields.items():
            setattr(self, key, value)

    def quarantine(self, code: str, text: str) -> bool:
        """Quarantine this session for a spam limit (``code``/``text``: Telegram's error), recording
        the error; True when this call quarantined it (False: it already was, so the caller does
        not announce it twice)."""
        newly = (
            TelegramSession.objects.filter(pk=self.pk)
            .exclude(status=SessionStatus.QUARANTINED)
            .update(status=SessionStatus.QUARANTINED)
        )
        self.record_error(code, text, status=SessionStatus.QUARANTINED)
        return bool(newly)

    def requests_today(self, now: datetime | None = None) -> int:
        """Requests that reached Telegram today (UTC day of ``now``), as last loaded."""
        today = utc_day_start(now or clock.now()).date()
        return self.requests_count if self.requests_day == today else 0

    def set_flood_wait(self, seconds: float) -> None:
        """Forbid requests from this session for ``seconds`` (FloodWait); never shortens a wait."""
        until = clock.now() + timedelta(seconds=seconds)  # the database's clock: issue 18
        TelegramSession.objects.filter(pk=self.pk).filter(
            Q(flood_wait_until=None) | Q(flood_wait_until__lt=until)
        ).update(flood_wait_until=until)
        self.flood_wait_until = max(until, self.flood_wait_until or until)
        counters.FLOODWAIT_SECONDS.labels(self.name).inc(seconds)
