"""The CRM's end of the webhooks, for the tests: a real HTTP server (pytest-httpserver, threaded,
on 127.0.0.1) whose handler verifies each request with the ``standardwebhooks`` library, and the
worker's part called directly (``deliver``; waiting for a retry is moving its due time)."""

from __future__ import annotations

import json
import time

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer
from standardwebhooks import Webhook
from werkzeug import Response

from tgcampaigns import webhooks
from tgcampaigns.webhooks import sending
from tgcampaigns.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription

ALL_EVENTS = [e.value for e in webhooks.Event]


@pytest.fixture(name="make_httpserver", scope="module")
def threaded_httpserver_fixture():
    """pytest-httpserver's server, threaded: a receiver pausing past the timeout must not hold
    the next request behind it."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


class Receiver:
    """The CRM's end: verifies each request with its secret, keeps what it accepted, and answers
    as the test scripts it (a status, or a pause longer than the sender's timeout)."""

    def __init__(self, httpserver, path: str = "/hooks"):
        self.server = httpserver
        self.url = httpserver.url_for(path)
        self.secret = ""
        self.script: list[int | float] = []  # statuses to answer; a float: sleep that long, then 200
        self.accepted: list[dict] = []
        self.headers: list[dict] = []
        self.bodies: list[bytes] = []
        httpserver.expect_request(path, method="POST").respond_with_handler(self.handle)

    def handle(self, request):
        step = self.script.pop(0) if self.script else 200
        if isinstance(step, float):
            time.sleep(step)
            step = 200
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.headers.append(headers)
        self.bodies.append(request.get_data())
        payload = Webhook(self.secret).verify(request.get_data(), headers)  # raises when forged
        if 200 <= step < 300:
            self.accepted.append(payload)
        return Response(json.dumps({"ok": step < 300}), status=step, content_type="application/json")

    def ids(self) -> list[str]:
        return [h["webhook-id"] for h in self.headers]

    def types(self) -> list[str]:
        return [p["type"] for p in self.accepted]


def subscribe(url: str, events=None, name: str = "CRM") -> tuple[WebhookSubscription, str]:
    """A saved subscription to ``events`` (default: all) and its secret."""
    subscription = WebhookSubscription(name=name, url=url, events=list(events or ALL_EVENTS))
    secret = subscription.set_secret()
    subscription.save()
    return subscription, secret


@pytest.fixture(name="receiver")
def receiver_fixture(httpserver, settings):
    """A receiver subscribed to every event (``receiver.subscription``), private addresses
    allowed (it listens on 127.0.0.1)."""
    settings.TGC_WEBHOOK_ALLOW_PRIVATE = True
    found = Receiver(httpserver)
    found.subscription, found.secret = subscribe(found.url)
    return found


def run_due() -> list[str]:
    """The worker's part: deliver every delivery that is due now; the outcomes."""
    due = WebhookDelivery.objects.due().order_by("pk").values_list("pk", flat=True)
    return [sending.deliver(pk) for pk in list(due)]


def wait_for_retry() -> None:
    """Time passes until every pending retry is due."""
    WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=timezone.now())
