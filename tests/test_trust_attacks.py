"""Attacks on the promise "when in doubt, refuse loudly rather than send": A/B variants, quiet
hours, opt-outs under every identity, and who may act on the new pages."""

from __future__ import annotations

import pytest

from campaigns import engine
from campaigns.models import Recipient, RecipientIdentity, RecipientKind, ResultStatus, Suppression
from sessions_app.models import SimulatedDelivery

from .conftest import make_campaign, make_list

pytestmark = pytest.mark.django_db


def test_a_row_whose_other_identity_opted_out_is_not_sent(alpha):
    rl = make_list("two ids", [("@anna_row", {"first_name": "Anna"}), ("@bert_row", {"first_name": "Bert"})])
    anna = Recipient.objects.get(recipient_list=rl, key="@anna_row")
    RecipientIdentity.objects.create(recipient=anna, key="+4915112345678", kind=RecipientKind.PHONE)
    Suppression.objects.add(["+4915112345678"], source=Suppression.Source.MANUAL)
    campaign = make_campaign("ids", [rl], [alpha])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    assert list(SimulatedDelivery.objects.values_list("peer_key", flat=True)) == ["@bert_row"]


def test_an_opt_out_after_launch_under_another_identity_is_seen_at_claim(alpha):
    rl = make_list("two ids", [("@anna_row", {"first_name": "Anna"}), ("@bert_row", {"first_name": "Bert"})])
    anna = Recipient.objects.get(recipient_list=rl, key="@anna_row")
    RecipientIdentity.objects.create(recipient=anna, key="+4915112345678", kind=RecipientKind.PHONE)
    campaign = make_campaign("ids", [rl], [alpha])
    engine.launch(campaign, enqueue=False)
    Suppression.objects.add(["+4915112345678"], source=Suppression.Source.MANUAL)
    engine.run_until_done(campaign, max_seconds=20)
    assert list(SimulatedDelivery.objects.values_list("peer_key", flat=True)) == ["@bert_row"]


def test_a_held_row_whose_person_opted_out_under_another_identity_is_not_sent_the_winner(alpha):
    rl = make_list("crowd", [(f"@member_{i:04d}", {"first_name": f"M{i}"}) for i in range(20)])
    for i, recipient in enumerate(Recipient.objects.filter(recipient_list=rl).order_by("row_number")):
        RecipientIdentity.objects.create(
            recipient=recipient, key=f"+49151000000{i:02d}", kind=RecipientKind.PHONE
        )
    campaign = make_campaign("hold", [rl], [alpha], variants=["B text"], split={"A": 10, "B": 10, "hold": 80})
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    held = campaign.results.filter(status=ResultStatus.HELD).select_related("recipient").first()
    phone = held.recipient.other_identities.get().key
    Suppression.objects.add([phone], source=Suppression.Source.MANUAL)
    engine.choose_winner(campaign, "B", enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    assert not SimulatedDelivery.objects.filter(peer_key=held.key).exists()
    held.refresh_from_db()
    assert held.status == ResultStatus.SKIPPED


def test_a_summary_shown_before_a_lists_default_time_zone_changed_no_longer_confirms(alpha):
    import datetime as dt

    from campaigns.reporting.summary import confirm_matches, launch_summary

    rl = make_list("zoned", [("@anna_row", {"first_name": "Anna"})], default_time_zone="Europe/Berlin")
    campaign = make_campaign(
        "window", [rl], [alpha], send_window_start=dt.time(9), send_window_end=dt.time(20)
    )
    shown = launch_summary(campaign)
    assert confirm_matches(campaign, shown.fingerprint)
    rl.default_time_zone = "Asia/Tokyo"  # the summary counted her in Berlin
    rl.save(update_fields=["default_time_zone"])
    assert not confirm_matches(campaign, shown.fingerprint)


def test_one_person_listed_by_username_and_by_user_id_gets_the_campaign_once(db):
    from .conftest import make_session

    session = make_session("sim", simulator_config={"peers": {"@anna_row": 777}})
    one = make_list("by name", [("@anna_row", {"first_name": "Anna"})])
    two = make_list("by id", [("777", {"first_name": "Anna"})])
    campaign = make_campaign("twice", [one, two], [session])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    assert SimulatedDelivery.objects.count() == 1
    skipped = campaign.results.get(status="skipped")
    assert skipped.error_code == "DUPLICATE_RECIPIENT"
    assert f"the same Telegram user as {campaign.results.get(status='sent').key}" in skipped.error_text
    assert campaign.results.filter(status="sent").count() == 1


def test_the_same_person_is_found_across_slices_through_the_rows_already_sent(db):
    """The second key of a person is sent in a later slice than the first: the rows that reached
    the user are read from the database (result_campaign_peer_idx), not only this slice's memory."""
    from campaigns.engine import lookups

    from .conftest import make_session

    session = make_session("sim", simulator_config={"peers": {"@anna_row": 777}})
    one = make_list("by name", [("@anna_row", {})])
    two = make_list("by id", [("777", {})])
    campaign = make_campaign("twice", [one, two], [session])
    engine.launch(campaign, enqueue=False)
    first = campaign.results.get(key="@anna_row")
    campaign.results.filter(pk=first.pk).update(status="sent", peer_id=777)
    other = campaign.results.get(key="777")
    assert lookups.reached_by_another_row(campaign.pk, 777, other.pk) == "@anna_row"
    assert lookups.reached_by_another_row(campaign.pk, 777, first.pk) is None
    engine.run_until_done(campaign, max_seconds=20)
    other.refresh_from_db()
    assert (other.status, other.error_code) == ("skipped", "DUPLICATE_RECIPIENT")
    assert SimulatedDelivery.objects.count() == 0


def test_a_slice_learns_of_users_other_processes_reached_at_its_heartbeat(db):
    from django.utils import timezone

    from campaigns.engine.work import CampaignWork

    from .conftest import make_session

    session = make_session("sim")
    one = make_list("by name", [("@anna_row", {}), ("@ben_row", {})])
    two = make_list("by id", [("777", {})])
    campaign = make_campaign("twice", [one, two], [session])
    engine.launch(campaign, enqueue=False)
    work = CampaignWork(campaign, [session.pk], 0, {}, set())
    assert work.mixed_kinds and 777 not in work.reached
    # Another process sends @anna_row meanwhile; she turns out to be user 777.
    campaign.results.filter(key="@anna_row").update(status="sent", peer_id=777, sent_at=timezone.now())
    work.refresh_reached()
    assert 777 in work.reached


def test_a_campaign_of_one_kind_of_key_skips_the_same_person_check(db):
    from campaigns.engine.work import CampaignWork

    from .conftest import make_session

    session = make_session("sim")
    campaign = make_campaign("names", [make_list("names", [("@anna_row", {}), ("@ben_row", {})])], [session])
    engine.launch(campaign, enqueue=False)
    work = CampaignWork(campaign, [session.pk], 0, {}, set())
    assert not work.mixed_kinds and work.reached == set()


@pytest.mark.parametrize("linked_first", [True, False])
def test_a_person_a_list_links_to_another_lists_key_gets_one_row_to_send(db, linked_first):
    """@dup with her phone as a second identity in one list, the phone as the key in another: one
    person, one row to send, whichever list comes first; the launch summary counts it so."""
    from campaigns.engine.sql import count_materialised
    from campaigns.models import Recipient, RecipientIdentity, RecipientKind

    from .conftest import make_session

    def linked():
        rl = make_list("linked", [("@dup_person", {})])
        person = Recipient.objects.get(recipient_list=rl)
        RecipientIdentity.objects.create(recipient=person, key="+4915199999991", kind=RecipientKind.PHONE)
        return rl

    lists = [linked(), make_list("phones", [("+4915199999991", {})])]
    if not linked_first:
        lists = [make_list("phones first", [("+4915199999991", {})]), linked()]
    session = make_session("sim", kind="user")
    campaign = make_campaign("once", lists, [session])
    assert count_materialised([rl.pk for rl in lists])["to_send"] == 1
    engine.launch(campaign, enqueue=False)
    assert campaign.results.filter(status="pending").count() == 1
    skipped = campaign.results.get(status="skipped")
    assert skipped.error_code == "DUPLICATE_RECIPIENT"
    assert skipped.recipient.recipient_list == lists[1]
