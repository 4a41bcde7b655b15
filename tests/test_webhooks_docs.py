"""The signature snippets of docs/operating.md ("Webhooks"), run as written against a real delivery:
what a receiver copies from the page verifies what the app sends, and refuses a forgery."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.webhook_receiver import (
    receiver_fixture,  # noqa: F401  (the "receiver" fixture)
    run_due,
    threaded_httpserver_fixture,  # noqa: F401  (pytest-httpserver's server, threaded)
)
from tgcampaigns import webhooks

pytestmark = pytest.mark.django_db

OPERATING = Path(__file__).resolve().parent.parent / "docs" / "operating.md"


def snippets() -> list[str]:
    section = OPERATING.read_text(encoding="utf-8").split("### Signatures", 1)[1].split("\n### ", 1)[0]
    found = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(found) == 2, "the section shows the library's way and the standard library's"
    return found


@pytest.fixture
def delivery(receiver):
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob_smith"], "source": "stop_reply"})
    assert run_due() == ["delivered"]
    return receiver.secret, receiver.headers[0], receiver.bodies[0]


def test_the_documented_library_snippet_accepts_a_delivery_and_refuses_a_forgery(delivery):
    secret, headers, body = delivery
    scope: dict = {}
    exec(snippets()[0].replace('"whsec_…"', repr(secret)), scope)  # noqa: S102 - our own docs

    assert scope["receive"](body, headers) == 204
    assert scope["receive"](body.replace(b"@bob_smith", b"@eve_smith"), headers) == 400


def test_the_documented_standard_library_snippet_accepts_a_delivery_and_refuses_a_forgery(delivery):
    secret, headers, body = delivery
    scope: dict = {}
    exec(snippets()[1], scope)  # noqa: S102 - our own docs

    assert scope["verify"](secret, headers, body) is True
    assert scope["verify"](secret, headers, body + b" ") is False
    assert scope["verify"](secret, {**headers, "webhook-timestamp": "1000000000"}, body) is False
