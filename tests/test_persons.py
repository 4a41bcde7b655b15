"""A person's page (issue 20): found by any identity in any spelling, their rows, consent,
opt-outs, tags and a timeline of every message, read, reply and opt-out, newest first; tags
changed there and erasure from there, audited; reviewers read it and change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from campaigns.models import (
    MessageResult,
    Recipient,
    RecipientIdentity,
    RecipientTag,
    Reply,
    Suppression,
    Tag,
)
from campaigns.people import persons
from tests.conftest import make_campaign, make_list
from tgcampaigns.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

ANN_PHONE = "+4915123456701"


@pytest.fixture
def ann(alpha):
    """Ann: @ann_user on a newsletter list (her phone as a second identity), her phone alone on a
    customer list, her user id on a third; two campaigns reached her."""
    newsletter = make_list("Newsletter", [("@ann_user", {"first_name": "Ann", "city": "Berlin"})])
    row = newsletter.recipients.get()
    RecipientIdentity.objects.create(recipient=row, key=ANN_PHONE, kind="phone")
    customers = make_list("Customers", [(ANN_PHONE, {"first_name": "Ann", "total_spent": "120"})])
    make_list("Bob's", [("@bob_user", {"first_name": "Bob"})])
    now = timezone.now()
    first = make_campaign("Spring sale", [newsletter], [alpha], status="completed")
    second = make_campaign("Reminder", [customers], [alpha], status="completed")
    sent = MessageResult.objects.create(
        campaign=first,
        recipient=row,
        key="@ann_user",
        status="sent",
        session=alpha,
        variant="B",
        sent_at=now - timedelta(days=2),
        read_at=now - timedelta(days=2, hours=-1),
        telegram_message_id=10,
        peer_id=555,
    )
    Reply.objects.create(
        campaign=first,
        result=sent,
        session=alpha,
        peer_id=555,
        message_id=11,
        text="Sounds good",
        received_at=now - timedelta(days=1),
    )
    MessageResult.objects.create(
        campaign=second, key=ANN_PHONE, status="failed", session=alpha, error_text="PEER_FLOOD"
    )
    return row


@pytest.mark.parametrize(
    "written",
    ["@ann_user", "@Ann_User", "ann_user", "https://t.me/ann_user", "+49 151 2345 6701", "0049 1512 3456701"],
)
def test_a_person_is_found_by_any_identity_in_any_spelling_with_every_row_of_theirs(ann, written):
    person = persons.find_person(written)

    assert person is not None
    assert person.keys == sorted(["@ann_user", ANN_PHONE])
    assert sorted(r.recipient_list.name for r in person.rows) == ["Customers", "Newsletter"]


def test_a_person_is_found_by_a_numeric_user_id(alpha):
    make_list("Ids", [("5550001", {"first_name": "Uma"})])

    person = persons.find_person("5550001")

    assert person is not None and person.name == "Uma"


def test_nobody_is_found_for_an_unknown_or_invalid_identity(ann):
    assert persons.find_person("@nobody_here") is None
    assert persons.find_person("not an identity!") is None


def test_the_timeline_holds_sends_reads_replies_and_opt_outs_newest_first(ann):
    Suppression.objects.create(key=ANN_PHONE, source="manual", note="asked by phone")

    timeline = persons.find_person("@ann_user").timeline

    assert [e.what for e in timeline] == ["opt-out", "failed", "reply", "read", "sent"]
    sent = timeline[-1].result
    assert (sent.campaign.name, sent.session.name, sent.variant) == ("Spring sale", "alpha", "B")
    assert timeline[2].text == "Sounds good"
    assert timeline[1].result.campaign.name == "Reminder"
    assert [e.at for e in timeline] == sorted((e.at for e in timeline), reverse=True)


def test_the_timeline_is_capped_and_says_so(ann, alpha, monkeypatch):
    monkeypatch.setattr(persons, "TIMELINE_RESULTS", 1)

    person = persons.find_person("@ann_user")

    assert person.more and [e.what for e in person.timeline] == ["failed"]


def test_the_page_shows_rows_fields_consent_opt_out_tags_and_timeline(client, mark, ann):
    Suppression.objects.create(key="@ann_user", source="manual")
    RecipientTag.objects.create(recipient=ann, tag=Tag.objects.named(["VIP"])[0])
    client.force_login(mark)

    page = client.get(reverse("admin:campaigns_person_page", args=[ann.pk])).content.decode()

    for shown in (
        "Newsletter",
        "Customers",
        "Berlin",
        "total_spent",
        "Opted in (subscribed)",
        "opted out",
        "VIP",
        "Spring sale",
        "Sounds good",
        "PEER_FLOOD",
        "Add tags",
    ):
        assert shown in page, shown


def test_the_search_opens_the_page_of_the_person_an_identity_names(client, mark, ann):
    client.force_login(mark)

    response = client.get(reverse("admin:campaigns_person_changelist"), {"q": "+49 (151) 23456701"})

    assert response.status_code == 302
    row = Recipient.objects.get(pk=int(response.url.rstrip("/").rsplit("/", 1)[1]))
    assert row.key in ("@ann_user", ANN_PHONE)


def test_the_search_lists_the_rows_whose_name_starts_with_the_words(client, mark, ann):
    Recipient.objects.filter(fields__first_name="Ann").update(name_key="ann")  # as the import folds it
    Recipient.objects.filter(key="@bob_user").update(name_key="bob")
    client.force_login(mark)

    page = client.get(reverse("admin:campaigns_person_changelist"), {"q": "An"}).content.decode()

    assert "tgc-person-matches" in page and "Newsletter" in page and "Bob" not in page


def test_marketing_adds_and_removes_tags_on_all_the_persons_rows_audited(client, mark, ann):
    client.force_login(mark)
    url = reverse("admin:campaigns_person_tags", args=[ann.pk])

    client.post(url, {"add": "VIP, Berlin"})

    tagged = {
        r.recipient_list.name: sorted(t.name for t in r.tags.all())
        for r in persons.find_person("@ann_user").rows
    }
    assert tagged == {"Newsletter": ["Berlin", "VIP"], "Customers": ["Berlin", "VIP"]}
    client.post(url, {"remove": "vip"})
    assert [t.name for t in persons.find_person("@ann_user").tags] == ["Berlin"]
    actions = list(AuditEvent.objects.filter(action__startswith="tags.").values_list("action", flat=True))
    assert actions.count("tags.add") == 2 and actions.count("tags.remove") == 2  # one event per row


def test_a_reviewer_reads_the_page_without_tag_or_erase_controls_and_may_not_post(client, rita, ann):
    client.force_login(rita)

    page = client.get(reverse("admin:campaigns_person_page", args=[ann.pk])).content.decode()

    assert "Spring sale" in page and "Newsletter" in page
    assert reverse("admin:campaigns_recipientlist_change", args=[ann.recipient_list_id]) not in page  # a 403
    assert "tgc-add-tags" not in page and "tgc-remove-tag" not in page and "tgc-erase-person" not in page
    assert (
        client.post(reverse("admin:campaigns_person_tags", args=[ann.pk]), {"add": "VIP"}).status_code == 403
    )
    assert (
        client.post(reverse("admin:campaigns_person_erase", args=[ann.pk]), {"confirmed": "yes"}).status_code
        == 403
    )
    assert not RecipientTag.objects.exists() and Recipient.objects.filter(pk=ann.pk).exists()


# Per role: the search, a person's page, Erase this person (GET, then POST confirmed). Whoever may
# erase a person finds and opens them first (the operator: erase_person without the results'
# permission); whoever may neither see results nor erase sees no person.
ROLE_ACCESS = {
    "mark": (200, 200, 403, 403),
    "rita": (200, 200, 403, 403),
    "otto": (200, 200, 200, 302),
    "olga": (200, 200, 200, 302),
    "campaigns_only": (403, 403, 403, 403),
}


@pytest.mark.parametrize("who", ROLE_ACCESS)
def test_each_role_may_search_open_and_erase_a_person_as_the_roles_table_says(client, request, who, ann):
    user = request.getfixturevalue(who) if who != "campaigns_only" else _staff_viewing_campaigns()
    client.force_login(user)
    erase = reverse("admin:campaigns_person_erase", args=[ann.pk])

    answers = (
        client.get(reverse("admin:campaigns_person_changelist")).status_code,
        client.get(reverse("admin:campaigns_person_page", args=[ann.pk])).status_code,
        client.get(erase).status_code,
        client.post(erase, {"confirmed": "yes"}).status_code,
    )

    assert answers == ROLE_ACCESS[who]
    erased = answers[3] == 302
    assert Recipient.objects.filter(pk=ann.pk).exists() is not erased
    if erased:
        assert AuditEvent.objects.get(action="person.erase").user == user


def test_an_operator_finds_a_person_and_sees_the_erase_button_but_no_link_they_may_not_follow(
    client, otto, ann
):
    client.force_login(otto)

    found = client.get(reverse("admin:campaigns_person_changelist"), {"q": "@Ann_User"})
    page = client.get(found.url).content.decode()

    assert found.status_code == 302 and "tgc-erase-person" in page and "Spring sale" in page
    assert "tgc-add-tags" not in page and "tgc-remove-tag" not in page
    for url in (
        reverse("admin:campaigns_messageresult_changelist"),
        reverse("admin:campaigns_recipientlist_change", args=[ann.recipient_list_id]),
    ):
        assert url not in page  # each a 403 for the operator
    assert any(  # the Persons entry is offered
        m["object_name"] == "Person"
        for a in client.get(reverse("admin:index")).context["app_list"]
        for m in a["models"]
    )


def _staff_viewing_campaigns() -> User:
    user = User.objects.create_user("viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    return User.objects.get(pk=user.pk)


def test_erase_this_person_confirms_then_erases_them_everywhere_audited(client, olga, ann):
    client.force_login(olga)
    url = reverse("admin:campaigns_person_erase", args=[ann.pk])

    assert "Yes, erase this person" in client.get(url).content.decode()
    response = client.post(url, {"confirmed": "yes"})

    assert response.status_code == 302
    assert persons.find_person("@ann_user") is None and persons.find_person(ANN_PHONE) is None
    assert not Recipient.objects.filter(key__in=["@ann_user", ANN_PHONE]).exists()
    assert Recipient.objects.filter(key="@bob_user").exists()
    assert AuditEvent.objects.filter(action="person.erase").count() == 1


def test_a_recipient_row_links_to_its_persons_page(client, mark, ann):
    client.force_login(mark)

    page = client.get(reverse("admin:campaigns_recipient_changelist")).content.decode()

    assert reverse("admin:campaigns_person_page", args=[ann.pk]) in page


def test_a_result_page_links_to_its_persons_page(client, mark, ann):
    client.force_login(mark)
    failed = MessageResult.objects.get(status="failed")  # made without its row: found by its key

    page = client.get(reverse("admin:campaigns_messageresult_change", args=[failed.pk])).content.decode()

    row = Recipient.objects.get(key=ANN_PHONE)
    assert reverse("admin:campaigns_person_page", args=[row.pk]) in page


def test_the_search_says_when_only_results_hold_an_identity(client, mark, alpha):
    campaign = make_campaign("Old", [], [alpha], status="completed")
    MessageResult.objects.create(campaign=campaign, key="@gone_user", status="sent", session=alpha)
    client.force_login(mark)

    page = client.get(reverse("admin:campaigns_person_changelist"), {"q": "@Gone_User"}).content.decode()

    assert "tgc-person-no-rows" in page
    assert persons.find_person("@gone_user").timeline[0].result.campaign.name == "Old"
