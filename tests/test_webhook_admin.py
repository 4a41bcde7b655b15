"""Webhooks in the admin: a subscription's secret shown once, a disabled one's reason, the
delivery log, and *Resend* (a POSTed admin action, audited)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from standardwebhooks import Webhook

from tests.webhook_receiver import (
    receiver_fixture,  # noqa: F401  (the "receiver" fixture)
    run_due,
    subscribe,
    threaded_httpserver_fixture,  # noqa: F401  (pytest-httpserver's server, threaded)
)
from tgcampaigns import webhooks
from tgcampaigns.audit.models import AuditEvent
from tgcampaigns.webhooks.models import WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_of_olga(client, olga):
    client.force_login(olga)
    return client


def test_a_new_subscription_gets_a_secret_shown_once(admin_client_of_olga):
    client = admin_client_of_olga
    response = client.post(
        reverse("admin:webhooks_webhooksubscription_add"),
        {
            "name": "Shop CRM",
            "url": "https://crm.example.org/hooks",
            "events": ["reply.received"],
            "active": "on",
        },
        follow=True,
    )

    shown = " ".join(m.message for m in response.context["messages"])
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", shown).group(0)
    subscription = WebhookSubscription.objects.get()
    assert subscription.secret == secret and secret not in subscription.secret_encrypted
    assert (subscription.events, subscription.active) == (["reply.received"], True)
    signed = Webhook(secret).sign("msg_1", datetime.now(UTC), b"{}")
    assert signed == Webhook(subscription.secret).sign("msg_1", datetime.now(UTC), b"{}")

    page = client.get(reverse("admin:webhooks_webhooksubscription_change", args=[subscription.pk]))
    assert secret not in page.content.decode()
    assert AuditEvent.objects.filter(action="webhook.subscription_add").count() == 1


def test_an_address_that_is_not_http_is_refused_by_the_form(admin_client_of_olga):
    response = admin_client_of_olga.post(
        reverse("admin:webhooks_webhooksubscription_add"),
        {"name": "x", "url": "ftp://crm.example.org/", "events": ["reply.received"]},
    )

    assert response.status_code == 200 and not WebhookSubscription.objects.exists()


def test_a_disabled_subscription_shows_why_and_enabling_it_clears_the_run(admin_client_of_olga):
    subscription, _ = subscribe("https://crm.example.org/hooks", events=["reply.received"])
    WebhookSubscription.objects.update(
        active=False, failure_run=5, disabled_reason="Disabled after 5 … HTTP 500."
    )

    page = admin_client_of_olga.get(reverse("admin:webhooks_webhooksubscription_changelist"))
    assert "Disabled after 5 … HTTP 500." in page.content.decode()

    admin_client_of_olga.post(
        reverse("admin:webhooks_webhooksubscription_change", args=[subscription.pk]),
        {"name": "CRM", "url": subscription.url, "events": ["reply.received"], "active": "on"},
    )
    subscription.refresh_from_db()
    assert (subscription.active, subscription.failure_run, subscription.disabled_reason) == (True, 0, "")


def test_the_delivery_page_shows_each_attempt_with_its_status_code_and_answer(admin_client_of_olga, receiver):
    receiver.script = [503]
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})
    run_due()
    delivery = WebhookDelivery.objects.get()

    page = admin_client_of_olga.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk]))

    text = page.content.decode()
    assert page.status_code == 200
    assert "503" in text and "HTTP 503" in text and "{&quot;ok&quot;: false}" in text
    assert delivery.event.msg_id in text


def test_resend_is_a_posted_admin_action_and_audited(admin_client_of_olga, receiver):
    receiver.script = [500]
    webhooks.emit(webhooks.Event.OPTOUT_CREATED, {"keys": ["@bob"]})
    WebhookDelivery.objects.update(attempt_limit=1)
    assert run_due() == ["failed"]
    delivery = WebhookDelivery.objects.get()

    response = admin_client_of_olga.post(
        reverse("admin:webhooks_webhookdelivery_changelist"),
        {"action": "resend", "_selected_action": [delivery.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert WebhookDelivery.objects.get().status == "pending"
    assert run_due() == ["delivered"]
    event = AuditEvent.objects.get(action="webhook.resend")
    assert (event.actor, event.object_id) == ("olga", str(delivery.pk))


def test_staff_without_the_webhook_permissions_see_no_webhook_pages(client, rita):
    client.force_login(rita)

    assert client.get(reverse("admin:webhooks_webhooksubscription_changelist")).status_code == 403
    assert client.get(reverse("admin:webhooks_webhookdelivery_changelist")).status_code == 403


def test_rotatesecrets_re_encrypts_the_signing_secrets_under_the_newest_key(settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    old = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = old
    subscription, secret = subscribe("https://crm.example.org/hooks")
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = f"{new},{old}"

    call_command("rotatesecrets")

    settings.FIELD_ENCRYPTION_KEY = new  # the old key is dropped
    assert WebhookSubscription.objects.get(pk=subscription.pk).secret == secret


def test_a_new_signing_secret_replaces_the_old_one_shown_once_and_audited(admin_client_of_olga):
    subscription, old = subscribe("https://crm.example.org/hooks")

    response = admin_client_of_olga.post(
        reverse("admin:webhooks_webhooksubscription_changelist"),
        {"action": "new_secret", "_selected_action": [subscription.pk]},
        follow=True,
    )

    shown = " ".join(m.message for m in response.context["messages"])
    new = WebhookSubscription.objects.get().secret
    assert new != old and new in shown
    assert AuditEvent.objects.filter(action="webhook.secret").count() == 1
