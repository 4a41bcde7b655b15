"""The admin login cannot be brute-forced: django-axes locks a user name out from an IP address
after AXES_FAILURE_LIMIT wrong passwords (the right one then fails too), other addresses are not
affected, and `manage.py axes_reset_username` lifts it. The test client's logins keep working."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse

from tgcampaigns.auth import client_ip

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")


def try_login(client, password: str, ip: str = "203.0.113.7"):
    return client.post(LOGIN, {"username": "olga", "password": password, "next": "/admin/"}, REMOTE_ADDR=ip)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_after_a_hundred_wrong_passwords_the_right_one_does_not_log_in(client, olga, settings):
    for i in range(100):
        try_login(client, f"wrong-{i}")

    response = try_login(client, "olga-password-1")

    assert not logged_in(client)
    assert response.status_code == 429


def test_the_lockout_starts_at_the_failure_limit(client, olga, settings):
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        try_login(client, f"wrong-{i}")
    assert try_login(client, "olga-password-1").status_code == 302 and logged_in(client)

    client.logout()
    for i in range(settings.AXES_FAILURE_LIMIT):
        try_login(client, f"wrong-{i}")
    try_login(client, "olga-password-1")
    assert not logged_in(client)


def test_the_lockout_is_per_user_and_address(client, olga, mark, settings):
    for i in range(settings.AXES_FAILURE_LIMIT):
        try_login(client, f"wrong-{i}")

    assert try_login(client, "olga-password-1", ip="198.51.100.9").status_code == 302
    client.logout()
    other_user = client.post(
        LOGIN, {"username": "mark", "password": "mark-password-1"}, REMOTE_ADDR="203.0.113.7"
    )
    assert other_user.status_code == 302


def test_the_documented_reset_command_lifts_a_lockout(client, olga, settings):
    for i in range(settings.AXES_FAILURE_LIMIT):
        try_login(client, f"wrong-{i}")

    call_command("axes_reset_username", "olga")

    assert try_login(client, "olga-password-1").status_code == 302 and logged_in(client)


def test_the_test_clients_logins_keep_working(client, olga):
    assert client.login(username="olga", password="olga-password-1")
    client.logout()
    client.force_login(olga)
    assert client.get(reverse("admin:index")).status_code == 200


def test_behind_trusted_proxies_the_address_the_outermost_proxy_saw_counts(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")

    settings.TGC_TRUSTED_PROXIES = 0
    assert client_ip(request) == "10.0.0.2"
    settings.TGC_TRUSTED_PROXIES = 1
    assert client_ip(request) == "203.0.113.7"  # "1.2.3.4" is the client's own claim
