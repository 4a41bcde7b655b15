"""A campaign that targets segments: each segment is evaluated once, in SQL, when the launch writes
the rows, and everything the launch does for lists holds for segment rows — one row per person
across lists and identities, opt-outs under any identity, erased people, rows refused for consent,
quiet-hour zones — and the launch summary shows the segment's count."""

from __future__ import annotations

from datetime import time

import pytest
from django.urls import reverse

from campaigns import engine
from campaigns.models import (
    MessageResult,
    Recipient,
    RecipientIdentity,
    RecipientTag,
    Segment,
    Suppression,
    Tag,
)
from campaigns.people.erasure import erase_person
from campaigns.reporting.summary import launch_summary
from tests.conftest import make_campaign, make_list

pytestmark = pytest.mark.django_db


@pytest.fixture
def lists(db):
    first = make_list(
        "first",
        [
            ("@anna_user", {"city": "Berlin"}),
            ("@ben_user", {"city": "Berlin"}),
            ("@cleo_user", {"city": "Rome"}),
        ],
    )
    second = make_list("second", [("@anna_user", {"city": "Berlin"}), ("+4915112345678", {"city": "Berlin"})])
    return first, second


@pytest.fixture
def berliners(lists):
    return Segment.objects.create(
        name="Berliners", definition={"fields": [{"field": "city", "op": "is", "value": "berlin"}]}
    )


def rows(campaign) -> dict[str, tuple[str, str]]:
    return {
        r.key: (r.status, r.error_code)
        for r in MessageResult.objects.filter(campaign=campaign).order_by("id")
    }


def test_a_campaign_of_a_segment_alone_sends_to_its_people_once_each(alpha, berliners):
    campaign = make_campaign("to Berlin", [], [alpha])
    campaign.segments.set([berliners])

    engine.launch(campaign, enqueue=False)

    written = list(MessageResult.objects.filter(campaign=campaign).values_list("key", "status", "error_code"))
    pending = sorted(k for k, status, _ in written if status == "pending")
    assert pending == ["+4915112345678", "@anna_user", "@ben_user"]
    # anna's second row is kept as a skipped duplicate: nothing silently disappears.
    assert ("@anna_user", "skipped", "DUPLICATE_RECIPIENT") in written


def test_the_segment_is_evaluated_when_the_launch_writes_the_rows(alpha, berliners, lists):
    campaign = make_campaign("to Berlin", [], [alpha])
    campaign.segments.set([berliners])
    Recipient.objects.filter(key="@cleo_user").update(fields={"city": "Berlin"})  # moved since saved

    engine.launch(campaign, enqueue=False)

    assert rows(campaign)["@cleo_user"] == ("pending", "")


def test_a_person_on_a_list_and_in_a_segment_gets_one_message(alpha, berliners, lists):
    campaign = make_campaign("both", [lists[0]], [alpha])
    campaign.segments.set([berliners])

    engine.launch(campaign, enqueue=False)

    found = MessageResult.objects.filter(campaign=campaign, status="pending")
    assert sorted(found.values_list("key", flat=True)) == [
        "+4915112345678",
        "@anna_user",
        "@ben_user",
        "@cleo_user",
    ]


def test_a_person_opted_out_under_another_identity_is_skipped(alpha, berliners, lists):
    ben = Recipient.objects.get(key="@ben_user")
    RecipientIdentity.objects.create(recipient=ben, key="+4917000000001", kind="phone")
    Suppression.objects.create(key="+4917000000001")
    campaign = make_campaign("to Berlin", [], [alpha])
    campaign.segments.set([berliners])

    engine.launch(campaign, enqueue=False)

    assert rows(campaign)["@ben_user"] == ("skipped", "SUPPRESSED")


def test_the_same_person_under_two_keys_linked_by_a_list_gets_one_message(alpha, berliners, lists):
    anna = Recipient.objects.get(key="@anna_user", recipient_list=lists[0])
    RecipientIdentity.objects.create(recipient=anna, key="+4915112345678", kind="phone")
    campaign = make_campaign("to Berlin", [], [alpha])
    campaign.segments.set([berliners])

    engine.launch(campaign, enqueue=False)

    assert rows(campaign)["+4915112345678"][0] == "skipped"


def test_an_erased_person_is_not_chosen_even_by_engagement(alpha, beta, lists):
    earlier = make_campaign("earlier", [lists[0]], [alpha])
    engine.launch(earlier, enqueue=False)
    engine.run_until_done(earlier, max_seconds=10)
    sent_to = Segment.objects.create(
        name="got earlier", definition={"engagement": [{"event": "sent", "campaign": earlier.pk}]}
    )
    erase_person("@ben_user")
    campaign = make_campaign("again", [], [beta])
    campaign.segments.set([sent_to])

    engine.launch(campaign, enqueue=False)

    assert sorted(rows(campaign)) == ["@anna_user", "@cleo_user"]


def test_a_row_refused_for_consent_is_never_chosen(alpha, lists):
    Recipient.objects.create(
        recipient_list=lists[0],
        row_number=9,
        raw_value="@dora_user",
        key="",
        status="invalid",
        error="no consent (column Newsletter says 'no')",
        fields={"city": "Berlin"},
    )
    Recipient.objects.filter(key="@cleo_user").update(
        status="invalid", error="no consent (column Newsletter says 'no')"
    )
    everyone = Segment.objects.create(name="everyone", definition={"lists": {"ids": [lists[0].pk]}})
    campaign = make_campaign("all", [], [alpha])
    campaign.segments.set([everyone])

    engine.launch(campaign, enqueue=False)

    assert sorted(rows(campaign)) == ["@anna_user", "@ben_user"]


def test_segment_rows_get_their_time_zone_under_quiet_hours(alpha, berliners, lists):
    for recipient_list in lists:
        recipient_list.default_time_zone = "Europe/Rome"
        recipient_list.save()
    campaign = make_campaign("quiet", [], [alpha], send_window_start=time(9), send_window_end=time(20))
    campaign.segments.set([berliners])

    engine.launch(campaign, enqueue=False)

    zones = dict(
        MessageResult.objects.filter(campaign=campaign, status="pending").values_list("key", "time_zone")
    )
    assert zones == {
        "@anna_user": "Europe/Rome",
        "@ben_user": "Europe/Rome",
        "+4915112345678": "Europe/Berlin",
    }


def test_the_launch_summary_shows_the_segments_count_and_changes_its_fingerprint_with_it(alpha, berliners):
    campaign = make_campaign("to Berlin", [], [alpha])
    campaign.segments.set([berliners])

    summary = launch_summary(campaign)

    assert summary.segments == [("Berliners", 3)]
    assert summary.counts["to_send"] == 3
    before = campaign.fingerprint()
    berliners.definition = {"fields": [{"field": "city", "op": "is", "value": "rome"}]}
    berliners.save()
    assert campaign.fingerprint() != before


def test_a_campaign_with_neither_lists_nor_segments_is_refused(alpha):
    campaign = make_campaign("nobody", [], [alpha])
    with pytest.raises(engine.LaunchError, match="list or segment"):
        engine.launch(campaign, enqueue=False)


def test_a_segment_choosing_nobody_refuses_the_launch(alpha, lists):
    nobody = Segment.objects.create(name="VIPs", definition={"tags": [{"tag": "vip"}]})
    campaign = make_campaign("vip", [], [alpha])
    campaign.segments.set([nobody])
    with pytest.raises(engine.LaunchError, match="no valid recipient"):
        engine.launch(campaign, enqueue=False)
    RecipientTag.objects.create(
        recipient=Recipient.objects.get(key="@cleo_user"), tag=Tag.objects.named(["VIP"])[0]
    )
    engine.launch(campaign, enqueue=False)
    assert list(rows(campaign)) == ["@cleo_user"]


def test_the_launch_summary_page_shows_the_segment_and_what_did_not_read_leaves_out(
    client, mark, alpha, lists
):
    from sessions_app.models import SessionKind
    from tests.conftest import make_session

    bot = make_session("bot", kind=SessionKind.BOT)
    earlier = make_campaign("earlier", [lists[0]], [bot], status="completed")
    MessageResult.objects.create(
        campaign=earlier, key="@anna_user", dedupe_key="@anna_user", status="sent", session=bot
    )
    unread = Segment.objects.create(
        name="Did not read",
        definition={
            "lists": {"ids": [lists[0].pk]},
            "engagement": [{"event": "not_read", "campaign": earlier.pk}],
        },
    )
    everyone = Segment.objects.create(name="First list", definition={"lists": {"ids": [lists[0].pk]}})
    campaign = make_campaign("again", [], [alpha])
    campaign.segments.set([unread, everyone])
    client.force_login(mark)

    page = client.get(reverse("admin:campaigns_campaign_launch", args=[campaign.pk])).content.decode()

    assert '“Did not read” <strong class="tgc-segment-count">0</strong>' in page
    assert '“First list” <strong class="tgc-segment-count">3</strong>' in page
    assert "1 message of “earlier” sent by a bot" in page


def test_under_quiet_hours_a_segment_row_without_a_known_zone_refuses_the_launch_as_a_lists_would(
    alpha, berliners, lists
):
    campaign = make_campaign("quiet", [], [alpha], send_window_start=time(9), send_window_end=time(20))
    campaign.segments.set([berliners])

    with pytest.raises(engine.LaunchError, match="2 recipients of “first”.*have none"):
        engine.launch(campaign, enqueue=False)


def test_a_campaign_of_segments_alone_is_previewed_for_its_first_person(alpha, lists):
    from campaigns.content.preview import campaign_preview

    Recipient.objects.filter(key="@cleo_user").update(fields={"city": "Rome", "first_name": "Cleo"})
    romans = Segment.objects.create(
        name="Romans", definition={"fields": [{"field": "city", "op": "is", "value": "rome"}]}
    )
    campaign = make_campaign("to Rome", [], [alpha], message="Ciao {{ first_name }}!")
    campaign.segments.set([romans])

    assert campaign_preview(campaign).text == "Ciao Cleo!"
    assert engine.check_launch(campaign).problems == []
