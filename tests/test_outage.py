"""A database outage says what it is (issue 18, item 11): pages answer a 503 page, the JSON views
a JSON 503, instead of Django's blank "Server Error (500)"."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError, connection
from django.test.utils import CaptureQueriesContext

from tgcampaigns import outage

from .conftest import make_campaign

pytestmark = pytest.mark.django_db

DOWN = OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')


@pytest.fixture
def staff_client(client, olga):
    client.force_login(olga)
    client.raise_request_exception = False  # answer as in production, where nothing re-raises
    return client


@pytest.mark.parametrize("view", ["progress", "charts", "report"])
def test_a_json_view_answers_a_json_503_while_the_database_is_down(staff_client, alpha, view):
    campaign = make_campaign("c", [], [alpha])
    with mock.patch("campaigns.views.get_object_or_404", side_effect=DOWN):
        response = staff_client.get(f"/campaigns/{campaign.pk}/{view}.json")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json()["message"].startswith("The database is unavailable")
    assert response["Retry-After"]


def test_a_page_answers_the_outage_page_when_the_user_lookup_fails(staff_client):
    with mock.patch(
        "django.contrib.auth.middleware.auth.get_user",
        side_effect=InterfaceError("connection already closed"),
    ):
        response = staff_client.get("/admin/")
    assert response.status_code == 503
    assert (
        "The database is unavailable; sending resumes by itself when it is back" in response.content.decode()
    )


def test_a_page_whose_view_fails_on_the_database_answers_503(staff_client):
    campaign = make_campaign("c", [], [])
    with mock.patch("campaigns.views.campaign_csv_response", side_effect=DOWN):
        response = staff_client.get(f"/campaigns/{campaign.pk}/results.csv")
    assert response.status_code == 503
    assert b"The database is unavailable" in response.content


def test_the_outage_page_renders_without_a_single_query(rf):
    with CaptureQueriesContext(connection) as queries:
        response = outage.outage_response(rf.get("/admin/campaigns/"), DOWN)
    assert response.status_code == 503 and not queries.captured_queries


def test_a_full_disk_is_named_as_such(rf):
    response = outage.outage_response(
        rf.get("/campaigns/1/progress.json"), OperationalError("database or disk is full")
    )
    assert "disk is full" in json.loads(response.content)["message"]


def test_an_error_that_is_not_an_outage_stays_a_500(staff_client):
    with mock.patch("campaigns.views.get_object_or_404", side_effect=ValueError("a bug")):
        response = staff_client.get("/campaigns/1/progress.json")
    assert response.status_code == 500
