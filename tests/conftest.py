"""One small named world, built per test (healthchecks' BaseTestCase, as pytest fixtures).

- Olga is the superuser: she may do everything, django-q2's pages and users included.
- Otto is the operator (group Operator, not a superuser): sessions, logins, suppressions, erasure.
- Mark is marketing staff (group Marketing): lists, campaigns (launch, control), results, exports.
- Rita is a reviewer (group Reviewer): she reads campaigns and results, exports, reads the audit.
  The groups are the product's own (campaigns.people.roles, created by a migration), so the tests see
  what staff see.
- ``alpha`` and ``beta`` are simulated sessions with no latency and no failures.
- ``people`` is a list of five valid recipients with first names.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

# Copies of the reference input files (tests/test_case_files.py keeps them in step).
CASES_DIR = Path(__file__).resolve().parent / "data" / "cases"


def make_session(name: str, **overrides):
    """A simulated, active session with zero latency and no pace limits unless overridden."""
    from sessions_app.models import Backend, SessionKind, SessionStatus, TelegramSession

    config = {"seed": 1, "latency_ms": [0, 0]}
    config.update(overrides.pop("simulator_config", {}))
    fields = dict(
        name=name,
        kind=SessionKind.BOT,
        backend=Backend.SIMULATOR,
        status=SessionStatus.ACTIVE,
        send_delay=0.0,
        max_per_minute=0,
        daily_cap=0,
        simulator_config=config,
    )
    fields.update(overrides)
    return TelegramSession.objects.create(**fields)


def make_list(name: str, rows: list[tuple[str, dict]], **overrides):
    """A recipient list whose rows are (key, fields); keys must already be normalised."""
    from campaigns.models import Recipient, RecipientKind, RecipientList

    rl = RecipientList.objects.create(name=name, consent_basis="opt_in", **overrides)
    objs = []
    for i, (key, fields) in enumerate(rows, start=2):
        kind = (
            RecipientKind.USERNAME
            if key.startswith("@")
            else RecipientKind.PHONE
            if key.startswith("+")
            else RecipientKind.USER_ID
        )
        objs.append(
            Recipient(recipient_list=rl, row_number=i, raw_value=key, key=key, kind=kind, fields=fields)
        )
    Recipient.objects.bulk_create(objs)
    rl.total_rows = rl.valid_count = len(objs)
    rl.report = {"columns": list(rows[0][1]) if rows else []}  # as the import records them
    rl.save()
    return rl


def make_campaign(name: str, lists, sessions, **overrides):
    from campaigns.models import Campaign

    fields = dict(name=name, message="Hi {{ first_name|default:'there' }}!", max_attempts=3)
    fields.update(overrides)
    campaign = Campaign.objects.create(**fields)
    campaign.lists.set(lists)
    campaign.sessions.set(sessions)
    return campaign


@pytest.fixture
def olga(db):
    return User.objects.create_superuser("olga", "olga@example.com", "olga-password-1")


def make_staff(name: str, *groups: str) -> User:
    """A staff user ``name`` (password ``NAME-password-1``) in ``groups``."""
    user = User.objects.create_user(name, f"{name}@example.com", f"{name}-password-1", is_staff=True)
    user.groups.set(Group.objects.filter(name__in=groups))
    assert user.groups.count() == len(groups), f"missing group among {groups}"
    return user


@pytest.fixture
def otto(db):
    from campaigns.people.roles import OPERATOR

    return make_staff("otto", OPERATOR)


@pytest.fixture
def mark(db):
    from campaigns.people.roles import MARKETING

    return make_staff("mark", MARKETING)


@pytest.fixture
def rita(db):
    from campaigns.people.roles import REVIEWER

    return make_staff("rita", REVIEWER)


@pytest.fixture
def alpha(db):
    return make_session("alpha")


@pytest.fixture
def beta(db):
    return make_session("beta")


@pytest.fixture
def people(db):
    names = ["Alice", "Bob", "Carol", "Dave", "Erin"]
    return make_list("people", [(f"@{n.lower()}_user", {"first_name": n}) for n in names])


@pytest.fixture
def cases_dir() -> Path:
    return CASES_DIR


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: the after-the-send report is cached per campaign id,
    and ids come round again from test to test."""
    from django.core.cache import cache, caches

    cache.clear()
    caches["api"].clear()  # the API's rate-limit counters
    yield
    cache.clear()
    caches["api"].clear()


@pytest.fixture
def api_for(db):
    """``api_for(user)``: a DRF test client calling ``/api/v1/`` with a new API token of ``user``
    (named "CRM" unless ``name=`` says otherwise); its ``token`` is the ApiToken row."""

    def make(user, name: str = "CRM"):
        from rest_framework.test import APIClient

        from tgcampaigns.apitokens.models import ApiToken

        token, clear = ApiToken.objects.mint(user, name)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {clear}")
        client.token = token
        return client

    return make


# Browser tests (tests/test_browser*.py) -------------------------------------------------------------
@pytest.fixture
def browser(request, live_server):
    """One Chromium page on the live server (tests.browsing.Browser); screenshots per test."""
    from tests.browsing import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, Browser

    if not Path(CHROMIUM).exists():
        # CI installs it (scripts/test), so there a missing browser is a failure, not a skip.
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            "Debian's chromium is not installed (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    folder = SCREENSHOTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = chromium.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(30_000)
        yield Browser(page, live_server.url, folder)
        context.close()
        chromium.close()


@pytest.fixture
def worker(monkeypatch):
    """The django-q2 worker's part in a thread (tests.browsing.Worker): it runs the drive task of
    every campaign the app enqueues once the test calls ``worker.start()``."""
    from tests.browsing import Worker

    found = Worker()
    monkeypatch.setattr("campaigns.engine.queue.enqueue_drive", found.enqueue)
    found.thread.start()
    yield found
    found.stop.set()
    found.thread.join(timeout=30)
    assert not found.errors, found.errors


@pytest.fixture(scope="session", autouse=True)
def _no_stray_database_sessions(django_db_setup, django_db_blocker):
    """Before the test database is dropped, end PostgreSQL sessions that killed worker processes
    or server threads left behind, so the teardown does not fail with "being accessed by other
    users" and leave the database for the next run."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
