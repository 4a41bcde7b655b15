"""Each of the six webhook events fired from its real code path (the engine on simulated sessions,
the reply recorder, the suppression list, the admin, the import jobs), delivered to a real receiver
that verifies its signature: what each payload holds, and that it holds no more."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from campaigns import engine
from campaigns.engine import engagement
from campaigns.engine.control import pause
from campaigns.lists import jobs
from campaigns.lists.mapping import Mapping
from campaigns.models import Campaign, MessageResult, RecipientList, Suppression
from campaigns.people import optout
from sessions_app.models import SessionStatus
from sessions_app.transport.base import Incoming
from tests.conftest import make_campaign, make_session
from tests.webhook_receiver import (
    receiver_fixture,  # noqa: F401  (the "receiver" fixture)
    run_due,
    threaded_httpserver_fixture,  # noqa: F401  (pytest-httpserver's server, threaded)
)
from tgcampaigns.webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def delivered(receiver, event_type: str | None = None) -> list[dict]:
    """Deliver what is due; the payloads the receiver accepted (of ``event_type``)."""
    assert set(run_due()) <= {"delivered"}
    return [p for p in receiver.accepted if event_type is None or p["type"] == event_type]


@pytest.fixture
def sent(alpha, people):
    """A campaign sent to the five people from the simulated session alpha, finished."""
    campaign = make_campaign("spring", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=30) == "completed"
    return Campaign.objects.get(pk=campaign.pk)


# campaign.finished / campaign.paused ------------------------------------------------------------
def test_a_campaign_that_completes_announces_it_with_its_counts_once(receiver, sent):
    [event] = delivered(receiver, "campaign.finished")

    campaign = event["data"]["campaign"]
    assert (campaign["id"], campaign["name"], campaign["status"]) == (sent.pk, "spring", "completed")
    assert campaign["finished_at"] and campaign["launched_at"]
    assert event["data"]["counts"]["sent"] == 5 and event["data"]["counts"]["total"] == 5
    assert receiver.types().count("campaign.finished") == 1


def test_a_cancelled_campaign_is_announced_as_finished_without_counts(receiver, alpha, people):
    campaign = make_campaign("autumn", [people], [alpha])
    engine.launch(campaign, enqueue=False)

    engine.cancel(campaign)

    [event] = delivered(receiver, "campaign.finished")
    assert event["data"]["campaign"]["status"] == "cancelled" and "counts" not in event["data"]


def test_a_campaign_paused_by_staff_is_announced_with_its_reason(receiver, alpha, people):
    campaign = make_campaign("autumn", [people], [alpha])
    engine.launch(campaign, enqueue=False)

    assert pause(campaign)
    assert not pause(campaign)  # already paused: no second event

    [event] = delivered(receiver, "campaign.paused")
    assert event["data"] == {
        "campaign": {"id": campaign.pk, "name": "autumn", "status": "paused"},
        "reason": "Paused by staff.",
    }


def test_a_spam_limit_quarantines_the_session_and_announces_both_the_session_and_the_pause(receiver, people):
    limited = make_session("limited", simulator_config={"script": {"@alice_user": ["PEER_FLOOD"]}})
    campaign = make_campaign("spring", [people], [limited])
    engine.launch(campaign, enqueue=False)

    assert engine.run_until_done(campaign, max_seconds=30) == "paused"

    limited.refresh_from_db()
    assert limited.status == SessionStatus.QUARANTINED
    [quarantined] = delivered(receiver, "session.quarantined")
    assert quarantined["data"]["session"] == {"id": limited.pk, "name": "limited", "kind": "bot"}
    assert quarantined["data"]["error_code"] == "PEER_FLOOD"
    assert "session_string" not in str(quarantined) and "encrypted" not in str(quarantined)
    [paused] = delivered(receiver, "campaign.paused")
    assert "spam-limited" in paused["data"]["reason"]


def test_a_session_quarantined_already_is_not_announced_again(receiver, alpha):
    from campaigns.engine.effects import quarantine
    from sessions_app.transport import ErrorKind, TransportError

    err = TransportError(ErrorKind.SPAM_LIMITED, "PEER_FLOOD", "spam-limited")
    quarantine(alpha, err)
    quarantine(alpha, err)

    assert len(delivered(receiver, "session.quarantined")) == 1


# reply.received / optout.created ----------------------------------------------------------------
def reply(session, result: MessageResult, text: str, username: str = "") -> Incoming:
    return Incoming(result.peer_id, result.telegram_message_id + 1, text, datetime.now(UTC), username)


def test_a_reply_is_announced_with_the_campaign_the_result_and_its_text(receiver, sent, alpha):
    result = sent.results.get(key="@bob_user")

    recorded = engagement.record_incoming(alpha.pk, reply(alpha, result, "How much is it?"))
    assert engagement.record_incoming(alpha.pk, reply(alpha, result, "How much is it?")) is None  # seen twice

    [event] = delivered(receiver, "reply.received")
    assert event["data"] == {
        "campaign": {"id": sent.pk},
        "result": {"id": result.pk, "recipient": "@bob_user"},
        "reply": {
            "id": recorded.pk,
            "text": "How much is it?",
            "received_at": recorded.received_at.isoformat(),
            "is_opt_out": False,
        },
    }
    assert str(result.peer_id) not in str(event)  # the recipient's key, never Telegram's ids


def test_a_stop_reply_is_announced_as_a_reply_and_as_opt_outs_of_the_person(receiver, sent, alpha):
    result = sent.results.get(key="@carol_user")

    engagement.record_incoming(alpha.pk, reply(alpha, result, "STOP", username="carol_user"))

    [answered] = delivered(receiver, "reply.received")
    assert answered["data"]["reply"]["is_opt_out"] is True
    opted_out = delivered(receiver, "optout.created")
    keys = {k for event in opted_out for k in event["data"]["keys"]}
    assert keys == set(Suppression.objects.values_list("key", flat=True))
    assert {"@carol_user", str(result.peer_id)} <= keys
    assert {event["data"]["source"] for event in opted_out} == {"stop_reply"}


def test_an_opt_out_keyword_from_anyone_is_announced_once_per_new_key(receiver):
    optout.handle_incoming(42, "dora", "stop!")
    optout.handle_incoming(42, "dora", "STOP")  # already suppressed: nothing new

    [event] = delivered(receiver, "optout.created")
    assert event["data"] == {"keys": ["42", "@dora"], "source": "stop_reply"}


def test_suppressions_added_by_staff_are_announced_one_by_one_and_in_bulk(receiver, client, olga):
    client.force_login(olga)
    client.post(
        reverse("admin:campaigns_suppression_add"), {"key": "@erin_user", "source": "manual", "note": ""}
    )
    client.post(
        reverse("admin:campaigns_suppression_bulk_add"),
        {"keys": "@frank_user\n@gina_user\n@erin_user", "note": ""},
    )

    events = delivered(receiver, "optout.created")
    assert [e["data"] for e in events] == [
        {"keys": ["@erin_user"], "source": "manual"},
        {"keys": ["@frank_user", "@gina_user"], "source": "manual"},
    ]


def test_a_large_bulk_add_is_announced_in_chunks(receiver):
    from campaigns.models.lists import OPTOUT_KEYS_PER_EVENT

    Suppression.objects.add([f"@user_{i:05d}" for i in range(OPTOUT_KEYS_PER_EVENT + 1)], source="import")

    assert WebhookDelivery.objects.count() == 2


# import.finished --------------------------------------------------------------------------------
CSV = "username,first_name\n@ann_user,Ann\n@ben_user,Ben\nnot a user!,X\n"


def uploaded(name: str = "shop") -> RecipientList:
    recipient_list = RecipientList(name=name, consent_basis="opt_in")
    recipient_list.file.save("shop.csv", ContentFile(CSV.encode()), save=False)
    recipient_list.save()
    return recipient_list


def test_an_import_made_while_the_page_waits_is_announced_with_its_counts(receiver):
    recipient_list = uploaded()

    jobs.start_import(recipient_list, Mapping())

    [event] = delivered(receiver, "import.finished")
    assert event["data"] == {
        "list": {"id": recipient_list.pk, "name": "shop"},
        "status": "done",
        "error": "",
        "counts": {"rows": 3, "valid": 2, "invalid": 1, "duplicates": 0},
    }
    assert "ann_user" not in str(event)  # counts, never the recipients


def test_a_worker_import_that_is_refused_is_announced_as_failed_with_the_reason(receiver, settings):
    settings.TGC_IMPORT_INLINE_MAX_BYTES = 10
    settings.TGC_IMPORT_MAX_ROWS = 1
    recipient_list = uploaded()
    with mock.patch("campaigns.lists.jobs.async_task", autospec=True):
        assert jobs.start_import(recipient_list, Mapping()) is None
    assert not WebhookDelivery.objects.exists()  # queued, not finished

    assert jobs.run_import(recipient_list.pk).startswith("refused")

    [event] = delivered(receiver, "import.finished")
    assert event["data"]["status"] == "failed" and "more than 1 rows" in event["data"]["error"]


def test_a_worker_import_is_announced_once_when_it_is_done(receiver, settings):
    settings.TGC_IMPORT_INLINE_MAX_BYTES = 10
    recipient_list = uploaded()
    with mock.patch("campaigns.lists.jobs.async_task", autospec=True):
        jobs.start_import(recipient_list, Mapping())

    jobs.run_import(recipient_list.pk)
    jobs.run_import(recipient_list.pk)  # the queue delivered the task twice

    [event] = delivered(receiver, "import.finished")
    assert event["data"]["status"] == "done" and event["data"]["counts"]["valid"] == 2


# Erasure ----------------------------------------------------------------------------------------
def test_erasing_a_person_deletes_the_webhook_events_that_name_them_and_no_other(receiver, sent, alpha):
    from campaigns.people.erasure import erase_person
    from tgcampaigns.webhooks.models import WebhookEvent

    bob = sent.results.get(key="@bob_user")
    engagement.record_incoming(alpha.pk, reply(alpha, bob, "call me on +4915112345678"))
    optout.handle_incoming(7, "bob_user_2", "stop")  # @bob_user_2: another person
    before = set(WebhookEvent.objects.values_list("type", flat=True))
    assert {"reply.received", "optout.created", "campaign.finished"} <= before

    report = erase_person("@bob_user")

    assert report.counts["webhook events deleted"] == 1
    left = [e.payload for e in WebhookEvent.objects.all()]
    assert "@bob_user" not in str(left).replace("@bob_user_2", "")
    assert {p["type"] for p in left} == {"optout.created", "campaign.finished"}


def test_an_import_by_the_command_is_announced(receiver, tmp_path):
    import io

    from django.core.management import call_command

    path = tmp_path / "shop.csv"
    path.write_text(CSV, encoding="utf-8")

    call_command(
        "importrecipients", str(path), "--name", "Shop", "--consent-basis", "opt_in", stdout=io.StringIO()
    )

    [event] = delivered(receiver, "import.finished")
    assert (event["data"]["list"]["name"], event["data"]["status"]) == ("Shop", "done")
    assert event["data"]["counts"] == {"rows": 3, "valid": 2, "invalid": 1, "duplicates": 0}
