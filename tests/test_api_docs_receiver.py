"""The webhook receiver of docs/api.md ("Receiving webhooks"), run as written: a reply event the
app signs and delivers is verified and printed; a forged one is refused."""

from __future__ import annotations

import re
import threading
from http.server import HTTPServer
from pathlib import Path

import httpx
import pytest

from tests.webhook_receiver import run_due, subscribe
from tgcampaigns import webhooks

pytestmark = pytest.mark.django_db

API_DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def receiver_module(secret: str) -> dict:
    section = API_DOC.read_text(encoding="utf-8").split("## Receiving webhooks", 1)[1]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    scope: dict = {"__name__": "receiver"}
    exec(code, scope)  # noqa: S102 - our own docs
    scope["SECRET"] = secret
    return scope


@pytest.fixture
def served(settings):
    """The documented receiver on a free port of 127.0.0.1, subscribed to replies."""
    settings.TGC_WEBHOOK_ALLOW_PRIVATE = True
    holder: dict = {}
    server = HTTPServer(("127.0.0.1", 0), lambda *a: holder["handler"](*a))
    subscription, secret = subscribe(f"http://127.0.0.1:{server.server_port}/", ["reply.received"])
    module = receiver_module(secret)
    holder["handler"] = module["Receiver"]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, subscription
    server.shutdown()


def test_the_documented_receiver_verifies_and_prints_a_reply_event(served, capsys):
    server, subscription = served
    webhooks.emit(
        webhooks.Event.REPLY_RECEIVED,
        {"campaign": {"id": 2}, "result": {"id": 5, "recipient": "@ada"}, "reply": {"text": "Yes!"}},
    )

    assert run_due() == ["delivered"]
    printed = capsys.readouterr().out
    assert re.search(r"^verified msg_\S+ reply\.received .*\"Yes!\"", printed, flags=re.M), printed


def test_the_documented_receiver_refuses_a_forged_request(served):
    server, _ = served
    headers = {"webhook-id": "msg_x", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"}
    answer = httpx.post(f"http://127.0.0.1:{server.server_port}/", content=b"{}", headers=headers)

    assert answer.status_code == 400
