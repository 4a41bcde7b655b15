"""The audit trail: every operation the issue names adds a record (who, what, when, on which
object), visible and filterable in the admin, and none holds a secret."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns import engine
from campaigns.models import CampaignStatus, MessageResult, ResultStatus, Suppression
from sessions_app.models import SessionKind, SessionStatus, TelegramSession
from tests.conftest import CASES_DIR, make_campaign
from tests.fakes import telegram_fixture  # noqa: F401  (the "telegram" fixture)
from tgcampaigns.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


def operate(client, campaign, operation: str, **data):
    """An operation as staff run it: launch through its summary (confirmed with what it showed),
    retry through its dialog (the retryable failures ticked), the others by their button."""
    if operation == "launch":
        data["confirmed"] = campaign.fingerprint()
        return client.post(reverse("admin:campaigns_campaign_launch", args=[campaign.pk]), data)
    if operation == "retry_failed":
        return client.post(
            reverse("admin:campaigns_campaign_retry", args=[campaign.pk]), data | {"codes": ["RPC_CALL_FAIL"]}
        )
    return client.post(reverse("admin:campaigns_campaign_operation", args=[campaign.pk, operation]), data)


@pytest.mark.parametrize(
    ("operation", "status", "action"),
    [
        ("launch", CampaignStatus.DRAFT, "campaign.launch"),
        ("pause", CampaignStatus.RUNNING, "campaign.pause"),
        ("resume", CampaignStatus.PAUSED, "campaign.resume"),
        ("cancel", CampaignStatus.PAUSED, "campaign.cancel"),
        ("retry_failed", CampaignStatus.PAUSED, "campaign.retry_failed"),
        ("resend_unknown", CampaignStatus.PAUSED, "campaign.resend_unknown"),
    ],
)
def test_each_campaign_operation_is_recorded_with_who_and_which_campaign(
    client, mark, people, alpha, operation, status, action
):
    campaign = make_campaign("Ops", [people], [alpha], status=status)
    MessageResult.objects.create(
        campaign=campaign, key="@x_user", status=ResultStatus.FAILED, error_code="RPC_CALL_FAIL"
    )
    MessageResult.objects.create(campaign=campaign, key="@y_user", status=ResultStatus.UNKNOWN)
    client.force_login(mark)

    operate(client, campaign, operation, confirmed="yes")

    [event] = events(action)
    assert (event.user, event.actor, event.object_id, event.object_repr) == (
        mark,
        "mark",
        str(campaign.pk),
        "Ops",
    )
    assert event.content_type.model == "campaign" and event.at and event.message


def test_every_export_is_recorded(client, rita, people, alpha):
    campaign = make_campaign("Export", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    client.force_login(rita)

    client.get(reverse("campaigns:export", args=[campaign.pk]))
    client.post(
        reverse("admin:campaigns_campaign_changelist"),
        {"action": "export_selected", "_selected_action": [campaign.pk]},
    )
    client.get(reverse("admin:campaigns_messageresult_export"), {"status__exact": "pending"})
    client.post(
        reverse("admin:campaigns_messageresult_changelist"),
        {"action": "export_selected", "_selected_action": [campaign.results.first().pk]},
    )

    exports = events("results.export")
    assert len(exports) == 4 and {e.actor for e in exports} == {"rita"}
    assert any("status__exact=pending" in e.message for e in exports)


def test_session_actions_and_logins_are_recorded_without_secrets(client, otto, telegram):
    token = "123456:SECRET-TOKEN-xyz"
    telegram.add_bot(token, username="shop_bot")
    bot = TelegramSession.objects.create(name="bot", kind=SessionKind.BOT)
    client.force_login(otto)
    changelist = reverse("admin:sessions_app_telegramsession_changelist")

    client.post(reverse("admin:sessions_app_telegramsession_login", args=[bot.pk]), {"token": "bad"})
    client.post(reverse("admin:sessions_app_telegramsession_login", args=[bot.pk]), {"token": token})
    for action in ("disable_action", "reactivate_action"):
        client.post(changelist, {"action": action, "_selected_action": [bot.pk]})
    TelegramSession.objects.filter(pk=bot.pk).update(status=SessionStatus.QUARANTINED)
    client.post(
        changelist,
        {"action": "unquarantine_action", "_selected_action": [bot.pk], "reason": "SpamBot lifted the limit"},
    )

    assert [e.message for e in events("session.login")][::-1][-1] == "Logged in as @shop_bot."
    assert len(events("session.login")) == 2  # the refused token, then the login
    for action in ("session.disable", "session.reactivate", "session.unquarantine"):
        assert [e.object_id for e in events(action)] == [str(bot.pk)], action
    bot.refresh_from_db()
    secrets = [token, bot.session_string, bot.session_string_encrypted, bot.bot_token_encrypted]
    for event in AuditEvent.objects.all():
        for secret in secrets:
            assert secret not in event.message and secret not in event.object_repr


def test_suppression_edits_and_bulk_adds_are_recorded_without_the_person(client, otto):
    client.force_login(otto)

    client.post(
        reverse("admin:campaigns_suppression_add"), {"key": "@alice_w", "source": "manual", "note": ""}
    )
    suppression = Suppression.objects.get()
    client.post(
        reverse("admin:campaigns_suppression_change", args=[suppression.pk]),
        {"key": "@alice_w", "source": "manual", "note": "phone call"},
    )
    client.post(reverse("admin:campaigns_suppression_bulk_add"), {"keys": "@bob_w\n@carl_w", "note": ""})
    client.post(reverse("admin:campaigns_suppression_delete", args=[suppression.pk]), {"post": "yes"})

    for action in ("suppression.add", "suppression.change", "suppression.delete", "suppression.import"):
        assert len(events(action)) == 1, action
    assert "2 added" in events("suppression.import")[0].message
    for event in AuditEvent.objects.all():
        assert "alice" not in event.message + event.object_repr
        assert "bob" not in event.message + event.object_repr


def test_a_list_import_is_recorded(client, mark):
    from .test_admin import upload

    client.force_login(mark)
    upload(client, CASES_DIR, "basic.csv")

    [event] = events("list.import")
    assert event.user == mark and "imported" in event.message


def test_the_audit_trail_is_visible_filterable_and_read_only(client, rita, mark, people, alpha):
    campaign = make_campaign("Seen", [people], [alpha], status=CampaignStatus.RUNNING)
    client.force_login(mark)
    operate(client, campaign, "pause")
    client.force_login(rita)
    url = reverse("admin:audit_auditevent_changelist")

    listed = client.get(url, {"action__exact": "campaign.pause"})
    other = client.get(url, {"action__exact": "campaign.launch"})

    assert listed.status_code == 200 and listed.context["cl"].result_count == 1
    assert other.context["cl"].result_count == 0
    assert "Seen" in listed.content.decode()
    event = AuditEvent.objects.get()
    assert client.post(reverse("admin:audit_auditevent_change", args=[event.pk]), {}).status_code == 403
    assert client.get(reverse("admin:audit_auditevent_delete", args=[event.pk])).status_code == 403


def test_the_audit_trail_moved_to_its_own_app_without_touching_its_table():
    """The model left ``campaigns`` for ``audit`` in the migration state only: on an existing
    database ``migrate`` changes nothing in its table, and its rows stay where they were."""
    from django.db import migrations
    from django.db.migrations.loader import MigrationLoader

    assert AuditEvent._meta.app_label == "audit"
    assert AuditEvent._meta.db_table == "campaigns_auditevent"
    loader = MigrationLoader(None, ignore_no_migrations=True)
    for key in (
        ("audit", "0001_audit_event_moved_from_campaigns"),
        ("campaigns", "0013_audit_event_moved_to_its_app"),
    ):
        for operation in loader.disk_migrations[key].operations:
            if isinstance(operation, migrations.SeparateDatabaseAndState):
                assert operation.database_operations == []
            else:  # only the content type's rename
                assert isinstance(operation, migrations.RunPython)
