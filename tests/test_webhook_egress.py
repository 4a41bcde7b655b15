"""The guard on outgoing webhook requests (server-side request forgery): addresses that are not
public are refused after DNS resolution unless ``TGC_WEBHOOK_ALLOW_PRIVATE``, the address checked
is the one connected to, no redirect is followed, and an answer is read only up to its cap."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from werkzeug import Response

from tests.webhook_receiver import (
    Receiver,
    receiver_fixture,  # noqa: F401  (the "receiver" fixture)
    run_due,
    subscribe,
    threaded_httpserver_fixture,  # noqa: F401  (pytest-httpserver's server, threaded)
)
from tgcampaigns import webhooks
from tgcampaigns.webhooks import egress
from tgcampaigns.webhooks.models import WebhookAttempt, WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # the cloud's metadata service
        "100.64.0.1",  # shared address space (carrier-grade NAT)
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "2002:7f00:1::",  # 6to4 around 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 around 10.0.0.1
        "2001:db8::1",  # documentation
    ],
)
def test_an_address_that_is_not_public_is_refused(address):
    assert egress.refusal(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001::1"])
def test_a_public_address_is_allowed(address):
    assert egress.refusal(ipaddress.ip_address(address)) == ""


def fake_dns(monkeypatch, answers: dict[str, list[str]]) -> None:
    """``socket.getaddrinfo`` answering ``answers`` (name → addresses), address literals as
    usual (the connection's own look-up), and no other name."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        try:
            ipaddress.ip_address(host)
            return real(host, port, *args, **kwargs)
        except ValueError:
            pass
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(egress.socket, "getaddrinfo", getaddrinfo)


def test_the_receiver_on_the_loopback_is_refused_without_the_setting(receiver, settings):
    settings.TGC_WEBHOOK_ALLOW_PRIVATE = False
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})

    assert run_due() == ["failed"]  # not retried: the address will not become public

    assert receiver.headers == []
    attempt = WebhookAttempt.objects.get()
    assert "127.0.0.1 is a loopback address" in attempt.error and attempt.status_code is None
    assert "TGC_WEBHOOK_ALLOW_PRIVATE" in attempt.error


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch, settings):
    settings.TGC_WEBHOOK_ALLOW_PRIVATE = False
    fake_dns(monkeypatch, {"crm.example.test": ["93.184.215.14", "10.0.0.7"]})

    with pytest.raises(egress.EgressRefused, match="10.0.0.7 is a private address"):
        egress.post("https://crm.example.test/hooks", b"{}", {})


def test_only_http_and_https_addresses_are_requested():
    for url in ("file:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://example.org/"):
        with pytest.raises(egress.EgressRefused, match="only http"):
            egress.post(url, b"{}", {})


def test_a_name_that_does_not_resolve_is_a_failure_to_retry(monkeypatch):
    fake_dns(monkeypatch, {})

    with pytest.raises(egress.EgressFailed, match="does not resolve"):
        egress.post("https://nowhere.example.test/", b"{}", {})


def test_the_request_goes_to_the_address_checked_with_the_host_name_kept(receiver, monkeypatch, httpserver):
    """The name is resolved once, by the guard; the connection goes to that address (a second DNS
    answer cannot swap it) and the receiver still sees its own name in ``Host``."""
    fake_dns(monkeypatch, {"crm.example.test": ["127.0.0.1"]})
    url = receiver.url.replace("127.0.0.1", "crm.example.test")
    type(receiver.subscription).objects.filter(pk=receiver.subscription.pk).update(url=url)
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})

    assert run_due() == ["delivered"]
    assert receiver.headers[0]["host"] == f"crm.example.test:{httpserver.port}"


def test_a_redirect_is_not_followed(receiver, httpserver):
    elsewhere = Receiver(httpserver, "/elsewhere")
    elsewhere.secret = receiver.secret
    httpserver.clear_all_handlers()
    httpserver.expect_request("/hooks", method="POST").respond_with_response(
        Response(status=307, headers={"Location": elsewhere.url})
    )
    httpserver.expect_request("/elsewhere", method="POST").respond_with_handler(elsewhere.handle)
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})

    assert run_due() == ["retry"]

    assert elsewhere.headers == []
    assert WebhookAttempt.objects.get().error == "HTTP 307"


def test_a_large_answer_is_read_only_up_to_the_cap_and_logged_as_its_first_kilobyte(receiver, httpserver):
    httpserver.clear_all_handlers()
    httpserver.expect_request("/hooks", method="POST").respond_with_data(
        "x" * (4 * egress.MAX_RESPONSE_BYTES)
    )
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})

    assert run_due() == ["delivered"]

    assert WebhookAttempt.objects.get().response_excerpt == "x" * egress.EXCERPT_BYTES
    assert WebhookDelivery.objects.get().last_status_code == 200


def test_the_cloud_metadata_address_is_refused_like_the_loopback(receiver, settings):
    settings.TGC_WEBHOOK_ALLOW_PRIVATE = False
    subscribe("http://169.254.169.254/latest/meta-data/", name="metadata")
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})

    assert sorted(run_due()) == ["failed", "failed"]
    errors = list(WebhookAttempt.objects.values_list("error", flat=True))
    assert any("169.254.169.254 is a link-local address" in e for e in errors)
    assert receiver.headers == []


def test_an_address_that_refuses_the_connection_is_skipped_for_the_next_one(receiver, monkeypatch):
    """The receiver listens on 127.0.0.1 only: 127.0.0.2 refuses the connection, nothing is sent."""
    fake_dns(monkeypatch, {"crm.example.test": ["127.0.0.2", "127.0.0.1"]})
    url = receiver.url.replace("127.0.0.1", "crm.example.test")
    type(receiver.subscription).objects.filter(pk=receiver.subscription.pk).update(url=url)
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})

    assert run_due() == ["delivered"]
    assert len(receiver.headers) == 1


def test_a_host_whose_addresses_all_refuse_the_connection_is_a_failure_to_retry(monkeypatch, settings):
    settings.TGC_WEBHOOK_ALLOW_PRIVATE = True
    fake_dns(monkeypatch, {"crm.example.test": ["127.0.0.2", "127.0.0.3"]})

    with pytest.raises(egress.EgressFailed, match="cannot connect to 127.0.0.3"):
        egress.post("http://crm.example.test:9/hooks", b"{}", {})
