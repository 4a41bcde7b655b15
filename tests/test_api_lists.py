"""The API's recipient lists: list and create, upload a file (imported now or by a worker, as in
the admin), read the import's state and report, upsert recipients by identity; permissions per
role; the admin and the API agree; every write audited with the token's name."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from campaigns import tasks
from campaigns.models import Recipient, RecipientIdentity, RecipientList
from tests.conftest import make_list
from tgcampaigns.audit.models import AuditEvent

LISTS = "/api/v1/lists/"
CSV = b"username,phone,first_name\n@alice_w,,Alice\n,+4915112345678,Bob\n@alice_w,,Again\nnot a user!,,Bad\n"


def new_list(api, **fields) -> dict:
    response = api.post(
        LISTS, {"name": "CRM subscribers", "consent_basis": "opt_in", **fields}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def upload(api, list_id: int, content: bytes = CSV, name: str = "people.csv", **options):
    return api.post(
        f"{LISTS}{list_id}/file/", {"file": SimpleUploadedFile(name, content), **options}, format="multipart"
    )


def test_a_list_made_through_the_api_is_shown_in_the_admin_and_audited_with_the_token(client, mark, api_for):
    made = new_list(api_for(mark, name="Shop CRM"), default_region="de")
    assert made["default_region"] == "DE" and made["import_status"] == "done" and made["total_rows"] == 0
    client.force_login(mark)
    page = client.get(reverse("admin:campaigns_recipientlist_changelist")).content.decode()
    assert "CRM subscribers" in page
    event = AuditEvent.objects.get(action="list.create")
    assert event.actor == "mark via API token “Shop CRM”" and event.user == mark


def test_a_list_made_in_the_admin_is_listed_by_the_api_newest_first(mark, api_for):
    make_list("older", [("@older_one", {})])
    make_list("newer", [("@newer_one", {})])
    body = api_for(mark).get(LISTS).json()
    assert [r["name"] for r in body["results"]][:2] == ["newer", "older"]
    assert "next" in body


def test_a_bad_region_is_a_problem_naming_the_field(mark, api_for):
    response = api_for(mark).post(
        LISTS, {"name": "x", "consent_basis": "opt_in", "default_region": "ZZ"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "default_region" and body["code"] == "invalid"
    assert body["errors"][0]["detail"].startswith("Use a two-letter country code")


def test_a_small_file_is_imported_at_once_with_the_imports_report(mark, api_for):
    api = api_for(mark)
    made = new_list(api)
    response = upload(api, made["id"])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["valid_count"], body["duplicate_count"], body["invalid_count"]) == (2, 1, 1)
    assert body["report"]["problems"][0]["status"] == "duplicate"
    assert api.get(f"{LISTS}{made['id']}/").json()["import_status"] == "done"
    assert AuditEvent.objects.filter(action="list.import", actor__contains="CRM").exists()


def test_the_mapping_options_are_those_of_the_admin(mark, api_for):
    api = api_for(mark)
    made = new_list(api)
    body = upload(
        api,
        made["id"],
        b"@alice_w;Alice\n@bob_b_b;Bob\n",
        roles=["username", "field"],
        delimiter=";",
        header="false",
    ).json()
    assert body["valid_count"] == 2
    assert Recipient.objects.filter(recipient_list_id=made["id"], key="@alice_w").exists()


def test_a_large_file_is_imported_by_a_worker_and_its_state_read(mark, api_for, settings):
    settings.TGC_IMPORT_INLINE_MAX_BYTES = 10
    api = api_for(mark)
    made = new_list(api)
    with mock.patch("campaigns.lists.jobs.async_task", autospec=True) as enqueue:
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = upload(api, made["id"])
    assert response.status_code == 202
    assert response.json()["import_status"] == "queued"
    enqueue.assert_called_once()
    tasks.import_recipient_list(made["id"])
    body = api.get(f"{LISTS}{made['id']}/").json()
    assert body["import_status"] == "done" and body["valid_count"] == 2


def test_a_file_that_is_no_list_is_a_422_problem_and_keeps_nothing(mark, api_for):
    api = api_for(mark)
    made = new_list(api)
    response = upload(api, made["id"], b"", name="empty.csv")
    assert response.status_code == 422
    assert response.json()["field"] == "file"
    assert not RecipientList.objects.get(pk=made["id"]).file


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"encoding": "idna"}, "cannot read a file"),  # a codec that refuses errors="replace"
        ({"encoding": "undefined"}, "cannot read a file"),
        ({"roles": ["username", "phone", "field", "phone"]}, "4 roles for the file's 3 columns"),
    ],
)
def test_a_mapping_the_file_cannot_be_read_with_is_a_422_problem_naming_it(mark, api_for, options, words):
    api = api_for(mark)
    made = new_list(api)

    response = upload(api, made["id"], **options)

    assert response.status_code == 422, response.json()
    assert words in response.json()["detail"]
    assert not RecipientList.objects.get(pk=made["id"]).file


def test_an_upsert_adds_new_people_and_updates_known_ones_by_any_identity(mark, api_for):
    api = api_for(mark)
    made = new_list(api, default_region="DE")
    upload(api, made["id"], b"username,phone,first_name\n@alice_w,+4915112345678,Alice\n")
    entries = [
        {"phone": "015112345678", "fields": {"first_name": "Alicia", "plan": "gold"}},  # Alice, by phone
        {"username": "@carol_c", "fields": {"first_name": "Carol"}},
        {"username": "t.me/Carol_C"},  # the same person again
        {"username": "no"},
    ]
    response = api.post(f"{LISTS}{made['id']}/recipients/", {"recipients": entries}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["updated"], body["duplicate"], body["invalid"]) == (1, 1, 1, 1)
    assert [p["row"] for p in body["problems"]] == [3, 4]
    alice = Recipient.objects.get(recipient_list_id=made["id"], key="@alice_w")
    assert alice.fields["first_name"] == "Alicia" and alice.fields["plan"] == "gold"
    assert body["list"]["valid_count"] == 2 and body["list"]["total_rows"] == 2
    assert AuditEvent.objects.filter(action="list.upsert").count() == 1


def test_an_upsert_adds_a_new_identity_to_the_person_it_matched(mark, api_for):
    api = api_for(mark)
    made = new_list(api)
    api.post(f"{LISTS}{made['id']}/recipients/", {"recipients": [{"username": "@dave_d"}]}, format="json")
    api.post(
        f"{LISTS}{made['id']}/recipients/",
        {"recipients": [{"username": "@dave_d", "user_id": 4242}]},
        format="json",
    )
    dave = Recipient.objects.get(recipient_list_id=made["id"])
    assert dave.identities() == ["@dave_d", "4242"]
    assert RecipientIdentity.objects.filter(recipient=dave).count() == 1


def test_an_upsert_entry_naming_two_people_of_the_list_is_reported_and_changes_neither(mark, api_for):
    rl = make_list(
        "two", [("@anna_example", {"first_name": "Anna"}), ("+4915123456701", {"first_name": "Bob"})]
    )
    entry = {"username": "@anna_example", "phone": "+4915123456701", "fields": {"first_name": "Zed"}}

    response = api_for(mark).post(f"{LISTS}{rl.id}/recipients/", {"recipients": [entry]}, format="json")

    report = response.json()
    assert (report["updated"], report["created"], report["invalid"]) == (0, 0, 1)
    assert (
        "@anna_example" in report["problems"][0]["error"]
        and "+4915123456701" in report["problems"][0]["error"]
    )
    assert {r.key: r.fields["first_name"] for r in Recipient.objects.all()} == {
        "@anna_example": "Anna",
        "+4915123456701": "Bob",
    }
    assert not RecipientIdentity.objects.exists()


def test_an_upsert_of_a_malformed_batch_is_a_problem_naming_the_entry(mark, api_for):
    api = api_for(mark)
    made = new_list(api)
    response = api.post(
        f"{LISTS}{made['id']}/recipients/",
        {"recipients": [{"username": "@x_x_x"}, {"email": "a"}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["field"] == "recipients.1"


@pytest.mark.parametrize("text", ['"\\ud800"', '"Ann\\udfff"', '"\\udc00\\ud83d"'])
def test_json_holding_a_lone_surrogate_is_a_400_problem_not_a_server_error(mark, api_for, text):
    api = api_for(mark)
    made = new_list(api)
    entry = '{"phone": "+4915112345678", "fields": {"first_name": ' + text + "}}"
    body = '{"recipients": [' + entry + "]}"

    response = api.generic("POST", f"{LISTS}{made['id']}/recipients/", body, content_type="application/json")

    assert response.status_code == 400
    assert "surrogate" in response.json()["detail"]
    assert not Recipient.objects.exists()


def test_json_holding_an_emoji_as_a_surrogate_pair_is_read(mark, api_for):
    api = api_for(mark)
    made = new_list(api)
    body = '{"recipients": [{"phone": "+4915112345678", "fields": {"first_name": "Ann \\ud83c\\udf39"}}]}'

    response = api.generic("POST", f"{LISTS}{made['id']}/recipients/", body, content_type="application/json")

    assert response.status_code == 200, response.json()
    assert Recipient.objects.get().fields == {"first_name": "Ann 🌹"}


def test_an_upsert_into_a_list_being_imported_is_a_409_problem(mark, api_for):
    api = api_for(mark)
    made = new_list(api)
    RecipientList.objects.filter(pk=made["id"]).update(import_status="running")
    response = api.post(
        f"{LISTS}{made['id']}/recipients/", {"recipients": [{"username": "@dave_d"}]}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "busy"


@pytest.mark.parametrize(
    ("who", "read", "write"),
    [("mark", 200, 201), ("rita", 403, 403), ("otto", 403, 403), ("olga", 200, 201)],
)
def test_each_role_may_do_with_lists_what_the_admin_lets_it(request, api_for, who, read, write):
    api = api_for(request.getfixturevalue(who))
    assert api.get(LISTS).status_code == read
    response = api.post(LISTS, {"name": "x", "consent_basis": "opt_in"}, format="json")
    assert response.status_code == write
