"""Schemathesis against the served OpenAPI schema, through Django's WSGI app (no server): every
operation, a few generated requests each, must never answer 500 and every answer must conform to
the schema (status code, content type, headers, body). Bounded (examples per operation, no
shrinking) so it stays well under two minutes; runs in scripts/test on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from campaigns.models import Suppression
from tests.conftest import make_campaign, make_list
from tgcampaigns.apitokens.models import ApiToken

pytestmark = pytest.mark.apischema

# No 500, and every answer as documented. (Not: that every request the schema forbids is
# refused — the API tolerates, e.g., an unknown query parameter.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Examples per operation: enough to reach every parameter's edge, small enough for CI; and a
# budget for the whole run on a loaded machine: past it, the remaining examples are not sent.
EXAMPLES = 6
BUDGET_SECONDS = 100.0
_started: list[float] = []


# The schema as the app serves it (loading it reads no table).
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


@pytest.fixture(autouse=True)
def _one_connection():
    """Keep the test's connection (and its transaction) open across requests, as Django's test
    client does: the WSGI handler would close it as each request starts and finishes."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _some_data(db, alpha):
    """A little data for the generated ids and identities to find."""
    people = make_list("people", [("@alice_w", {"first_name": "Alice"})])
    make_campaign("Weekly", [people], [alpha])
    Suppression.objects.create(key="@bob_b_b")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_api_answer_conforms_to_the_schema_and_none_is_a_500(case, olga):
    _started[:] = _started or [time.monotonic()]
    if time.monotonic() - _started[0] > BUDGET_SECONDS:
        return
    token = getattr(olga, "_api_token", None)
    if token is None:
        token = olga._api_token = ApiToken.objects.mint(olga, "schemathesis")[1]
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
