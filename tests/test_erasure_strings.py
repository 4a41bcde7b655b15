"""Erasure reaches every stored string that names the person (issue 19.13): Django's admin log
(``django_admin_log``: ``object_repr`` and ``change_message``, shown as the home page's "Recent
actions"), the audit trail (every text it stores: messages, object names, search filters kept in
stored paths, URL-encoded), a session's last error and a campaign's status reason, whatever the
spelling: a phone with or without spaces, country code or trunk 0, ``%2B``-encoded; an @name in
any case, as a t.me link or ``%40``-encoded. Strings naming somebody else stay as they were."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from campaigns.models import Campaign, Recipient
from campaigns.people import erasure as privacy
from sessions_app.models import TelegramSession
from tests.conftest import make_campaign, make_list

pytestmark = pytest.mark.django_db

PHONE, USERNAME = "+4915112345678", "@alice_user"
SPELLINGS = [
    "+4915112345678",
    "%2B4915112345678",
    "+49 151 1234 5678",
    "0151 12345678",
    "0049-151-123-456-78",
    "+49%20151%2012345678",
    "@Alice_User",
    "@ALICE_USER",
    "%40alice_user",
    "https://t.me/Alice_User",
]
OTHERS = ["+4915100000002", "@alice_user2", "@bob_user", "order 12345678"]


def audit_model():
    """The audit trail's model, wherever its app lives."""
    return next(m for m in apps.get_models() if m.__name__ == "AuditEvent")


@pytest.fixture
def alice(olga, alpha):
    people = make_list("people", [(PHONE, {"first_name": "Alice"}), (USERNAME, {"first_name": "Alice"})])
    make_list("others", [(key, {}) for key in ("+4915100000002", "@bob_user")])
    return people


def log(olga, obj, text: str, change_message: str = "") -> LogEntry:
    return LogEntry.objects.create(
        user=olga,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=str(obj.pk),
        object_repr=text[:200],
        action_flag=CHANGE,
        change_message=change_message,
    )


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_admin_log_forgets_the_person_in_any_spelling(alice, olga, spelling):
    recipient = Recipient.objects.get(key=PHONE)
    entry = log(
        olga,
        recipient,
        f"{spelling} (row 2)",
        f'[{{"changed": {{"fields": ["Key"], "note": "was {spelling}"}}}}]',
    )

    privacy.erase_person(PHONE)
    privacy.erase_person(USERNAME)

    entry.refresh_from_db()
    assert spelling.lower() not in (entry.object_repr + entry.change_message).lower()
    assert "(erased)" in entry.object_repr and "(erased)" in entry.change_message


def test_the_admin_log_stays_readable_json_after_the_erasure(alice, olga):
    entry = log(
        olga,
        Recipient.objects.get(key=USERNAME),
        USERNAME,
        f'[{{"deleted": {{"name": "recipient", "object": "{USERNAME}"}}}}]',
    )
    entry.action_flag = DELETION
    entry.save()

    privacy.erase_person(USERNAME)

    entry.refresh_from_db()
    assert entry.get_change_message()  # still parses
    assert "alice" not in entry.get_change_message().lower()


def test_the_home_pages_recent_actions_no_longer_show_the_person(client, alice, olga):
    log(olga, Recipient.objects.get(key=PHONE), PHONE)
    client.force_login(olga)
    assert PHONE in client.get(reverse("admin:index")).content.decode()

    privacy.erase_person(PHONE)

    assert PHONE not in client.get(reverse("admin:index")).content.decode()


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_audit_trail_forgets_the_person_in_any_spelling_also_in_stored_filters(alice, olga, spelling):
    model = audit_model()
    event = model.objects.create(
        actor="olga",
        action="results_export",
        message=f"Results exported as CSV (filters: q={spelling}).",
        object_repr=f"Test send to {spelling}",
    )

    privacy.erase_person(PHONE)
    privacy.erase_person(USERNAME)

    event.refresh_from_db()
    for field in ("message", "object_repr"):
        assert spelling.lower() not in getattr(event, field).lower()
        assert "(erased)" in getattr(event, field)


def test_strings_naming_somebody_else_are_left_alone(alice, olga):
    model = audit_model()
    texts = [f"Searched for {other}." for other in OTHERS]
    events = [model.objects.create(actor="olga", action="results_export", message=t) for t in texts]
    entries = [log(olga, Recipient.objects.get(key=PHONE), t) for t in texts]

    privacy.erase_person(PHONE)
    privacy.erase_person(USERNAME)

    assert [model.objects.get(pk=e.pk).message for e in events] == texts
    assert [LogEntry.objects.get(pk=e.pk).object_repr for e in entries] == texts


def test_a_sessions_last_error_and_a_campaigns_status_reason_forget_the_person(alice, alpha):
    alpha.last_error_text = "PEER_FLOOD while sending to +49 151 12345678"
    alpha.save()
    campaign = make_campaign("One", [alice], [alpha], status_reason="stopped at @Alice_User")

    privacy.erase_person(PHONE)
    privacy.erase_person(USERNAME)

    assert "12345678" not in TelegramSession.objects.get(pk=alpha.pk).last_error_text
    assert "alice" not in Campaign.objects.get(pk=campaign.pk).status_reason.lower()


def test_a_user_id_key_does_not_blank_the_audit_trails_links_to_rows(alice, olga):
    make_list("ids", [("5550001", {"first_name": "Alice"})])
    event = audit_model().objects.create(
        actor="olga", action="results_export", message="Exported for 5550001.", object_id="5550001"
    )

    privacy.erase_person("5550001")

    event.refresh_from_db()
    assert (event.message, event.object_id) == ("Exported for (erased).", "5550001")
