"""The API's results and replies (filtered, cursor-paginated, the streaming CSV export), its
suppressions (add, check and remove under every identity of a person) and persons (look up,
erase); permissions per role; the admin and the API agree."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import engine
from campaigns.models import MessageResult, Recipient, RecipientIdentity, Reply, Suppression
from tests.conftest import make_campaign, make_list
from tgcampaigns.audit.models import AuditEvent

RESULTS = "/api/v1/results/"


@pytest.fixture
def sent(people, alpha):
    campaign = make_campaign("Sent", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=10)
    return campaign


def test_results_come_in_cursor_pages_newest_first(mark, sent, api_for):
    api = api_for(mark)
    first = api.get(RESULTS, {"campaign": sent.pk, "limit": 2}).json()
    assert len(first["results"]) == 2 and first["results"][0]["id"] > first["results"][1]["id"]
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()
    ids = [r["id"] for page in (first, second, third) for r in page["results"]]
    assert sorted(ids, reverse=True) == ids and len(set(ids)) == 5
    assert third["next"] is None


def test_results_are_filtered_by_status_and_identity(mark, sent, api_for):
    api = api_for(mark)
    one = MessageResult.objects.filter(campaign=sent).first()
    MessageResult.objects.filter(pk=one.pk).update(status="failed", error_code="USER_PRIVACY_RESTRICTED")
    failed = api.get(RESULTS, {"status": "failed"}).json()["results"]
    assert [r["id"] for r in failed] == [one.pk] and failed[0]["error_code"] == "USER_PRIVACY_RESTRICTED"
    assert [r["key"] for r in api.get(RESULTS, {"identity": one.key.upper()}).json()["results"]] == [one.key]


def test_a_bad_filter_is_a_problem_naming_it(mark, api_for):
    response = api_for(mark).get(RESULTS, {"status": "nonsense"})
    assert response.status_code == 400 and response.json()["field"] == "status"


def test_the_export_streams_the_admins_csv_and_is_audited(mark, sent, api_for):
    response = api_for(mark).get(f"{RESULTS}export/", {"campaign": sent.pk}, HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and response.streaming
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("key,") and len(text.splitlines()) == 6
    assert AuditEvent.objects.filter(action="results.export", actor__contains="API token").exists()


def test_replies_are_listed_with_the_result_they_answer(mark, sent, api_for):
    result = MessageResult.objects.filter(campaign=sent).first()
    Reply.objects.create(
        campaign=sent,
        result=result,
        peer_id=1,
        message_id=9,
        text="STOP",
        received_at=timezone.now(),
        is_opt_out=True,
    )
    replies = (
        api_for(mark).get("/api/v1/replies/", {"campaign": sent.pk, "opt_out": "true"}).json()["results"]
    )
    assert [(r["key"], r["text"]) for r in replies] == [(result.key, "STOP")]


@pytest.mark.parametrize(("who", "status"), [("mark", 200), ("rita", 200), ("otto", 403)])
def test_results_need_the_results_view_permission_as_in_the_admin(request, api_for, who, status):
    assert api_for(request.getfixturevalue(who)).get(RESULTS).status_code == status


# Suppressions ---------------------------------------------------------------------------------
def test_an_opt_out_recorded_through_the_api_is_the_admins_suppression(client, otto, api_for):
    api = api_for(otto, name="Shop site")
    added = api.post(
        "/api/v1/suppressions/",
        {"identity": "t.me/Alice_W", "note": "unsubscribed on the site"},
        format="json",
    )
    assert added.status_code == 201 and added.json()["key"] == "@alice_w"
    again = api.post("/api/v1/suppressions/", {"identity": "@alice_w"}, format="json")
    assert again.status_code == 200
    assert Suppression.objects.get().source == "manual"
    client.force_login(otto)
    assert "@alice_w" in client.get(reverse("admin:campaigns_suppression_changelist")).content.decode()
    assert AuditEvent.objects.get(action="suppression.add").actor == "otto via API token “Shop site”"


@pytest.mark.parametrize("digits", ["4915123456701", "447400123456", "14155550132"])
def test_an_opt_out_of_bare_digits_that_are_also_a_phone_number_is_refused_saying_how_to_write_each(
    otto, api_for, digits
):
    api = api_for(otto)

    refused = api.post("/api/v1/suppressions/", {"identity": digits}, format="json")
    as_phone = api.post("/api/v1/suppressions/", {"identity": "+" + digits}, format="json")
    as_id = api.post("/api/v1/suppressions/", {"identity": f"tg://user?id={digits}"}, format="json")

    assert refused.status_code == 400
    assert f"+{digits}" in refused.json()["detail"] and f"tg://user?id={digits}" in refused.json()["detail"]
    assert (as_phone.status_code, as_id.status_code) == (201, 201)
    assert set(Suppression.objects.values_list("key", flat=True)) == {"+" + digits, digits}


def test_an_opt_out_of_a_user_id_that_is_no_phone_number_is_recorded(otto, api_for):
    added = api_for(otto).post("/api/v1/suppressions/", {"identity": "123456789"}, format="json")

    assert added.status_code == 201 and added.json()["key"] == "123456789"


def test_a_check_sees_a_suppression_under_another_identity_of_the_person(otto, api_for):
    rl = make_list("both", [("@alice_w", {})])
    RecipientIdentity.objects.create(
        recipient=Recipient.objects.get(recipient_list=rl), key="+4915112345678", kind="phone"
    )
    Suppression.objects.create(key="+4915112345678")
    body = api_for(otto).get("/api/v1/suppressions/@alice_w/").json()
    assert body["suppressed"] is True and body["identities"] == ["+4915112345678", "@alice_w"]
    removed = api_for(otto).delete("/api/v1/suppressions/@alice_w/")
    assert removed.json() == {"removed": 1} and not Suppression.objects.exists()
    assert api_for(otto).delete("/api/v1/suppressions/@alice_w/").status_code == 404


def test_an_identity_that_is_none_is_a_problem_naming_it(otto, api_for):
    response = api_for(otto).post("/api/v1/suppressions/", {"identity": "no"}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "identity"
    assert api_for(otto).get("/api/v1/suppressions/no/").json()["field"] == "identity"


@pytest.mark.parametrize(("who", "status"), [("otto", 201), ("mark", 403), ("rita", 403)])
def test_suppressions_are_the_operators_as_in_the_admin(request, api_for, who, status):
    api = api_for(request.getfixturevalue(who))
    assert api.post("/api/v1/suppressions/", {"identity": "@alice_w"}, format="json").status_code == status


# Persons --------------------------------------------------------------------------------------
def test_a_person_is_looked_up_by_any_identity(mark, people, api_for):
    row = people.recipients.first()
    body = api_for(mark).get(f"/api/v1/persons/{row.key}/").json()
    assert body["identity"] == row.key and body["recipients"][0]["list"] == people.pk
    assert api_for(mark).get("/api/v1/persons/@nobody_here/").status_code == 404


def test_a_person_erased_through_the_api_is_gone_everywhere(otto, sent, api_for):
    key = MessageResult.objects.filter(campaign=sent).first().key
    response = api_for(otto).post(f"/api/v1/persons/{key}/erase/")
    assert response.status_code == 200, response.json()
    assert response.json()["counts"]["recipients deleted"] == 1
    assert (
        not MessageResult.objects.filter(key=key).exists() and not Recipient.objects.filter(key=key).exists()
    )
    assert AuditEvent.objects.get(action="person.erase").actor.endswith("via API token “CRM”")


@pytest.fixture
def vera(db):
    """Staff whose only permission is to view recipient rows: no results, no erasing."""
    from django.contrib.auth.models import Permission

    from tests.conftest import make_staff

    user = make_staff("vera")
    user.user_permissions.add(Permission.objects.get(codename="view_recipient"))
    return user


@pytest.fixture
def nobody(db):
    from tests.conftest import make_staff

    return make_staff("nobody")


# Per role: the API's look-up, the admin's search, the API's erasure. Who may see results or erase
# a person finds them (the admin's may_see_persons); only who may erase erases.
PERSON_RIGHTS = [
    ("mark", 200, 302, 403),  # Marketing: sees results
    ("rita", 200, 302, 403),  # Reviewer: sees results
    ("otto", 200, 302, 200),  # Operator: erases, so finds and opens the person first
    ("olga", 200, 302, 200),  # superuser
    ("vera", 403, 403, 403),  # recipient rows only: no person's page in the admin either
    ("nobody", 403, 403, 403),
]


@pytest.mark.parametrize(("who", "look_up", "search", "erase"), PERSON_RIGHTS)
def test_each_role_looks_up_searches_and_erases_a_person_as_the_admin_lets_it(
    request, client, api_for, people, who, look_up, search, erase
):
    user = request.getfixturevalue(who)
    key = people.recipients.order_by("pk").first().key
    api = api_for(user)
    client.force_login(user)

    found = api.get(f"/api/v1/persons/{key}/")
    searched = client.get(reverse("admin:campaigns_person_changelist"), {"q": key})
    erased = api.post(f"/api/v1/persons/{key}/erase/")

    assert (found.status_code, searched.status_code, erased.status_code) == (look_up, search, erase)
    if look_up == 200:
        assert found.json()["identity"] == key and found.json()["recipients"][0]["list"] == people.pk
    assert Recipient.objects.filter(key=key).exists() is (erase != 200)


def test_an_operator_finds_the_person_the_admin_shows_then_erases_them(client, otto, sent, api_for):
    key = MessageResult.objects.filter(campaign=sent).order_by("pk").first().key
    api = api_for(otto)
    client.force_login(otto)

    found = api.get(f"/api/v1/persons/{key}/").json()
    page = client.get(reverse("admin:campaigns_person_changelist"), {"q": key}, follow=True)
    erased = api.post(f"/api/v1/persons/{key}/erase/")

    assert found["results"] == 1 and [r["key"] for r in found["recipients"]] == [key]
    assert page.status_code == 200 and key in page.content.decode()
    assert erased.status_code == 200 and api.get(f"/api/v1/persons/{key}/").status_code == 404


def test_only_a_role_that_may_erase_erases(mark, people, api_for):
    key = people.recipients.first().key
    assert api_for(mark).post(f"/api/v1/persons/{key}/erase/").status_code == 403


def test_a_refused_export_is_a_json_problem_even_when_csv_was_asked_for(db, api_for, rita):
    response = api_for(rita).get(f"{RESULTS}export/", {"status": "nonsense"}, HTTP_ACCEPT="text/csv")
    assert response.status_code == 400
    assert response.json()["field"] == "status"


def test_a_results_row_is_what_its_documented_serializer_says(mark, sent, api_for):
    from campaigns.rest.results_api import ResultSerializer

    row = api_for(mark).get(RESULTS, {"campaign": sent.pk, "limit": 1}).json()["results"][0]
    assert row == ResultSerializer(MessageResult.objects.get(pk=row["id"])).data
