"""Idempotent POSTs: a retry with the same Idempotency-Key returns the first answer instead of
acting twice; the same key with another body is a 422 problem; one still being answered a 409."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from campaigns.models import Campaign, Recipient, RecipientList, Suppression
from tgcampaigns.apitokens import idempotency
from tgcampaigns.apitokens.models import IdempotentRequest
from tgcampaigns.audit.models import AuditEvent

LISTS = "/api/v1/lists/"


def test_a_retried_create_returns_the_first_answer_and_makes_one_list(mark, api_for):
    api = api_for(mark)
    body = {"name": "Once", "consent_basis": "opt_in"}
    first = api.post(LISTS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post(LISTS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert RecipientList.objects.count() == 1


def test_a_retried_upsert_and_opt_out_act_once(mark, otto, api_for):
    api = api_for(mark)
    made = api.post(LISTS, {"name": "L", "consent_basis": "opt_in"}, format="json").json()
    batch = {"recipients": [{"username": "@alice_w", "fields": {"n": "1"}}]}
    for _ in range(2):
        api.post(f"{LISTS}{made['id']}/recipients/", batch, format="json", HTTP_IDEMPOTENCY_KEY="u-1")
    assert Recipient.objects.count() == 1 and AuditEvent.objects.filter(action="list.upsert").count() == 1
    operator = api_for(otto)
    answers = [
        operator.post(
            "/api/v1/suppressions/", {"identity": "@bob_b_b"}, format="json", HTTP_IDEMPOTENCY_KEY="o"
        ).status_code
        for _ in range(2)
    ]
    assert answers == [201, 201] and Suppression.objects.count() == 1


def test_a_retried_launch_launches_once(mark, people, alpha, api_for):
    api = api_for(mark)
    made = api.post(
        "/api/v1/campaigns/",
        {"name": "W", "message": "Hi", "lists": [people.pk], "sessions": [alpha.pk]},
        format="json",
    ).json()
    fingerprint = api.get(f"/api/v1/campaigns/{made['id']}/launch/").json()["fingerprint"]
    url = f"/api/v1/campaigns/{made['id']}/launch/"
    first = api.post(url, {"fingerprint": fingerprint}, format="json", HTTP_IDEMPOTENCY_KEY="launch-1")
    again = api.post(url, {"fingerprint": fingerprint}, format="json", HTTP_IDEMPOTENCY_KEY="launch-1")
    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    assert AuditEvent.objects.filter(action="campaign.launch").count() == 1
    assert Campaign.objects.get(pk=made["id"]).results.count() == 5


def test_the_same_key_with_another_body_is_a_422_problem(mark, api_for):
    api = api_for(mark)
    api.post(LISTS, {"name": "A", "consent_basis": "opt_in"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    other = api.post(LISTS, {"name": "B", "consent_basis": "opt_in"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert RecipientList.objects.count() == 1


def test_a_duplicate_while_the_first_is_answered_is_a_409_problem(mark, api_for):
    api = api_for(mark)
    body = {"name": "A", "consent_basis": "opt_in"}
    api.post(LISTS, body, format="json", HTTP_IDEMPOTENCY_KEY="busy")
    IdempotentRequest.objects.filter(key="busy").update(status=None, body=None)  # as while it runs
    response = api.post(LISTS, body, format="json", HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409 and response.json()["code"] == "idempotency_conflict"
    assert RecipientList.objects.count() == 1


def test_a_first_request_abandoned_by_a_dead_process_is_answered_again(mark, api_for):
    api = api_for(mark)
    body = {"name": "A", "consent_basis": "opt_in"}
    api.post(LISTS, body, format="json", HTTP_IDEMPOTENCY_KEY="dead")
    long_ago = timezone.now() - idempotency.ABANDONED_AFTER - timedelta(seconds=1)
    IdempotentRequest.objects.filter(key="dead").update(status=None, body=None, created_at=long_ago)
    assert api.post(LISTS, body, format="json", HTTP_IDEMPOTENCY_KEY="dead").status_code == 201
    assert RecipientList.objects.count() == 2  # the first one's process "died" after acting


def test_keys_are_per_token(mark, api_for):
    body = {"name": "A", "consent_basis": "opt_in"}
    for name in ("one", "two"):
        assert (
            api_for(mark, name=name).post(LISTS, body, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code
            == 201
        )
    assert RecipientList.objects.count() == 2


def test_a_refusal_is_replayed_too_and_a_server_error_is_not_kept(mark, api_for, monkeypatch):
    api = api_for(mark)
    bad = {"name": "A", "consent_basis": "nonsense"}
    codes = [api.post(LISTS, bad, format="json", HTTP_IDEMPOTENCY_KEY="bad").status_code for _ in range(2)]
    assert codes == [400, 400]

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("campaigns.rest.lists_api.ListsView.perform_create", broken)
    api.raise_request_exception = False
    good = {"name": "A", "consent_basis": "opt_in"}
    assert api.post(LISTS, good, format="json", HTTP_IDEMPOTENCY_KEY="g").status_code == 500
    assert not IdempotentRequest.objects.filter(key="g").exists()
