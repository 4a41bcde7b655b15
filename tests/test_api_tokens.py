"""API tokens: made on the user's page and shown once, hashed at rest, revocable, last use
recorded; the bearer authentication, the rate limit, the body limit and JSON problems for every
error under /api/ (tgcampaigns/apitokens)."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.messages import get_messages
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from tgcampaigns.apitokens.models import ApiToken
from tgcampaigns.audit.models import AuditEvent

LISTS = "/api/v1/lists/"


def _inline_post(user, **rows) -> dict:
    """The user change form's data as it stands (groups kept), with the token inline's management
    form and ``rows``."""
    data = {
        "username": user.username,
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "is_active": "on",
        "is_staff": "on" if user.is_staff else "",
        "groups": [g.pk for g in user.groups.all()],
        "api_tokens-TOTAL_FORMS": str(len(rows.get("forms", []))),
        "api_tokens-INITIAL_FORMS": str(rows.get("initial", 0)),
        "api_tokens-MIN_NUM_FORMS": "0",
        "api_tokens-MAX_NUM_FORMS": "1000",
    }
    for i, form in enumerate(rows.get("forms", [])):
        data.update({f"api_tokens-{i}-{k}": v for k, v in form.items()})
    return data


def test_a_token_made_on_the_users_page_is_shown_once_and_stored_only_as_its_hash(client, olga, mark):
    client.force_login(olga)
    url = reverse("admin:auth_user_change", args=[mark.pk])
    response = client.post(url, _inline_post(mark, forms=[{"name": "Shop CRM", "user": mark.pk}]))
    assert response.status_code == 302, response.content[:2000]
    said = [str(m) for m in get_messages(response.wsgi_request)]
    clear = next(word for m in said for word in m.split() if word.startswith("tgc_"))
    token = ApiToken.objects.get(user=mark)
    assert token.name == "Shop CRM"
    assert token.digest == hashlib.sha256(clear.encode()).hexdigest()
    assert clear not in str(list(ApiToken.objects.values()))
    assert clear in client.get(url).content.decode()  # the page after saving says it, once
    page = client.get(url).content.decode()
    assert "Shop CRM" in page and f"tgc_{token.prefix}_" in page and clear not in page
    assert AuditEvent.objects.filter(action="api_token.create", actor="olga").exists()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {clear}")
    assert api.get(LISTS).status_code == 200  # Mark's role: he reads lists


def test_a_token_revoked_on_the_users_page_is_refused(client, olga, mark, api_for):
    api = api_for(mark)
    assert api.get(LISTS).status_code == 200
    client.force_login(olga)
    url = reverse("admin:auth_user_change", args=[mark.pk])
    form = {"id": api.token.pk, "user": mark.pk, "name": "CRM", "revoke": "on"}
    response = client.post(url, _inline_post(mark, forms=[form], initial=1))
    assert response.status_code == 302
    assert ApiToken.objects.get(pk=api.token.pk).revoked_at is not None
    refused = api.get(LISTS)
    assert refused.status_code == 401
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "authentication_failed"


def test_a_made_tokens_fixed_name_and_a_revoked_ones_box_say_why_they_are_locked(client, olga, mark, api_for):
    import re

    api = api_for(mark)
    api.token.revoke()
    client.force_login(olga)
    page = client.get(reverse("admin:auth_user_change", args=[mark.pk])).content.decode()

    name = re.search(r"<input[^>]*name=\"api_tokens-0-name\"[^>]*>", page).group(0)
    assert "disabled" in name and 'title="Fixed when the token was made' in name
    revoke = re.search(r"<input[^>]*name=\"api_tokens-0-revoke\"[^>]*>", page).group(0)
    assert "disabled" in revoke and 'title="Revoked already' in revoke


def test_a_request_without_a_token_gets_a_json_401_naming_the_scheme(db):
    response = APIClient().get(LISTS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert body["status"] == 401 and body["code"] == "not_authenticated"
    assert {"type", "title", "detail", "field"} <= set(body)


def test_an_unknown_token_gets_a_json_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer tgc_00000000_nothing")
    assert client.get(LISTS).json()["code"] == "authentication_failed"


def test_a_token_of_an_inactive_user_is_refused(mark, api_for):
    api = api_for(mark)
    mark.is_active = False
    mark.save()
    assert api.get(LISTS).status_code == 401


def test_last_use_is_recorded_at_most_once_a_minute(mark, api_for, django_assert_num_queries):
    api = api_for(mark)
    api.get(LISTS)
    first = ApiToken.objects.get(pk=api.token.pk).last_used_at
    assert first is not None
    api.get(LISTS)
    assert ApiToken.objects.get(pk=api.token.pk).last_used_at == first


@override_settings(TGC_API_RATE="3/min")
def test_a_token_over_its_rate_gets_a_429_problem_with_retry_after(mark, api_for):
    api = api_for(mark)
    other = api_for(mark, name="other")
    for _ in range(3):
        assert api.get(LISTS).status_code == 200
    response = api.get(LISTS)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["code"] == "throttled"
    assert other.get(LISTS).status_code == 200  # per token


@override_settings(TGC_API_MAX_BODY_BYTES=1000)
def test_a_body_over_the_limit_gets_a_413_problem(mark, api_for):
    response = api_for(mark).post(LISTS, {"name": "x" * 2000, "consent_basis": "opt_in"}, format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_an_unknown_api_url_is_a_json_404(mark, api_for):
    response = api_for(mark).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_an_unhandled_error_is_a_json_500(mark, api_for, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("campaigns.rest.lists_api.ListsView.list", broken)
    client = api_for(mark)
    client.raise_request_exception = False
    response = client.get(LISTS)
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "boom" not in response.content.decode()


def test_a_role_without_the_permission_gets_a_403_problem(otto, api_for):
    response = api_for(otto).get(LISTS)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_the_schema_and_its_docs_page_are_served_without_a_cdn(db):
    client = APIClient()
    schema = client.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    page = client.get("/api/v1/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower() and "https://" not in page.split("</head>")[0].replace(
        "https://github", ""
    )


@pytest.mark.parametrize("header", ["Token abc", "Bearer", "Bearer a b"])
def test_a_malformed_authorization_header_is_a_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get(LISTS).status_code == 401


def test_makeapitoken_prints_a_working_token_once_and_audits_it(mark):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("makeapitoken", "mark", "Shop CRM", stdout=out)
    clear = out.getvalue().strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {clear}")
    assert client.get(LISTS).status_code == 200
    assert AuditEvent.objects.get(action="api_token.create").actor == "command line"


@pytest.mark.parametrize("rate", ["fast", "0/min", "10/week", "ten/s"])
def test_a_rate_that_is_no_rate_fails_the_system_check(settings, rate):
    from tgcampaigns.apitokens.checks import api_settings_check

    settings.TGC_API_RATE = rate
    assert [e.id for e in api_settings_check(None)] == ["apitokens.E001"]


def test_the_default_settings_pass_the_api_check():
    from tgcampaigns.apitokens.checks import api_settings_check

    assert api_settings_check(None) == []


def test_head_needs_what_get_needs(otto, api_for):
    assert api_for(otto).head("/api/v1/results/").status_code == 403
