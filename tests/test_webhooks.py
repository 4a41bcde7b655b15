"""Webhooks end to end against a real HTTP receiver (pytest-httpserver on 127.0.0.1): the outbox an
emit writes, the Standard Webhooks signature the receiver verifies with the ``standardwebhooks``
library, retries after a 500 and a timeout, exactly one delivery per subscription per event, the
disable rule and the delivery log. The worker's part is called directly (``deliver``, ``sweep``);
waiting for a retry is moving its due time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from tests.webhook_receiver import (
    Receiver,
    receiver_fixture,  # noqa: F401  (the "receiver" fixture)
    run_due,
    subscribe,
    threaded_httpserver_fixture,  # noqa: F401  (pytest-httpserver's server, threaded)
    wait_for_retry,
)
from tgcampaigns import webhooks
from tgcampaigns.webhooks import sending
from tgcampaigns.webhooks.catalogue import MAX_ATTEMPTS, RETRY_DELAYS
from tgcampaigns.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)

pytestmark = pytest.mark.django_db


# Emitting: the outbox --------------------------------------------------------------------------
def test_an_emit_without_subscriptions_writes_nothing():
    assert webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]}) == 0
    assert not WebhookEvent.objects.exists()


def test_an_emit_writes_one_delivery_per_subscription_that_asked_for_the_event(receiver):
    other, _ = subscribe("https://crm.example.org/hooks", events=["reply.received"], name="other")
    subscribe("https://paused.example.org/", name="paused")
    WebhookSubscription.objects.filter(name="paused").update(active=False)

    assert webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]}) == 1
    assert webhooks.emit(webhooks.Event.REPLY_RECEIVED, {"text": "hi"}) == 2

    assert WebhookEvent.objects.count() == 2
    assert {(d.event.type, d.subscription.name) for d in WebhookDelivery.objects.all()} == {
        ("optout.created", "CRM"),
        ("reply.received", "CRM"),
        ("reply.received", "other"),
    }


def test_an_emit_rolled_back_with_its_change_leaves_nothing_and_wakes_no_worker(receiver, monkeypatch):
    woken = []
    monkeypatch.setattr("tgcampaigns.webhooks.outbox.enqueue", woken.append)

    with pytest.raises(RuntimeError), transaction.atomic():
        webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})
        raise RuntimeError("the caller's change failed")

    assert not WebhookEvent.objects.exists() and woken == []


def test_an_emit_wakes_a_worker_once_its_transaction_commits(
    receiver, monkeypatch, django_capture_on_commit_callbacks
):
    woken = []
    monkeypatch.setattr("tgcampaigns.webhooks.outbox.enqueue", woken.append)

    with django_capture_on_commit_callbacks(execute=True):
        webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})
        assert woken == []

    assert woken == [list(WebhookDelivery.objects.values_list("pk", flat=True))]


# Delivering: signed, once ----------------------------------------------------------------------
def test_a_delivery_is_signed_per_standard_webhooks_and_the_receiver_verifies_it(receiver):
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob_smith"], "source": "stop_reply"})

    assert run_due() == ["delivered"]

    [payload] = receiver.accepted
    assert payload["type"] == "optout.created"
    assert payload["data"] == {"keys": ["@bob_smith"], "source": "stop_reply"}
    [headers] = receiver.headers
    event = WebhookEvent.objects.get()
    assert headers["webhook-id"] == event.msg_id and event.msg_id.startswith("msg_")
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["content-type"] == "application/json"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def test_a_request_signed_with_another_secret_does_not_verify(receiver):
    receiver.secret = WebhookSubscription().set_secret()  # the CRM holds a different secret

    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})
    run_due()

    assert receiver.accepted == []  # the handler's verify raised: the server answered 500


def test_a_delivered_event_is_not_sent_again_by_a_second_worker_or_the_sweep(receiver):
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})
    delivery = WebhookDelivery.objects.get()

    assert sending.deliver(delivery.pk) == "delivered"
    assert sending.deliver(delivery.pk) == "not due"  # the queue delivered the task twice
    sending.sweep()
    assert run_due() == []

    assert len(receiver.headers) == 1


def test_of_two_workers_claiming_one_delivery_one_wins():
    subscription, _ = subscribe("https://crm.example.org/hooks")
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})
    pk = WebhookDelivery.objects.get().pk

    claims = [WebhookDelivery.objects.claim(pk, 60), WebhookDelivery.objects.claim(pk, 60)]

    assert claims == [True, False]
    assert WebhookDelivery.objects.get().attempts == 1


def test_each_subscription_sees_each_event_exactly_once_with_the_same_webhook_id(receiver, httpserver):
    second = Receiver(httpserver, "/second")
    _, second.secret = subscribe(second.url, name="second")

    webhooks.emit(webhooks.Event.CAMPAIGN_PAUSED, {"campaign": {"id": 1}, "reason": "Paused by staff."})
    webhooks.emit(webhooks.Event.CAMPAIGN_FINISHED, {"campaign": {"id": 1}})
    run_due()
    run_due()

    for end in (receiver, second):
        assert sorted(p["type"] for p in end.accepted) == ["campaign.finished", "campaign.paused"]
    assert sorted(receiver.ids()) == sorted(second.ids())


# Retries ----------------------------------------------------------------------------------------
def test_a_500_is_retried_after_the_backoff_with_the_same_webhook_id(receiver):
    receiver.script = [500]
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})

    assert run_due() == ["retry"]
    delivery = WebhookDelivery.objects.get()
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert RETRY_DELAYS[0] * 0.9 < wait <= RETRY_DELAYS[0] * 1.1
    assert run_due() == []  # not due yet

    wait_for_retry()
    assert run_due() == ["delivered"]

    assert len(receiver.accepted) == 1
    assert len(set(receiver.ids())) == 1 and len(receiver.ids()) == 2
    log = list(WebhookAttempt.objects.values_list("number", "status_code", "delivered", "error"))
    assert log == [(1, 500, False, "HTTP 500"), (2, 200, True, "")]


def test_a_receiver_slower_than_the_timeout_is_retried(receiver, settings):
    settings.TGC_WEBHOOK_TIMEOUT = 0.2
    receiver.script = [1.0]  # answers after a second: past the read timeout
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})

    assert run_due() == ["retry"]
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "timed out" in attempt.error

    wait_for_retry()
    assert run_due() == ["delivered"]
    assert [p["type"] for p in receiver.accepted] == ["optout.created"]


def test_a_delivery_fails_for_good_after_its_last_attempt(receiver):
    receiver.script = [500] * MAX_ATTEMPTS
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})

    outcomes = []
    for _ in range(MAX_ATTEMPTS + 1):
        outcomes += run_due()
        wait_for_retry()

    assert outcomes == ["retry"] * (MAX_ATTEMPTS - 1) + ["failed"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", MAX_ATTEMPTS, None)
    assert WebhookSubscription.objects.get().failure_run == 1


def test_a_claim_left_by_a_dead_worker_lapses_and_the_sweep_queues_it_again(receiver):
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})
    pk = WebhookDelivery.objects.get().pk
    assert WebhookDelivery.objects.claim(pk, 60)  # the worker died here, before its request
    WebhookDelivery.objects.filter(pk=pk).update(claimed_until=timezone.now() - timedelta(seconds=1))

    assert sending.sweep()["released"] == 1
    assert run_due() == ["delivered"]
    assert WebhookDelivery.objects.get().attempts == 2


# The disable rule -------------------------------------------------------------------------------
def fail_for_good(receiver, n: int) -> None:
    """``n`` events whose deliveries fail every attempt."""
    receiver.script = [500] * (n * MAX_ATTEMPTS)
    for i in range(n):
        webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": [f"@user_{i}"]})
    for _ in range(MAX_ATTEMPTS):
        run_due()
        wait_for_retry()


def test_a_subscription_is_disabled_after_a_run_of_failed_deliveries_with_the_reason(receiver, settings):
    settings.TGC_WEBHOOK_DISABLE_AFTER = 2

    fail_for_good(receiver, 2)

    subscription = WebhookSubscription.objects.get()
    assert not subscription.active
    assert "after 2 deliveries in a row failed" in subscription.disabled_reason
    assert "HTTP 500" in subscription.disabled_reason
    assert webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@later"]}) == 0


def test_a_delivery_that_succeeds_ends_the_run_of_failures(receiver, settings):
    settings.TGC_WEBHOOK_DISABLE_AFTER = 2
    fail_for_good(receiver, 1)
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@fine"]})
    run_due()
    assert WebhookSubscription.objects.get().failure_run == 0

    fail_for_good(receiver, 1)

    subscription = WebhookSubscription.objects.get()
    assert subscription.active and subscription.failure_run == 1


def test_disabling_a_subscription_fails_its_waiting_deliveries(receiver, settings):
    settings.TGC_WEBHOOK_DISABLE_AFTER = 1
    receiver.script = [500]
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@last_try"]})
    WebhookDelivery.objects.update(attempt_limit=1)
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@waiting"]})
    waiting = WebhookDelivery.objects.latest("pk")
    WebhookDelivery.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))

    assert run_due() == ["failed"]

    waiting.refresh_from_db()
    assert not WebhookSubscription.objects.get().active
    assert (waiting.status, waiting.last_error) == ("failed", "the subscription was disabled")


# Resend -----------------------------------------------------------------------------------------
def test_a_failed_delivery_resent_goes_out_once_more_with_the_same_webhook_id(receiver):
    fail_for_good(receiver, 1)
    delivery = WebhookDelivery.objects.get()

    assert sending.resend(WebhookDelivery.objects.all()) == [delivery.pk]
    assert run_due() == ["delivered"]

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", MAX_ATTEMPTS + 1)
    assert set(receiver.ids()) == {delivery.event.msg_id}
    assert len(receiver.accepted) == 1


def test_a_resent_delivery_that_fails_again_is_not_retried(receiver):
    fail_for_good(receiver, 1)
    receiver.script = [500]

    sending.resend(WebhookDelivery.objects.all())

    assert run_due() == ["failed"]


def test_a_delivery_to_a_disabled_subscription_is_not_resent(receiver, settings):
    settings.TGC_WEBHOOK_DISABLE_AFTER = 1
    fail_for_good(receiver, 1)

    assert sending.resend(WebhookDelivery.objects.all()) == []
    assert run_due() == []


# The sweep --------------------------------------------------------------------------------------
def test_migrate_keeps_one_every_minute_sweep_schedule():
    from django.apps import apps
    from django_q.models import Schedule

    from tgcampaigns.webhooks.signals import install_sweep_schedule

    install_sweep_schedule(sender=None, app_config=apps.get_app_config("webhooks"))
    install_sweep_schedule(sender=None, app_config=apps.get_app_config("webhooks"))

    [schedule] = Schedule.objects.filter(func="tgcampaigns.webhooks.tasks.sweep")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)


def test_the_sweep_wakes_due_deliveries_and_purges_events_past_the_retention(receiver, monkeypatch, settings):
    woken = []
    monkeypatch.setattr("tgcampaigns.webhooks.sending.enqueue", woken.extend)
    settings.TGC_WEBHOOK_RETENTION_DAYS = 30
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@old"]})
    WebhookEvent.objects.update(created_at=timezone.now() - timedelta(days=31))
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@new"]})
    recent = WebhookDelivery.objects.get(event__payload__data__keys=["@new"])

    report = sending.sweep()

    assert report["purged"] >= 2 and WebhookEvent.objects.count() == 1
    assert woken == [recent.pk]


# Two workers at once, and the counters ------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_the_same_delivery_at_once_send_it_once(receiver):
    import threading

    from django.db import connection

    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})
    pk = WebhookDelivery.objects.get().pk
    start = threading.Barrier(2)
    outcomes = []

    def worker():
        try:
            start.wait()
            outcomes.append(sending.deliver(pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["delivered", "not due"]
    assert len(receiver.headers) == 1


def test_each_attempt_is_counted_by_event_and_outcome(receiver):
    from prometheus_client import REGISTRY

    def count(outcome: str) -> float:
        labels = {"event": "optout.created", "outcome": outcome}
        return REGISTRY.get_sample_value("tgc_webhook_attempts_total", labels) or 0.0

    before = {outcome: count(outcome) for outcome in ("retry", "delivered")}
    receiver.script = [500]
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})

    run_due()
    wait_for_retry()
    run_due()

    assert count("retry") - before["retry"] == 1
    assert count("delivered") - before["delivered"] == 1


def test_a_delivery_waiting_for_a_retry_resent_keeps_the_rest_of_its_retries(receiver):
    receiver.script = [500, 500]
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})
    assert run_due() == ["retry"]

    sending.resend(WebhookDelivery.objects.all())

    assert run_due() == ["retry"]  # the resend failed too, and retries are left
    assert WebhookDelivery.objects.get().attempt_limit == MAX_ATTEMPTS


def test_an_event_for_several_subscriptions_wakes_one_task_that_fans_out_a_task_each():
    from unittest import mock

    from tgcampaigns.webhooks import outbox, tasks

    with mock.patch("django_q.tasks.async_task", autospec=True) as async_task:
        outbox.enqueue([7])
        outbox.enqueue([7, 8, 9])
        assert async_task.call_args_list == [
            mock.call(outbox.DELIVER_TASK, 7, group="webhooks"),
            mock.call(outbox.FAN_OUT_TASK, [7, 8, 9], group="webhooks"),
        ]
        async_task.reset_mock()

        assert tasks.fan_out([7, 8, 9]) == 3

    assert async_task.call_args_list == [
        mock.call(outbox.DELIVER_TASK, pk, group="webhooks") for pk in (7, 8, 9)
    ]
