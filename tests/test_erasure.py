"""Erasing a person by any identity, keeping them erased, and retention.

Alice appears as ``@alice_user`` in a list and as ``+4915112345678`` in another; a session
resolved both to the same Telegram user id. Erasing any one of her identities removes or
anonymises her rows everywhere, drops the files that held her, and keeps only hashes, so a new
upload does not bring her back; the erasure is audited without her identities."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from campaigns import engine
from campaigns.lists.importing import import_recipient_list
from campaigns.models import (
    Campaign,
    CampaignStatus,
    DeliveryAttempt,
    ErasedIdentity,
    MessageResult,
    Recipient,
    RecipientList,
    Reply,
    Suppression,
    TestSend,
)
from campaigns.models.privacy import ERASED_TEXT, is_erased
from campaigns.people import erasure, retention
from sessions_app.models import ResolvedPeer, SimulatedDelivery
from tests.conftest import make_campaign, make_list
from tgcampaigns.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

USERNAME, PHONE, USER_ID = "@alice_user", "+4915112345678", "5550001"


@pytest.fixture
def alice(alpha):
    """Alice in two lists (with their files), sent to from both, resolved by alpha to one user id."""
    by_name = make_list(
        "by name", [(USERNAME, {"first_name": "Alice"}), ("@bob_user", {"first_name": "Bob"})]
    )
    by_phone = make_list(
        "by phone", [(PHONE, {"first_name": "Alice"}), ("+4915100000002", {"first_name": "Carl"})]
    )
    for recipient_list, text in (
        (by_name, "recipient\n@alice_user\n@bob_user\n"),
        (by_phone, f"recipient\n{PHONE}\n"),
    ):
        recipient_list.store_file(ContentFile(text.encode(), name="alice_and_friends.csv"))
        recipient_list.save()
    for campaign in (make_campaign("One", [by_name], [alpha]), make_campaign("Two", [by_phone], [alpha])):
        engine.launch(campaign, enqueue=False)
        engine.run_until_done(campaign, max_seconds=10)
    # A test of campaign One personalised as Alice (to staff's own account), and one sent to her.
    one = Campaign.objects.get(name="One")
    TestSend.objects.create(
        campaign=one,
        to_key="@staff_own",
        recipient=by_name.recipients.get(key=USERNAME),
        text="Hi Alice",
        status="sent",
    )
    TestSend.objects.create(campaign=one, to_key=PHONE, text="Hi Bob", status="sent")
    ResolvedPeer.objects.update_or_create(session=alpha, key=USERNAME, defaults={"peer_id": int(USER_ID)})
    ResolvedPeer.objects.update_or_create(session=alpha, key=PHONE, defaults={"peer_id": int(USER_ID)})
    Suppression.objects.create(key=USER_ID, note="opt-out reply")
    return by_name, by_phone


def alices_traces() -> dict[str, int]:
    keys = [USERNAME, PHONE, USER_ID]
    return {
        "recipients": Recipient.objects.filter(key__in=keys).count(),
        "results": MessageResult.objects.filter(key__in=keys).count(),
        "results' fields": MessageResult.objects.filter(fields__first_name="Alice").count(),
        "peers": ResolvedPeer.objects.filter(key__in=keys).count(),
        "ledger": SimulatedDelivery.objects.filter(peer_key__in=keys).count(),
        "suppressions": Suppression.objects.filter(key__in=keys).count(),
        "audit": AuditEvent.objects.filter(message__contains="alice").count(),
        "test sends": TestSend.objects.filter(text__contains="Alice").count()
        + TestSend.objects.filter(to_key__in=keys).count(),
    }


@pytest.mark.parametrize("identity", ["@Alice_User", "https://t.me/alice_user", "+49 151 12345678", USER_ID])
def test_erasing_a_person_by_any_identity_removes_them_everywhere(
    alice, identity, django_capture_on_commit_callbacks
):
    by_name, by_phone = alice
    assert all(
        alices_traces()[k] for k in ("recipients", "results", "peers", "ledger", "suppressions", "test sends")
    )
    files = [by_name.file.path, by_phone.file.path]
    counts_before = {c.pk: c.counts()["total"] for c in Campaign.objects.all()}

    with django_capture_on_commit_callbacks(execute=True):
        report = erasure.erase_person(identity)

    assert alices_traces() == dict.fromkeys(alices_traces(), 0)
    assert report.identities == 3
    assert {c.pk: c.counts()["total"] for c in Campaign.objects.all()} == counts_before  # counts still add up
    assert MessageResult.objects.filter(error_text=ERASED_TEXT).count() == 2
    assert not DeliveryAttempt.objects.filter(result__error_text=ERASED_TEXT).exclude(error_text="").exists()
    by_name.refresh_from_db()
    assert not by_name.file and by_name.valid_count == 1
    assert by_name.file_name == ""  # its name, as uploaded, may name the person too
    for path in files:
        assert not os.path.exists(path)
    assert is_erased([USERNAME, PHONE, USER_ID, "@bob_user"]) == {USERNAME, PHONE, USER_ID}
    assert ErasedIdentity.objects.count() == 3
    assert Recipient.objects.filter(key="@bob_user").exists()  # nobody else is touched


def test_the_erasure_is_audited_without_the_identities(alice, otto, client):
    client.force_login(otto)

    response = client.post(
        reverse("admin:campaigns_suppression_erase"), {"identity": PHONE, "confirm": "on"}, follow=True
    )

    assert any("Erased a person with 3 identities" in str(m) for m in response.context["messages"])
    event = AuditEvent.objects.get(action="person.erase")
    assert event.user == otto
    for identity in (USERNAME, PHONE, USER_ID, "alice"):
        assert identity not in event.message.lower()


def test_the_erase_page_needs_confirmation_and_a_known_kind_of_identity(alice, otto, client):
    client.force_login(otto)
    url = reverse("admin:campaigns_suppression_erase")

    unconfirmed = client.post(url, {"identity": PHONE})
    not_an_identity = client.post(url, {"identity": "@x", "confirm": "on"})

    assert unconfirmed.context["form"].errors and not_an_identity.context["form"].errors
    assert alices_traces()["recipients"] == 2


def test_an_erased_person_is_not_imported_again(alice):
    erasure.erase_person(USERNAME)
    new_list = RecipientList(name="again", consent_basis="opt_in")

    report = import_recipient_list(
        new_list,
        ContentFile(f"recipient,first_name\n{PHONE},Alice\n@dave_user,Dave\n".encode(), name="again.csv"),
    )

    assert (report.valid_count, report.invalid_count) == (1, 1)
    rows = list(new_list.recipients.order_by("row_number").values_list("key", "raw_value", "fields", "error"))
    assert rows[0] == ("", "", {}, "erased on request: not imported")
    assert rows[1][0] == "@dave_user"


def test_a_message_in_flight_postpones_the_erasure(alice):
    MessageResult.objects.filter(key=USERNAME).update(status="sending")

    with pytest.raises(erasure.ErasureError, match="being sent right now"):
        erasure.erase_person(USERNAME)
    assert alices_traces()["recipients"] == 2


def test_a_pending_message_is_cancelled_by_the_erasure(people, alpha):
    campaign = make_campaign("Pending", [people], [alpha])
    engine.launch(campaign, enqueue=False)

    erasure.erase_person("@alice_user")

    erased = campaign.results.get(error_text=ERASED_TEXT)
    assert (erased.status, erased.key) == ("cancelled", "")


def test_the_eraseperson_command(alice, capsys):
    call_command("eraseperson", USER_ID, "--yes")

    assert "Erased a person" in capsys.readouterr().out
    assert AuditEvent.objects.get(action="person.erase").actor == "command line"


def test_deleting_a_list_deletes_its_file(django_capture_on_commit_callbacks):
    recipient_list = make_list("gone", [("@gone_user", {})])
    recipient_list.file.save("gone.csv", ContentFile(b"recipient\n@gone_user\n"))
    path = recipient_list.file.path

    with django_capture_on_commit_callbacks(execute=True):
        recipient_list.delete()

    assert not os.path.exists(path)


def test_a_superuser_may_delete_results_of_a_finished_campaign_not_of_a_live_one(client, olga, people, alpha):
    done = make_campaign("Done", [people], [alpha])
    engine.launch(done, enqueue=False)
    engine.run_until_done(done, max_seconds=10)
    live = make_campaign("Live", [people], [alpha], status=CampaignStatus.PAUSED)
    live_row = MessageResult.objects.create(campaign=live, key="@x_user")
    client.force_login(olga)
    url = reverse("admin:campaigns_messageresult_changelist")

    delete = {"action": "delete_selected", "post": "yes"}

    client.post(url, delete | {"_selected_action": [r.pk for r in done.results.all()]})
    refused = client.post(url, delete | {"_selected_action": [live_row.pk]})

    assert not done.results.exists()
    assert refused.status_code == 403
    assert MessageResult.objects.filter(pk=live_row.pk).exists()


# Retention -----------------------------------------------------------------------------------
def test_retention_is_off_by_default(alice):
    before = MessageResult.objects.count()

    assert not any(retention.purge(timezone.now() + timedelta(days=3650)).values())
    assert MessageResult.objects.count() == before


def test_the_purge_deletes_old_results_and_unused_lists_with_their_files(
    alice, settings, django_capture_on_commit_callbacks
):
    by_name, by_phone = alice
    settings.TGC_RESULTS_RETENTION_DAYS = 30
    settings.TGC_LISTS_RETENTION_DAYS = 90
    Campaign.objects.update(finished_at=timezone.now() - timedelta(days=31))
    RecipientList.objects.filter(pk=by_name.pk).update(created_at=timezone.now() - timedelta(days=91))
    draft = make_campaign("Draft on by phone", [by_phone], [])
    RecipientList.objects.filter(pk=by_phone.pk).update(created_at=timezone.now() - timedelta(days=91))
    path = by_name.file.path

    with django_capture_on_commit_callbacks(execute=True):
        done = retention.purge()

    assert done["results"] == 4 and not MessageResult.objects.exists()
    assert not RecipientList.objects.filter(pk=by_name.pk).exists()
    assert RecipientList.objects.filter(pk=by_phone.pk).exists(), "a draft still uses it"
    assert not os.path.exists(path)
    assert "Results deleted after 30 days" in Campaign.objects.get(name="One").status_reason
    assert draft.lists.count() == 1
    assert AuditEvent.objects.filter(action="retention.purge", actor="system").exists()


def test_migrate_installs_the_daily_purge_schedule():
    from django_q.models import Schedule

    assert Schedule.objects.filter(
        func="campaigns.tasks.purge_old_data", schedule_type=Schedule.DAILY
    ).exists()


# Replies are personal data too (issue 12) ---------------------------------------------------
def add_reply(result: MessageResult, text: str, message_id: int) -> Reply:
    return Reply.objects.create(
        campaign=result.campaign,
        result=result,
        session=result.session,
        peer_id=result.peer_id or 0,
        message_id=message_id,
        text=text,
        received_at=timezone.now(),
    )


def test_erasing_a_person_deletes_their_replies(alice, django_capture_on_commit_callbacks):
    alices = MessageResult.objects.get(campaign__name="One", key=USERNAME)
    add_reply(alices, "Alice here, call me", 1)
    stray = add_reply(MessageResult.objects.get(campaign__name="One", key="@bob_user"), "from her id", 2)
    Reply.objects.filter(pk=stray.pk).update(peer_id=int(USER_ID))  # her user id, another result
    bobs = add_reply(MessageResult.objects.get(campaign__name="One", key="@bob_user"), "Bob here", 3)

    with django_capture_on_commit_callbacks(execute=True):
        report = erasure.erase_person(PHONE)

    assert list(Reply.objects.all()) == [bobs]
    assert report.counts["replies deleted"] == 2


def test_the_purge_deletes_replies_with_their_results(alice, settings):
    settings.TGC_RESULTS_RETENTION_DAYS = 30
    add_reply(MessageResult.objects.get(campaign__name="One", key=USERNAME), "hi", 1)
    Campaign.objects.update(finished_at=timezone.now() - timedelta(days=31))

    done = retention.purge()

    assert done["replies"] == 1 and not Reply.objects.exists()
