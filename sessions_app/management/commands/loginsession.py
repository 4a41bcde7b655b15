"""Log a Telegram session in from a terminal: a user by phone → code → 2FA password, or a bot by token.

    manage.py loginsession alice --phone +4915112345678
    manage.py loginsession shop-bot --bot-token      (the token is then asked for, not echoed)

The session is created when missing (``--kind`` is implied by ``--bot-token``). An ``--api-id``
out of its range (``session_bounds.API_ID``) is refused, naming it, before anything is stored. Codes, passwords
and tokens are read with getpass and never printed. When the input ends at a prompt (a closed
stdin, a pipe that ran out) the command stops with a one-line error, no traceback.
"""

from __future__ import annotations

from getpass import getpass

from django.core.management.base import BaseCommand, CommandError

from sessions_app import login
from sessions_app.models import SessionKind, SessionStatus, TelegramSession
from sessions_app.models.session_bounds import API_ID

INPUT_ENDED = "Input ended before the login was complete; nothing more was sent to Telegram."


class Command(BaseCommand):
    help = "Log a Telegram user account (phone, code, 2FA) or bot (token) in."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="Session name (created when missing).")
        parser.add_argument("--phone", help="User account phone, E.164.")
        parser.add_argument(
            "--bot-token",
            nargs="?",
            const="",
            default=None,
            help="Log in a bot; without a value it is asked for.",
        )
        parser.add_argument(
            "--api-id",
            type=API_ID.argument,
            help=f"Per-session API id, {API_ID.span} (default TELEGRAM_API_ID).",
        )
        parser.add_argument("--api-hash", help="Per-session API hash (default TELEGRAM_API_HASH).")

    def handle(self, *args, name: str, phone, bot_token, api_id, api_hash, **options) -> None:
        kind = SessionKind.BOT if bot_token is not None else SessionKind.USER
        session, created = TelegramSession.objects.get_or_create(name=name, defaults={"kind": kind})
        if created:
            session.apply_pace_defaults()
        if api_id is not None or api_hash:
            session.api_id, session.api_hash = api_id or session.api_id, api_hash or session.api_hash
        session.save()
        try:
            if session.kind == SessionKind.BOT:
                login.sign_in_bot(session, bot_token or getpass("Bot token: "))
            else:
                self._user(session, phone or input("Phone (+E.164): "))
        except login.LoginError as exc:
            raise CommandError(str(exc)) from None
        except EOFError:  # stdin closed or piped input ran out at a prompt
            raise CommandError(INPUT_ENDED) from None
        who = f"@{session.me_username}" if session.me_username else session.me_name
        self.stdout.write(self.style.SUCCESS(f"{session.name} is logged in as {who} (id {session.me_id})."))

    def _user(self, session: TelegramSession, phone: str) -> None:
        login.send_code(session, phone)
        for _ in range(3):
            try:
                status = login.sign_in(session, getpass("Login code: "))
                break
            except login.WrongCode as exc:
                self.stderr.write(str(exc))
        else:
            raise CommandError("Too many wrong codes.")
        if status == SessionStatus.AWAITING_PASSWORD:
            for _ in range(3):
                try:
                    login.sign_in_password(session, getpass("Two-step verification password: "))
                    return
                except login.WrongPassword as exc:
                    self.stderr.write(str(exc))
            raise CommandError("Too many wrong passwords.")
