"""The scripting API (campaigns.api): send_text_messages_bulk and send_media_messages_bulk."""

from __future__ import annotations

import pytest

from campaigns import engine
from campaigns.api import InvalidRecipients, send_media_messages_bulk, send_text_messages_bulk
from sessions_app.models import SessionStatus, SimulatedDelivery

from .conftest import make_session

pytestmark = pytest.mark.django_db


def test_it_sends_a_text_to_every_recipient_and_reports_the_session_used(db):
    make_session("alpha", kind="user")
    make_session("beta", kind="user")  # user accounts: a bot cannot message a phone number
    results = send_text_messages_bulk(["@alice_w", "t.me/bob_marketing", "+12125550123"], "Hello!", delay=0)
    assert set(results) == {"@alice_w", "t.me/bob_marketing", "+12125550123"}
    assert all(r.success and r.error is None and r.message_id for r in results.values())
    assert {r.session for r in results.values()} == {"alpha", "beta"}
    assert SimulatedDelivery.objects.count() == 3


def test_invalid_recipients_are_skipped_with_their_reason(alpha):
    results = send_text_messages_bulk(["@alice_w", "@abc", "-1001234567890"], "Hi", skip_invalid=True)
    assert results["@alice_w"].success
    assert not results["@abc"].success and "too short" in results["@abc"].error
    assert results["-1001234567890"].status == "skipped" and "channel" in results["-1001234567890"].error


def test_without_skip_invalid_nothing_is_sent_when_one_recipient_is_invalid(alpha):
    with pytest.raises(InvalidRecipients) as info:
        send_text_messages_bulk(["@alice_w", "@abc"], "Hi", skip_invalid=False)
    assert set(info.value.errors) == {"@abc"}
    assert not SimulatedDelivery.objects.exists()


def test_it_refuses_clearly_when_no_session_is_usable(db):
    make_session("asleep", status=SessionStatus.QUARANTINED)
    with pytest.raises(engine.NoUsableSession, match="No usable session"):
        send_text_messages_bulk(["@alice_w"], "Hi")
    assert not SimulatedDelivery.objects.exists()


def test_every_spelling_of_one_recipient_shares_the_outcome_of_its_one_message(alpha):
    results = send_text_messages_bulk(["@Alice_W", "t.me/alice_w", "@alice_w"], "Hi")
    assert SimulatedDelivery.objects.count() == 1
    assert {(r.success, r.message_id) for r in results.values()} == {
        (True, SimulatedDelivery.objects.get().message_id)
    }


def test_it_sends_a_photo_with_its_caption(alpha, cases_dir, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    results = send_media_messages_bulk(
        ["@alice_w", "@bob_marketing"],
        str(cases_dir / "media" / "photo.jpg"),
        "photo",
        caption="New in store",
    )
    assert all(r.success for r in results.values())
    assert set(SimulatedDelivery.objects.values_list("media_type", "text")) == {("photo", "New in store")}


def test_an_unusable_media_file_is_refused_before_anything_is_sent(alpha, cases_dir, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    with pytest.raises(engine.LaunchError, match="empty"):
        send_media_messages_bulk(["@alice_w"], str(cases_dir / "media" / "empty.jpg"), "photo")
    assert not SimulatedDelivery.objects.exists()


def test_a_bot_cannot_reach_a_phone_number_and_says_so(alpha):
    results = send_text_messages_bulk(["+12125550123"], "Hi")
    assert not results["+12125550123"].success
    assert results["+12125550123"].error.startswith("PEER_ID_INVALID")
