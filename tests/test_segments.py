"""The segment language (campaigns.models.segment_rules), condition by condition, on the database
the suite runs on (SQLite and PostgreSQL): lists any/all, tags has/has not, field conditions (text
without regard to case, numbers as numbers), engagement (sent, read, replied, not read, not
replied; in one campaign or any within days; within hours), opted in since, exclusions; the bot
rule; the count, sample and "why is this person in"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import MessageResult, Recipient, RecipientList, RecipientTag, Segment, Tag
from campaigns.models.segment_rules import FIELD_NUMBER, OPTED_IN_EARLIEST, SegmentInvalid, validate
from sessions_app.models import SessionKind
from tests.conftest import make_campaign, make_list, make_session

pytestmark = pytest.mark.django_db


class World:
    """Two lists: ``berlin`` (anna, ben, cleo) and ``shop`` (anna again, dora); tags, fields, and a
    campaign ``spring`` sent by a user session (anna read, ben replied, cleo neither) and by a bot
    session (dora: no read can ever be known)."""

    def __init__(self):
        self.berlin = make_list(
            "berlin",
            [
                ("@anna_user", {"city": "Berlin", "total_spent": "150"}),
                ("@ben_user", {"city": "berlin", "total_spent": "99.5"}),
                ("@cleo_user", {"city": "Hamburg", "total_spent": "n/a"}),
            ],
        )
        self.shop = make_list(
            "shop",
            [
                ("@anna_user", {"total_spent": "1000"}),
                ("@dora_user", {"city": "BERLIN", "total_spent": "100"}),
            ],
        )
        vip = Tag.objects.named(["VIP"])[0]
        RecipientTag.objects.create(recipient=self.row("@anna_user", self.shop), tag=vip)
        RecipientTag.objects.create(recipient=self.row("@dora_user", self.shop), tag=vip)
        self.user = make_session("user-account", kind=SessionKind.USER)
        self.bot = make_session("bot-account", kind=SessionKind.BOT)
        self.spring = make_campaign(
            "spring", [self.berlin, self.shop], [self.user, self.bot], status="completed"
        )
        sent = timezone.now() - timedelta(days=2)
        self.result("@anna_user", self.user, sent, read_at=sent + timedelta(minutes=30))
        self.result(
            "@ben_user",
            self.user,
            sent,
            read_at=sent + timedelta(hours=3),
            replied_at=sent + timedelta(hours=3),
        )
        self.result("@cleo_user", self.user, sent)
        self.result("@dora_user", self.bot, sent)

    def row(self, key: str, recipient_list: RecipientList) -> Recipient:
        return Recipient.objects.get(key=key, recipient_list=recipient_list)

    def result(self, key, session, sent_at, **fields):
        return MessageResult.objects.create(
            campaign=self.spring,
            key=key,
            dedupe_key=key,
            status="sent",
            session=session,
            sent_at=sent_at,
            **fields,
        )


@pytest.fixture
def world():
    return World()


def people(definition: dict) -> list[str]:
    segment = Segment.objects.create(name="s", definition=validate(definition))
    return sorted(set(segment.recipients().values_list("key", flat=True)))


def test_any_of_the_lists_chooses_their_valid_rows(world):
    assert people({"lists": {"ids": [world.berlin.pk], "match": "any"}}) == [
        "@anna_user",
        "@ben_user",
        "@cleo_user",
    ]


def test_all_of_the_lists_chooses_people_on_every_list(world):
    assert people({"lists": {"ids": [world.berlin.pk, world.shop.pk], "match": "all"}}) == ["@anna_user"]


def test_has_a_tag_in_any_case_on_any_of_the_persons_rows(world):
    assert people({"tags": [{"tag": "vip", "has": True}]}) == ["@anna_user", "@dora_user"]


def test_has_not_a_tag(world):
    assert people({"tags": [{"tag": "VIP", "has": False}]}) == ["@ben_user", "@cleo_user"]


def test_a_field_is_a_text_without_regard_to_case(world):
    assert people({"fields": [{"field": "city", "op": "is", "value": "Berlin"}]}) == [
        "@anna_user",
        "@ben_user",
        "@dora_user",
    ]


def test_a_field_is_not_a_text_also_chooses_rows_without_the_field(world):
    assert people({"fields": [{"field": "city", "op": "is_not", "value": "berlin"}]}) == [
        "@anna_user",
        "@cleo_user",
    ]


def test_numbers_are_compared_as_numbers_and_no_number_never_matches(world):
    # As text "99.5" > "100" and "1000" < "150"; as numbers they are not. "n/a" matches nothing.
    assert people({"fields": [{"field": "total_spent", "op": "gte", "value": 100}]}) == [
        "@anna_user",
        "@dora_user",
    ]
    assert people({"fields": [{"field": "total_spent", "op": "lt", "value": 100}]}) == ["@ben_user"]
    assert people({"fields": [{"field": "total_spent", "op": "eq", "value": 99.5}]}) == ["@ben_user"]
    assert people({"fields": [{"field": "total_spent", "op": "lte", "value": 1000}]}) == [
        "@anna_user",
        "@ben_user",
        "@dora_user",
    ]


def test_was_sent_a_campaign(world):
    assert people({"engagement": [{"event": "sent", "campaign": world.spring.pk}]}) == [
        "@anna_user",
        "@ben_user",
        "@cleo_user",
        "@dora_user",
    ]


def test_read_a_campaign_and_read_it_within_hours(world):
    assert people({"engagement": [{"event": "read", "campaign": world.spring.pk}]}) == [
        "@anna_user",
        "@ben_user",
    ]
    assert people({"engagement": [{"event": "read", "campaign": world.spring.pk, "within_hours": 1}]}) == [
        "@anna_user"
    ]


def test_replied_to_a_campaign(world):
    assert people({"engagement": [{"event": "replied", "campaign": world.spring.pk}]}) == ["@ben_user"]


def test_did_not_read_counts_only_rows_sent_by_user_sessions(world):
    """dora got it from a bot: Telegram never tells a bot a read, so she is left out (and counted apart)."""
    definition = {"engagement": [{"event": "not_read", "campaign": world.spring.pk}]}
    assert people(definition) == ["@cleo_user"]
    assert people(
        {"engagement": [{"event": "not_read", "campaign": world.spring.pk, "within_hours": 1}]}
    ) == [
        "@ben_user",
        "@cleo_user",
    ]
    assert Segment(definition=definition).left_out() == [("“spring”", 1)]


def test_did_not_reply_to_a_campaign(world):
    assert people({"engagement": [{"event": "not_replied", "campaign": world.spring.pk}]}) == [
        "@anna_user",
        "@cleo_user",
        "@dora_user",
    ]


def test_engagement_in_any_campaign_within_days(world):
    assert people({"engagement": [{"event": "replied", "days": 7}]}) == ["@ben_user"]
    assert people({"engagement": [{"event": "sent", "days": 1}]}) == []


def test_opted_in_since_a_date_reads_the_lists_import_date(world):
    RecipientList.objects.filter(pk=world.berlin.pk).update(created_at=timezone.now() - timedelta(days=400))
    since = (timezone.now() - timedelta(days=30)).date().isoformat()
    assert people({"opted_in_since": since}) == ["@anna_user", "@dora_user"]


def test_exclusions_of_a_list_and_of_another_segment(world):
    readers = Segment.objects.create(
        name="readers", definition={"engagement": [{"event": "read", "campaign": world.spring.pk}]}
    )
    assert people({"lists": {"ids": [world.berlin.pk]}, "exclude": {"lists": [world.shop.pk]}}) == [
        "@ben_user",
        "@cleo_user",
    ]
    assert people({"lists": {"ids": [world.berlin.pk]}, "exclude": {"segments": [readers.pk]}}) == [
        "@cleo_user"
    ]


def test_a_segment_excluding_itself_is_refused_not_looped(world):
    segment = Segment.objects.create(name="loop", definition={})
    segment.definition = {"exclude": {"segments": [segment.pk]}}
    segment.save()
    with pytest.raises(SegmentInvalid):
        list(segment.recipients())


def test_conditions_are_combined_with_and(world):
    definition = {
        "tags": [{"tag": "VIP", "has": True}],
        "fields": [{"field": "city", "op": "is", "value": "berlin"}],
    }
    assert people(definition) == ["@anna_user", "@dora_user"]  # anna's Berlin row, dora's shop row
    definition["fields"].append({"field": "total_spent", "op": "lt", "value": 500})
    assert people(definition) == ["@anna_user", "@dora_user"]


@pytest.mark.parametrize(
    "definition",
    [
        [],
        {"colour": "red"},
        {"lists": {"ids": "3"}},
        {"lists": {"ids": [1], "match": "some"}},
        {"tags": [{"tag": ""}]},
        {"fields": [{"field": "total_spent", "op": "gte", "value": "100"}]},
        {"fields": [{"field": "city", "op": "like", "value": "B"}]},
        {"engagement": [{"event": "opened", "campaign": 1}]},
        {"engagement": [{"event": "read"}]},
        {"engagement": [{"event": "read", "campaign": 1, "days": 3}]},
        {"opted_in_since": "yesterday"},
        {"exclude": {"people": [1]}},
    ],
)
def test_a_definition_outside_the_language_is_refused(definition):
    with pytest.raises(SegmentInvalid):
        validate(definition)


@pytest.mark.parametrize(
    "definition",
    [
        {"engagement": [{"event": "sent", "days": 10**6}]},  # before year 1
        {"engagement": [{"event": "sent", "days": 10**10}]},
        {"engagement": [{"event": "read", "campaign": 1, "within_hours": 10**12}]},
        {"engagement": [{"event": "sent", "campaign": 2**63}]},  # no id is that large
        {"lists": {"ids": [2**63]}},
        {"exclude": {"lists": [10**30]}},
        {"exclude": {"segments": [0]}},
    ],
)
def test_a_number_no_segment_can_mean_is_refused_with_its_range_not_a_crash(definition):
    with pytest.raises(SegmentInvalid):
        validate(definition)
    with pytest.raises(SegmentInvalid):
        Segment(definition=definition).count()


def test_the_largest_spans_a_segment_allows_are_counted(world):
    widest = {"engagement": [{"event": "read", "days": 3650, "within_hours": 8760}]}
    recent = {"engagement": [{"event": "read", "days": 30}]}

    assert Segment(definition=widest).count() == Segment(definition=recent).count() > 0


def test_count_counts_people_once_and_the_sample_shows_each_once(world):
    segment = Segment.objects.create(name="all", definition={})
    assert segment.count() == 4
    assert sorted(r.key for r in segment.sample()) == ["@anna_user", "@ben_user", "@cleo_user", "@dora_user"]


def test_why_a_person_is_in_says_each_condition_they_meet(world):
    segment = Segment.objects.create(
        name="s",
        definition={
            "tags": [{"tag": "vip"}],
            "fields": [{"field": "total_spent", "op": "gte", "value": 100}],
            "engagement": [{"event": "read", "campaign": world.spring.pk, "within_hours": 1}],
        },
    )
    anna = world.row("@anna_user", world.shop)
    assert segment.why(anna) == [
        ("has the tag “vip”", True),
        ("“total_spent” ≥ 100", True),
        ("read “spring” within 1 h of the send", True),
    ]
    ben = world.row("@ben_user", world.berlin)
    assert [met for _, met in segment.why(ben)] == [False, False, False]


# Numbers and dates no segment can mean: refused, naming the part and its range -------------------
TODAY_PLUS_ONE = "tomorrow"  # replaced by the date in the test (parametrize runs at import)


@pytest.mark.parametrize(
    ("definition", "part"),
    [
        ({"fields": [{"field": "total_spent", "op": "gt", "value": float("nan")}]}, "fields"),
        ({"fields": [{"field": "total_spent", "op": "gt", "value": float("inf")}]}, "fields"),
        ({"fields": [{"field": "total_spent", "op": "lt", "value": float("-inf")}]}, "fields"),
        ({"fields": [{"field": "total_spent", "op": "gte", "value": 10**400}]}, "fields"),  # was a 500
        ({"fields": [{"field": "total_spent", "op": "eq", "value": 1e16}]}, "fields"),
        ({"opted_in_since": "0001-01-01"}, "opted_in_since"),
        ({"opted_in_since": "2013-08-13"}, "opted_in_since"),
        ({"opted_in_since": "9999-12-31"}, "opted_in_since"),
        ({"opted_in_since": TODAY_PLUS_ONE}, "opted_in_since"),
        ({"opted_in_since": 20260101}, "opted_in_since"),
        ({"fields": 5}, "fields"),  # was a TypeError
        ({"tags": "VIP"}, "tags"),
        ({"engagement": {"event": "sent", "days": 3}}, "engagement"),
    ],
)
def test_a_number_or_date_no_segment_can_mean_is_refused_naming_the_part_not_chosen_empty(
    world, definition, part
):
    if definition.get("opted_in_since") == TODAY_PLUS_ONE:
        definition = {"opted_in_since": (timezone.localdate() + timedelta(days=1)).isoformat()}

    with pytest.raises(SegmentInvalid, match=f"^{part}: "):
        validate(definition)
    with pytest.raises(SegmentInvalid):
        Segment(definition=definition).count()


def test_the_edges_of_a_number_and_of_the_opted_in_date_are_counted(world):
    today = timezone.localdate().isoformat()
    definitions = [
        {"fields": [{"field": "total_spent", "op": "lt", "value": FIELD_NUMBER.high}]},
        {"fields": [{"field": "total_spent", "op": "gt", "value": FIELD_NUMBER.low}]},
        {"opted_in_since": OPTED_IN_EARLIEST.isoformat()},
    ]

    assert [Segment(definition=d).count() for d in definitions] == [3, 3, 4]
    assert Segment(definition={"opted_in_since": today}).count() == 4  # the lists were made today


def test_a_stored_date_before_telegram_is_shown_as_refused_on_the_segments_page(world, client, mark):
    segment = Segment.objects.create(name="ancient", definition={"opted_in_since": "0001-01-01"})
    client.force_login(mark)

    response = client.get(reverse("admin:campaigns_segment_change", args=[segment.pk]))

    assert response.status_code == 200
    assert response.context["segment_error"].startswith("opted_in_since: a date from 2013-08-14")


def test_the_json_form_refuses_nan_and_infinity_the_database_would_refuse_with_a_500(world, client, mark):
    segment = Segment.objects.create(name="odd", definition={"lists": {"ids": [987654]}})  # JSON only
    client.force_login(mark)
    url = reverse("admin:campaigns_segment_change", args=[segment.pk])

    for number in ("NaN", "Infinity", "1e999"):
        text = '{"fields": [{"field": "total_spent", "op": "gt", "value": NUMBER}]}'.replace("NUMBER", number)
        response = client.post(url, {"name": "odd", "definition": text})

        assert response.status_code == 200, number
        assert "fields: " in str(response.context["adminform"].form.errors["definition"])
    segment.refresh_from_db()
    assert segment.definition == {"lists": {"ids": [987654]}}
