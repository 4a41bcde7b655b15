"""The API's pages are held to one rule for every list endpoint (``tgcampaigns.apitokens.paging``):
``?limit=`` is a whole number from 1 to 1000 and anything else is a 400 problem naming ``limit``
and its range (it fell back to 100, silently); a cursor the API did not give is a 400 naming
``cursor``; ``?offset=`` and ``?page=`` (other paginators' words, ignored here, so a client
stepping through offsets got the first page forever) are refused naming themselves; and an
endpoint that answers everything at once refuses paging parameters instead of ignoring them."""

from __future__ import annotations

import pytest

from tests.conftest import make_campaign
from tgcampaigns.apitokens.paging import LIMIT

pytestmark = pytest.mark.django_db

PAGED = ["/api/v1/lists/", "/api/v1/campaigns/", "/api/v1/results/", "/api/v1/replies/"]
WHOLE = ["/api/v1/sessions/", "/api/v1/segments/", "/api/v1/results/export/"]


@pytest.fixture
def api(olga, api_for, people, alpha):
    for n in range(3):
        make_campaign(f"c{n}", [people], [alpha])
    return api_for(olga)


def problem(response) -> dict:
    body = response.json()
    assert response.status_code == 400, body
    assert response["Content-Type"] == "application/problem+json"
    return body


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize("limit", ["-5", "0", "1001", "1e308", "abc", "2.5", "", "NaN", str(10**30)])
def test_a_limit_out_of_its_range_is_a_problem_naming_it_and_the_range(api, path, limit):
    body = problem(api.get(path, {"limit": limit}))

    assert body["field"] == "limit"
    assert body["detail"] == f"limit: {LIMIT.message}"


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize("limit", [1, 1000])
def test_a_limit_at_the_edge_of_its_range_sets_the_page_size(api, path, limit):
    response = api.get(path, {"limit": limit})

    assert response.status_code == 200, response.json()


def test_a_page_holds_as_many_rows_as_the_limit_says_and_next_keeps_it(api):
    first = api.get("/api/v1/campaigns/", {"limit": 2}).json()
    second = api.get(first["next"]).json()
    back = api.get(second["previous"]).json()

    assert [len(first["results"]), len(second["results"])] == [2, 1]
    assert back["results"] == first["results"]


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize(
    "cursor",
    [
        "abc",
        "cD0xMjM",  # p=123 without its padding
        "%%%",  # decoded leniently: no cursor at all, the first page again
        "cD1hYmM=",  # p=abc: was a 500 (an id that is no number)
        "cD05OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk=",  # p=10^30 - 1: past any id
        "bz0tMQ==",  # o=-1
    ],
)
def test_a_cursor_the_api_did_not_give_is_a_problem_naming_it(api, path, cursor):
    body = problem(api.get(path, {"cursor": cursor}))

    assert body["field"] == "cursor"


@pytest.mark.parametrize("path", PAGED + WHOLE)
@pytest.mark.parametrize("name", ["offset", "page", "page_size"])
def test_another_paginators_parameter_is_refused_not_ignored(api, path, name):
    body = problem(api.get(path, {name: "100"}))

    assert body["field"] == name
    assert "next" in body["detail"]


@pytest.mark.parametrize("path", WHOLE)
@pytest.mark.parametrize("name", ["limit", "cursor"])
def test_an_endpoint_that_answers_everything_at_once_refuses_paging_instead_of_ignoring_it(api, path, name):
    body = problem(api.get(path, {name: "10"}))

    assert body["field"] == name


def test_the_schema_documents_the_limits_range(api):
    schema = api.get("/api/v1/schema/", {"format": "json"}).json()

    for path in PAGED:
        (limit,) = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "limit"]
        assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (LIMIT.low, LIMIT.high), path


def test_the_api_documents_the_limits_range():
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text(encoding="utf-8")
    assert f"`?limit=` sets the page size ({LIMIT.span}" in " ".join(text.split())
    assert LIMIT.message in " ".join(text.split())
