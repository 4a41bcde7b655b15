"""campaigns.engine.sql: the engine's multi-row insert (COPY on PostgreSQL, INSERT on SQLite)."""

from datetime import UTC, datetime

import pytest

from campaigns.engine.launcher import RESULT_COLUMNS
from campaigns.engine.sql import insert_rows
from campaigns.models import MessageResult

from .conftest import make_campaign, make_list

pytestmark = pytest.mark.django_db


def test_hostile_values_round_trip_exactly(alpha):
    campaign = make_campaign("bulk", [make_list("l", [])], [alpha])
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    fields = {"name": "Tab\there\nnew line \\N back\\slash \r", "emoji": "Rosa 🌹", "quote": '"=1+2"'}
    rows = [
        (
            campaign.pk,
            None,  # recipient_id
            "@a\tb",
            None,
            "username",
            fields,
            "pending",
            None,
            -(2**63),
            "",
            "\\N",
            0,
            True,
            "",
            at,
            at,
        ),
        (campaign.pk, None, "", "x", "", {}, "skipped", alpha.pk, 2**63 - 1, "E", "", 3, False, "o", at, at),
    ]
    assert insert_rows(MessageResult, RESULT_COLUMNS, rows) == 2
    first, second = MessageResult.objects.order_by("id")
    assert (first.key, first.dedupe_key, first.fields, first.random_id, first.error_text) == (
        "@a\tb",
        None,
        fields,
        -(2**63),
        "\\N",
    )
    assert (first.in_doubt, first.created_at, first.session_id) == (True, at, None)
    assert (second.key, second.dedupe_key, second.random_id, second.attempts, second.in_doubt) == (
        "",
        "x",
        2**63 - 1,
        3,
        False,
    )
