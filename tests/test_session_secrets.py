"""Secrets of a Telegram session: the API hash is encrypted at rest and never rendered back; no
login step leaks a code, password or token into an error report, and none contacts Telegram
without a working encryption key; the session's state is changed only by actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.views.debug import ExceptionReporter

from sessions_app import login
from sessions_app.models import SessionKind, SessionStatus, TelegramSession
from tests.fakes import telegram_fixture  # noqa: F401  (the "telegram" fixture)

pytestmark = pytest.mark.django_db

API_HASH = "feedfacecafebeef0123456789abcdef"
TOKEN = "123456:SECRET-BOT-TOKEN-abcdef"
PHONE = "+4915100000001"


@pytest.fixture
def client(client, otto):
    client.force_login(otto)
    return client


def raw_row(session: TelegramSession) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {TelegramSession._meta.db_table} WHERE id = %s", [session.pk])
        return " ".join(str(v) for v in cursor.fetchone())


def change_url(session) -> str:
    return reverse("admin:sessions_app_telegramsession_change", args=[session.pk])


def form_data(session: TelegramSession, **changes) -> dict:
    data = {
        "name": session.name,
        "kind": session.kind,
        "backend": session.backend,
        "phone": session.phone,
        "weight": session.weight,
        "send_delay": session.send_delay,
        "max_per_minute": session.max_per_minute,
        "daily_cap": session.daily_cap,
        "api_id": session.api_id or "",
        "simulator_config": "{}",
    }
    return data | changes


# The API hash --------------------------------------------------------------------------------
def test_an_api_hash_typed_in_the_admin_is_stored_encrypted_and_never_shown(client, telegram):
    session = TelegramSession.objects.create(name="alice")

    response = client.post(change_url(session), form_data(session, api_id=777, api_hash=API_HASH))

    assert response.status_code == 302, response.content.decode()[:2000]
    session.refresh_from_db()
    assert session.api_hash == API_HASH  # what the transport gets
    assert API_HASH not in raw_row(session)
    page = client.get(change_url(session)).content.decode()
    assert API_HASH not in page and session.api_hash_encrypted not in page
    assert "set (encrypted, not shown)" in page


def test_saving_the_page_without_typing_the_api_hash_keeps_it_and_clear_removes_it(client, telegram):
    session = TelegramSession.objects.create(name="alice")
    session.api_hash = API_HASH
    session.save()

    client.post(change_url(session), form_data(session, weight=2, api_hash=""))
    session.refresh_from_db()
    assert (session.weight, session.api_hash) == (2, API_HASH)

    client.post(change_url(session), form_data(session, clear_api_hash="on"))
    session.refresh_from_db()
    assert session.api_hash == ""


def test_a_login_uses_the_sessions_own_encrypted_api_hash(telegram):
    telegram.add_account(PHONE)
    session = TelegramSession.objects.create(name="alice", api_id=777)
    session.api_hash = API_HASH
    session.save()

    login.send_code(TelegramSession.objects.get(pk=session.pk), PHONE)

    assert (telegram.clients[-1].api_id, telegram.clients[-1].api_hash) == (777, API_HASH)


def test_the_migration_encrypts_existing_api_hashes(transactional_db, settings, telegram):
    from django.db.migrations.executor import MigrationExecutor

    before = [("sessions_app", "0002_sent_media")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("sessions_app", "TelegramSession")
    old.objects.create(name="legacy", api_hash=API_HASH)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    legacy = TelegramSession.objects.get(name="legacy")
    assert legacy.api_hash == API_HASH and API_HASH not in raw_row(legacy)


# Login steps: error reports and the encryption key ----------------------------------------
def error_report(request, exc: BaseException) -> str:
    """What Django mails or logs for an unhandled error with DEBUG off."""
    return ExceptionReporter(request, type(exc), exc, exc.__traceback__, is_email=True).get_traceback_text()


@pytest.mark.parametrize("key", ["", "not-a-fernet-key"], ids=["missing", "invalid"])
def test_a_bot_login_without_a_working_key_stops_before_telegram_and_leaks_nothing(
    client, telegram, settings, caplog, key
):
    settings.DEBUG = False
    telegram.add_bot(TOKEN)
    bot = TelegramSession.objects.create(name="bot", kind=SessionKind.BOT)
    settings.FIELD_ENCRYPTION_KEY = key
    client.raise_request_exception = False

    response = client.post(
        reverse("admin:sessions_app_telegramsession_login", args=[bot.pk]), {"token": TOKEN}
    )

    assert telegram.clients == [] and telegram.requests == [], "Telegram was contacted without a key"
    errors = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
    reports = [error_report(r.request, r.exc_info[1]) for r in errors]
    assert not any(TOKEN in report for report in reports)
    assert response.status_code == 200
    assert "FIELD_ENCRYPTION_KEY" in response.content.decode()
    bot.refresh_from_db()
    assert bot.status == SessionStatus.NEW


@pytest.mark.parametrize(
    ("step", "secret"),
    [
        ("sign_in_bot", TOKEN),
        ("send_code", PHONE),
        ("sign_in", "12345"),
        ("sign_in_password", "pw-secret-99"),
    ],
)
def test_an_error_report_from_any_login_step_shows_no_secret(telegram, settings, step, secret):
    """A failing step's traceback (with DEBUG off, what an error mail holds) shows stars for the
    token, phone, code and password, in every frame: ours and the fake client's."""
    from telethon import errors as tg

    settings.DEBUG = False
    account = telegram.add_account(PHONE, password="pw-secret-99")
    telegram.add_bot(TOKEN)
    session = TelegramSession.objects.create(
        name="s", kind=SessionKind.BOT if step == "sign_in_bot" else "user"
    )
    if step in ("sign_in", "sign_in_password"):
        login.send_code(session, PHONE)
    if step == "sign_in_password":
        login.sign_in(session, "12345")
    assert account  # the account exists; now every request fails unexpectedly
    telegram.fail(tg.RPCError(request=None, message="INTERNAL_BOOM", code=500), on="sign_in", times=5)
    telegram.fail(
        tg.RPCError(request=None, message="INTERNAL_BOOM", code=500), on="send_code_request", times=5
    )

    with pytest.raises(login.LoginError) as caught:
        getattr(login, step)(session, secret)

    report = error_report(None, caught.value)
    assert secret not in report
    assert step in report  # the frames are there, their values hidden


def test_the_login_page_hides_every_posted_value_from_error_reports(client, telegram):
    telegram.add_bot(TOKEN)
    bot = TelegramSession.objects.create(name="bot", kind=SessionKind.BOT)

    response = client.post(
        reverse("admin:sessions_app_telegramsession_login", args=[bot.pk]), {"token": TOKEN}
    )

    request = response.wsgi_request
    assert request.sensitive_post_parameters == "__ALL__"
    report = error_report(request, RuntimeError("after the login"))
    assert TOKEN not in report


# The session's state -------------------------------------------------------------------------
def test_the_state_fields_are_read_only_for_everyone(client, olga, alpha):
    later = timezone.now() + timedelta(hours=1)
    alpha.record_error("PEER_FLOOD", "spam-limited", status=SessionStatus.QUARANTINED)
    alpha.refresh_from_db()
    for user in (olga,):
        client.force_login(user)
        form = client.get(change_url(alpha)).context["adminform"].form
        for name in ("status", "flood_wait_until", "last_error_code", "last_error_text"):
            assert name not in form.fields, name
        client.post(
            change_url(alpha),
            form_data(alpha, status="active", flood_wait_until=later, last_error_code="", last_error_text=""),
        )
    alpha.refresh_from_db()
    assert (alpha.status, alpha.flood_wait_until, alpha.last_error_code) == (
        SessionStatus.QUARANTINED,
        None,
        "PEER_FLOOD",
    )


def test_a_simulator_only_install_is_not_warned_about_telegrams_api_credentials(settings, db):
    """Issue 9: the demo printed "TELEGRAM_API_ID/HASH are not set" though it only simulates."""
    from sessions_app.checks import encryption_key_check
    from tests.conftest import make_session

    settings.TELEGRAM_API_ID, settings.TELEGRAM_API_HASH = 0, ""
    make_session("sim")
    assert [w.id for w in encryption_key_check(None)] == []

    make_session("real", backend="telethon", status="new")
    assert [w.id for w in encryption_key_check(None)] == ["sessions_app.W002"]
