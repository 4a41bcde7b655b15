"""The results changelist at scale: counts from the tally, filters and search from indexes, deep
pages without dragging joins (issue: a million results took seconds per page)."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns import engine

from .conftest import make_campaign, make_list

pytestmark = pytest.mark.django_db
RESULTS = reverse("admin:campaigns_messageresult_changelist")
TABLE = "campaigns_messageresult"


@pytest.fixture
def sent(client, olga, alpha, beta):
    client.force_login(olga)
    rows = [(f"@member_{i:03d}", {}) for i in range(30)] + [("not a recipient", {})]
    campaign = make_campaign("big", [make_list("thirty", rows)], [alpha, beta])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    return campaign


def scans(queries) -> list[str]:
    """Statements that read every result: an unbounded COUNT, a LIKE '%…%', a DISTINCT over them."""
    bad = []
    for q in queries:
        sql = q["sql"]
        if TABLE not in sql:
            continue
        if re.search(rf'COUNT\(\*\).*FROM "{TABLE}"', sql) and "LIMIT" not in sql:
            bad.append(sql)
        if "LIKE" in sql and "%%" not in sql and re.search(r"LIKE .*'%", sql):
            bad.append(sql)
        if "DISTINCT" in sql and "session_id" in sql:
            bad.append(sql)
    return bad


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"status__exact": "sent"},
        {"error_code": "USER_IS_BLOCKED"},
        {"q": "@member_007"},
        {"o": "-9"},
    ],
)
def test_no_changelist_page_reads_every_result(client, sent, query):
    params = {"campaign__id__exact": sent.pk, **query} if query.get("status__exact") else query
    with CaptureQueriesContext(connection) as captured:
        response = client.get(RESULTS, params)
    assert response.status_code == 200
    assert scans(captured.captured_queries) == []


def test_a_filtered_page_counts_from_the_tally(client, sent, alpha):
    response = client.get(
        RESULTS, {"campaign__id__exact": sent.pk, "session__id__exact": alpha.pk, "status__exact": "sent"}
    )
    assert (
        response.context["cl"].result_count == sent.results.filter(session=alpha, status="sent").count() > 0
    )
    assert response.context["cl"].paginator.known_count is not None


def test_a_search_finds_a_recipient_as_staff_write_it(client, sent):
    by_link = client.get(RESULTS, {"q": "t.me/Member_007"}).context["cl"].result_list
    by_prefix = client.get(RESULTS, {"q": "member_00"}).context["cl"].result_list
    as_written = client.get(RESULTS, {"q": "not a recipient"}).context["cl"].result_list
    assert [r.key for r in by_link] == ["@member_007"]
    assert {r.key for r in by_prefix} == {f"@member_00{i}" for i in range(10)}
    assert [r.recipient.raw_value for r in as_written] == ["not a recipient"]


def test_beyond_the_cap_a_count_says_more_than_and_the_pages_still_list(client, sent, monkeypatch):
    monkeypatch.setattr("campaigns.admin.scale.COUNT_CAP", 5)
    response = client.get(RESULTS, {"q": "@member_0"})
    assert response.context["cl"].paginator.capped
    assert b"More than 5 results match" in response.content


def test_a_deep_page_lists_its_rows_in_order(client, sent, monkeypatch):
    from campaigns.admin.results import MessageResultAdmin

    monkeypatch.setattr(MessageResultAdmin, "list_per_page", 7)
    second = client.get(RESULTS, {"p": "2"}).context["cl"].result_list
    expected = list(sent.results.order_by("id").values_list("pk", flat=True)[7:14])
    assert [r.pk for r in second] == expected
