"""Any MTProto server (issue 18, item 3): ``TELEGRAM_DC`` and ``TELEGRAM_PUBLIC_KEY`` are applied
where the one client factory builds clients; each session records the server it logged in to,
and a session of another server than the configured one never sends — the engine does not pick
it and the transport factory refuses it — so staging sessions never send a production campaign."""

from __future__ import annotations

import pytest
import rsa
from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured
from telethon.crypto import rsa as telethon_rsa

from campaigns import engine
from campaigns.engine.assignment import active_sessions
from sessions_app import login, servers
from sessions_app.models import SessionKind, SessionStatus, TelegramSession
from sessions_app.transport.base import ErrorKind, OutgoingMessage, TransportError
from sessions_app.transport.telethon_client import build_client
from tests.conftest import make_campaign, make_list
from tests.fakes import SendMessageRequest, telegram_fixture  # noqa: F401  (the "telegram" fixture)

pytestmark = pytest.mark.django_db

PHONE = "+4915100000001"
TEST_DC = "2:149.154.167.40:80"
STAGING_DC = "2:10.20.30.40:4430"


@pytest.fixture(scope="module")
def public_key() -> rsa.PublicKey:
    return rsa.newkeys(512)[0]  # small: only its fingerprint matters here


@pytest.fixture
def forget_added_keys():
    before = dict(telethon_rsa._server_keys)
    yield
    telethon_rsa._server_keys.clear()
    telethon_rsa._server_keys.update(before)


# The settings -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2:149.154.167.40:80", (2, "149.154.167.40", 80)),
        (" 1:staging.example.org:443 ", (1, "staging.example.org", 443)),
        ("2:[2001:b28:f23d:f001::e]:443", (2, "2001:b28:f23d:f001::e", 443)),
    ],
)
def test_telegram_dc_is_read_as_id_host_port(settings, value, expected):
    settings.TELEGRAM_DC = value

    dc = servers.telegram_dc()

    assert (dc.id, dc.host, dc.port) == expected


@pytest.mark.parametrize("value", ["149.154.167.40", "x:149.154.167.40:80", "2:149.154.167.40:port", "2::80"])
def test_a_malformed_telegram_dc_names_the_setting_and_its_shape(settings, value):
    settings.TELEGRAM_DC = value

    with pytest.raises(ImproperlyConfigured, match=r"TELEGRAM_DC .*id:host:port"):
        servers.telegram_dc()


@pytest.mark.parametrize(
    ("dc", "name", "server"),
    [
        ("", "", "production"),
        (TEST_DC, "", "test"),
        (STAGING_DC, "", "10.20.30.40:4430"),
        (STAGING_DC, "staging", "staging"),
    ],
)
def test_the_configured_server_is_production_test_or_a_named_custom_server(settings, dc, name, server):
    settings.TELEGRAM_DC, settings.TELEGRAM_SERVER_NAME = dc, name

    assert servers.telegram_server() == server


def test_the_public_key_is_read_from_pem_text_or_from_a_file(settings, tmp_path, public_key):
    pem = public_key.save_pkcs1().decode()
    settings.TELEGRAM_PUBLIC_KEY = pem
    assert servers.telegram_public_keys() == [pem.strip()]

    path = tmp_path / "server.pem"
    path.write_text(pem)
    settings.TELEGRAM_PUBLIC_KEY = str(path)
    assert servers.telegram_public_keys() == [pem.strip()]

    settings.TELEGRAM_PUBLIC_KEY = str(tmp_path / "missing.pem")
    with pytest.raises(ImproperlyConfigured, match="TELEGRAM_PUBLIC_KEY"):
        servers.telegram_public_keys()


# The client factory -------------------------------------------------------------------------------
def test_the_client_factory_points_a_new_session_at_the_configured_dc_and_adds_its_key(
    settings, telegram, public_key, forget_added_keys
):
    settings.TELEGRAM_DC = STAGING_DC
    settings.TELEGRAM_PUBLIC_KEY = public_key.save_pkcs1().decode()

    client = build_client("", 12345, "0123456789abcdef0123456789abcdef")

    session = client.session
    assert (session.dc_id, session.server_address, session.port) == (2, "10.20.30.40", 4430)
    assert telethon_rsa._compute_fingerprint(public_key) in telethon_rsa._server_keys


def test_the_factory_accepts_a_public_key_in_openssl_form(settings, telegram, public_key, forget_added_keys):
    settings.TELEGRAM_PUBLIC_KEY = _openssl_pem(public_key)

    build_client("", 12345, "0123456789abcdef0123456789abcdef")

    assert telethon_rsa._compute_fingerprint(public_key) in telethon_rsa._server_keys


def _openssl_pem(key: rsa.PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    loaded = serialization.load_pem_public_key(key.save_pkcs1())
    return loaded.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def test_a_logged_in_session_keeps_the_dc_it_was_moved_to(settings, telegram):
    settings.TELEGRAM_DC = STAGING_DC
    saved = telegram.log_in(telegram.add_account(PHONE))  # on DC 2 at 149.154.167.40:443

    client = build_client(saved, 12345, "0123456789abcdef0123456789abcdef")

    assert client.session.server_address == "149.154.167.40"


# Sessions belong to a server ----------------------------------------------------------------------
def test_a_session_records_the_server_it_logs_in_to(settings, telegram):
    settings.TELEGRAM_DC = TEST_DC
    telegram.add_account(PHONE)
    session = TelegramSession.objects.create(name="alice", kind=SessionKind.USER)

    login.send_code(session, PHONE)
    login.sign_in(session, "12345")

    session.refresh_from_db()
    assert (session.status, session.server) == (SessionStatus.ACTIVE, "test")


@pytest.fixture
def staging_session(telegram) -> TelegramSession:
    """A session logged in on the test servers, in a database now configured for production."""
    telegram.add_user(username="bob_smith")
    session = TelegramSession(
        name="staging", kind=SessionKind.USER, status=SessionStatus.ACTIVE, server="test"
    )
    session.session_string = telegram.log_in(telegram.add_account(PHONE))
    session.apply_pace_defaults()
    session.send_delay, session.max_per_minute, session.daily_cap = 0, 0, 0
    session.save()
    return session


def test_the_transport_factory_refuses_a_session_of_another_server(telegram, staging_session):
    async def send():
        transport = staging_session.transport()
        await transport.send("@bob_smith", OutgoingMessage("hi"), 1)

    with pytest.raises(TransportError) as raised:
        async_to_sync(send)()

    assert (raised.value.kind, raised.value.code) == (ErrorKind.SESSION, "OTHER_SERVER")
    assert "test" in raised.value.text and "production" in raised.value.text
    assert not telegram.clients  # no client was even built


def test_staging_sessions_never_send_a_production_campaign(telegram, staging_session):
    campaign = make_campaign("spring", [make_list("one", [("@bob_smith", {})])], [staging_session])

    assert active_sessions(campaign) == []
    assert list(TelegramSession.objects.usable()) == []
    try:
        engine.launch(campaign, enqueue=False)
        engine.drive(campaign.pk, seconds=1.0, enqueue_next=False)
    except Exception:  # a launch refused for want of a usable session is fine too
        pass
    assert not telegram.of_type(SendMessageRequest)


def test_a_session_of_the_configured_server_is_usable(settings, telegram, staging_session):
    settings.TELEGRAM_DC = TEST_DC

    assert list(TelegramSession.objects.usable()) == [staging_session]


def test_a_malformed_server_setting_is_a_system_check_error(settings):
    from django.core import checks

    settings.TELEGRAM_DC = "149.154.167.40"

    assert [e.id for e in checks.run_checks() if e.id == "sessions_app.E003"] == ["sessions_app.E003"]
    settings.TELEGRAM_DC = TEST_DC
    assert not [e for e in checks.run_checks() if e.id == "sessions_app.E003"]
