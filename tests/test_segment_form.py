"""The segment's form in the admin (campaigns.admin.segment_forms): each part posted as plain
fields is saved as the language's definition and shown again when the segment is re-opened; wrong
combinations are form errors; a saved definition the fields cannot show is edited as JSON and kept
whole."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from campaigns.models import Segment, Tag
from tests.conftest import make_campaign, make_list

pytestmark = pytest.mark.django_db

ADD = "admin:campaigns_segment_add"


class World:
    """Two lists with fields, two tags, a campaign and an older segment."""

    def __init__(self):
        self.berlin = make_list("berlin", [("@anna_user", {"city": "Berlin", "total_spent": "150"})])
        self.shop = make_list("shop", [("@ben_user", {"city": "Hamburg"})])
        self.press, self.vip = Tag.objects.named(["VIP", "Press"])  # ordered by key
        self.spring = make_campaign("spring", [self.berlin], [], status="completed")
        self.older = Segment.objects.create(
            name="older", definition={"tags": [{"tag": "Press", "has": True}]}
        )


@pytest.fixture
def world():
    return World()


@pytest.fixture
def client_of_mark(client, mark):
    client.force_login(mark)
    return client


def change_url(segment: Segment) -> str:
    return reverse("admin:campaigns_segment_change", args=[segment.pk])


def save(client, url: str, **fields):
    """POST the form (name "s" unless given); returns the response."""
    return client.post(url, {"name": "s", "lists_match": "any", **fields})


def shown(client, segment: Segment) -> dict:
    """The values the re-opened segment's form shows, by field name."""
    form = client.get(change_url(segment)).context["adminform"].form
    return {name: form[name].value() for name in form.fields}


PARTS = {
    "lists on all": (
        lambda w: {"lists": [w.berlin.pk, w.shop.pk], "lists_match": "all"},
        lambda w: {"lists": {"ids": sorted([w.berlin.pk, w.shop.pk]), "match": "all"}},
    ),
    "lists on any": (
        lambda w: {"lists": [w.shop.pk], "lists_match": "any"},
        lambda w: {"lists": {"ids": [w.shop.pk], "match": "any"}},
    ),
    "tags has and has not": (
        lambda w: {"has_tags": [w.vip.pk], "has_not_tags": [w.press.pk]},
        lambda w: {"tags": [{"tag": "VIP", "has": True}, {"tag": "Press", "has": False}]},
    ),
    "field conditions as text and numbers": (
        lambda w: {
            "field_1_name": "city",
            "field_1_op": "is_not",
            "field_1_value": "Berlin",
            "field_2_name": "total_spent",
            "field_2_op": "gte",
            "field_2_value": "100",
            "field_3_name": "score",
            "field_3_op": "lt",
            "field_3_value": "99.5",
        },
        lambda w: {
            "fields": [
                {"field": "city", "op": "is_not", "value": "Berlin"},
                {"field": "total_spent", "op": "gte", "value": 100},
                {"field": "score", "op": "lt", "value": 99.5},
            ]
        },
    ),
    "engagement with a campaign and with days": (
        lambda w: {
            "engagement_1_event": "not_read",
            "engagement_1_campaign": w.spring.pk,
            "engagement_1_within_hours": "24",
            "engagement_2_event": "replied",
            "engagement_2_days": "30",
        },
        lambda w: {
            "engagement": [
                {"event": "not_read", "campaign": w.spring.pk, "within_hours": 24},
                {"event": "replied", "days": 30},
            ]
        },
    ),
    "opted in since": (
        lambda w: {"opted_in_since": "2026-01-02"},
        lambda w: {"opted_in_since": "2026-01-02"},
    ),
    "exclusions of segments and lists": (
        lambda w: {"exclude_segments": [w.older.pk], "exclude_lists": [w.shop.pk]},
        lambda w: {"exclude": {"segments": [w.older.pk], "lists": [w.shop.pk]}},
    ),
}


@pytest.mark.parametrize("part", PARTS)
def test_each_part_is_saved_as_the_definition_and_shown_again(world, client_of_mark, part):
    posted, expected = PARTS[part][0](world), PARTS[part][1](world)
    response = save(client_of_mark, reverse(ADD), **posted)
    assert response.status_code == 302, response.context["adminform"].form.errors
    segment = Segment.objects.get(name="s")
    assert segment.definition == expected
    again = shown(client_of_mark, segment)
    for name, value in posted.items():
        want = [str(v) for v in value] if isinstance(value, list) else str(value)
        got = [str(v) for v in again[name]] if isinstance(again[name], list) else str(again[name])
        assert sorted(got) == sorted(want) if isinstance(want, list) else got == want, name
    # Saving the re-opened form unchanged keeps the definition as it was.
    resaved = {k: v for k, v in again.items() if v not in (None, "", [])}
    assert save(client_of_mark, change_url(segment), **resaved).status_code == 302
    segment.refresh_from_db()
    assert segment.definition == expected


def test_an_empty_form_is_everyone(world, client_of_mark):
    assert save(client_of_mark, reverse(ADD)).status_code == 302
    assert Segment.objects.get(name="s").definition == {}


def test_the_opted_in_date_is_shown_as_a_date(world, client_of_mark):
    segment = Segment.objects.create(name="s", definition={"opted_in_since": "2026-01-02"})
    assert shown(client_of_mark, segment)["opted_in_since"] == date(2026, 1, 2)


def test_a_segment_is_not_offered_among_its_own_exclusions(world, client_of_mark):
    form = client_of_mark.get(change_url(world.older)).context["adminform"].form
    assert world.older not in form.fields["exclude_segments"].queryset


def test_only_usable_lists_are_offered_and_the_page_says_why_the_others_are_not(world, client_of_mark):
    from campaigns.models import ImportStatus

    unfinished = {
        ImportStatus.MAPPING: "its columns were never mapped",
        ImportStatus.QUEUED: "being imported",
        ImportStatus.RUNNING: "being imported",
        ImportStatus.FAILED: "its import failed",
    }
    lists = {status: make_list(f"list {status}", [], import_status=status) for status in unfinished}

    response = client_of_mark.get(reverse(ADD))

    form = response.context["adminform"].form
    for name in ("lists", "exclude_lists"):
        offered = set(form.fields[name].queryset)
        assert offered == {world.berlin, world.shop}, name
    page = response.content.decode()
    for status, why in unfinished.items():
        assert f"“list {status}” ({why})" in page, status
    refused = errors(client_of_mark, reverse(ADD), lists=[lists[ImportStatus.MAPPING].pk])
    assert "lists" in refused


def test_a_list_chosen_before_its_new_import_stays_chosen_while_it_is_imported(world, client_of_mark):
    from campaigns.models import ImportStatus

    segment = Segment.objects.create(name="berliners", definition={"lists": {"ids": [world.berlin.pk]}})
    world.berlin.import_status = ImportStatus.RUNNING  # a new file, being imported
    world.berlin.save()

    assert shown(client_of_mark, segment)["lists"] == [world.berlin.pk]
    assert save(client_of_mark, change_url(segment), lists=[world.berlin.pk]).status_code == 302


def errors(client, url: str, **fields) -> dict:
    response = save(client, url, **fields)
    assert response.status_code == 200, "the form is shown again with its errors"
    return response.context["adminform"].form.errors


@pytest.mark.parametrize(
    "fields, where",
    [
        ({"field_1_name": "total_spent", "field_1_op": "gt", "field_1_value": "a lot"}, "field_1_value"),
        ({"field_2_name": "total_spent", "field_2_op": "gt", "field_2_value": "1e999"}, "field_2_value"),
        ({"field_1_name": "city", "field_1_value": "Berlin"}, "field_1_op"),
        ({"field_1_op": "is", "field_1_value": "Berlin"}, "field_1_name"),
        ({"engagement_1_event": "read"}, "engagement_1_days"),
        ({"engagement_1_days": "3"}, "engagement_1_event"),
        ({"engagement_1_event": "read", "engagement_1_days": "0"}, "engagement_1_days"),
    ],
)
def test_a_wrong_row_is_an_error_on_its_field(world, client_of_mark, fields, where):
    assert where in errors(client_of_mark, reverse(ADD), **fields)
    assert not Segment.objects.filter(name="s").exists()


def test_one_campaign_and_days_together_are_refused(world, client_of_mark):
    found = errors(
        client_of_mark,
        reverse(ADD),
        engagement_1_event="read",
        engagement_1_campaign=world.spring.pk,
        engagement_1_days="3",
    )
    assert "not both" in str(found["engagement_1_days"])


def test_excluding_a_segment_that_excludes_this_one_is_a_form_error(world, client_of_mark):
    other = Segment.objects.create(name="other", definition={"exclude": {"segments": [world.older.pk]}})
    world.older.definition = {"exclude": {"segments": [other.pk]}}
    world.older.save()
    found = errors(client_of_mark, change_url(other), name="other", exclude_segments=[world.older.pk])
    assert "nested too deep" in str(found["__all__"])


@pytest.mark.parametrize(
    "definition",
    [
        {"fields": [{"field": f"f{n}", "op": "is", "value": "x"} for n in range(4)]},
        {"engagement": [{"event": "sent", "days": n} for n in range(1, 4)]},
        {"lists": {"ids": [987654], "match": "any"}},
        {"tags": [{"tag": "never made"}]},
        {"lists": {"ids": []}},
        {"tags": [{"tag": "VIP", "has": True, "note": "kept"}]},
    ],
)
def test_a_definition_the_form_cannot_show_keeps_its_json(world, client_of_mark, definition):
    segment = Segment.objects.create(name="s", definition=definition)
    form = client_of_mark.get(change_url(segment)).context["adminform"].form
    assert set(form.fields) == {"name", "description", "definition"}
    posted = {"name": "renamed", "definition": form["definition"].value()}
    assert client_of_mark.post(change_url(segment), posted).status_code == 302
    segment.refresh_from_db()
    assert (segment.name, segment.definition) == ("renamed", definition)


def test_the_definition_is_shown_as_json_read_only_in_a_collapsed_section(world, client_of_mark):
    page = client_of_mark.get(change_url(world.older)).content.decode()
    assert "Advanced: the definition as JSON" in page
    assert 'id="tgc-segment-json"' in page and "&quot;Press&quot;" in page


def test_the_field_inputs_propose_the_lists_field_names(world, client_of_mark):
    page = client_of_mark.get(reverse(ADD)).content.decode()
    assert '<datalist id="id_field_1_name-names"><option value="city"><option value="total_spent">' in page


def test_a_reviewer_reads_the_definition_as_json_without_the_form(world, client, rita):
    client.force_login(rita)
    response = client.get(change_url(world.older))
    assert response.status_code == 200
    assert not response.context["adminform"].form.fields
    assert 'id="tgc-segment-json"' in response.content.decode()


@pytest.mark.parametrize("day", ["0001-01-01", "2013-08-13", "9999-12-31"])
def test_an_opted_in_date_no_segment_can_mean_is_an_error_on_its_field(world, client_of_mark, day):
    found = errors(client_of_mark, reverse(ADD), opted_in_since=day)

    assert str(found["opted_in_since"][0]).startswith("A date from 2013-08-14 to today")
    assert not Segment.objects.filter(name="s").exists()


@pytest.mark.parametrize("value", ["1e16", "-10000000000000001", "nan", "inf"])
def test_a_number_past_what_a_field_compares_is_an_error_naming_the_range(world, client_of_mark, value):
    from campaigns.models.segment_rules import FIELD_NUMBER

    found = errors(
        client_of_mark, reverse(ADD), field_1_name="total_spent", field_1_op="gt", field_1_value=value
    )

    assert FIELD_NUMBER.words in str(found["field_1_value"])
