"""Tags added and removed in bulk from a list's recipients (issue 20): the *Add tags…* and
*Remove tags…* actions ask for the names, then change every selected row in one statement per
tag — "select all" included, without loading the rows — and are audited; the Tag list counts
rows."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.models import Recipient, RecipientTag, Tag
from campaigns.people import tagging
from tests.conftest import make_list
from tgcampaigns.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:campaigns_recipient_changelist"


@pytest.fixture
def big(db):
    return make_list("big", [(f"@user_{i:04d}", {"first_name": f"U{i}"}) for i in range(1200)])


def _tags(recipient_list) -> dict[str, int]:
    links = RecipientTag.objects.filter(recipient__recipient_list=recipient_list)
    return {t.name: links.filter(tag=t).count() for t in Tag.objects.all()}


def test_adding_tags_to_a_selection_is_one_statement_per_tag_whatever_its_size(big):
    rows = Recipient.objects.filter(recipient_list=big)

    with CaptureQueriesContext(connection) as queries:
        tags, added = tagging.add_tags(rows, ["VIP", "Berlin"])

    assert added == 2400 and _tags(big) == {"Berlin": 1200, "VIP": 1200}
    inserts = [
        q for q in queries.captured_queries if "INSERT INTO" in q["sql"] and "recipienttag" in q["sql"]
    ]
    assert len(inserts) == 2
    again = tagging.add_tags(rows, ["vip"])[1]
    assert again == 0 and RecipientTag.objects.count() == 2400  # a row has a tag once


def test_removing_tags_takes_them_off_the_selection_only(big, people):
    tagging.add_tags(Recipient.objects.all(), ["VIP"])

    tags, removed = tagging.remove_tags(Recipient.objects.filter(recipient_list=big), ["vip", "no such tag"])

    assert [t.name for t in tags] == ["VIP"] and removed == 1200
    assert _tags(big) == {"VIP": 0} and _tags(people) == {"VIP": 5}


def test_the_action_asks_for_the_names_then_tags_every_selected_row(client, mark, people):
    client.force_login(mark)
    ids = list(people.recipients.values_list("pk", flat=True)[:2])
    data = {"action": "add_tags", ACTION_CHECKBOX_NAME: ids}

    form = client.post(reverse(CHANGELIST), data)
    assert form.status_code == 200 and "Add tags to the selected recipients" in form.content.decode()
    assert not RecipientTag.objects.exists()
    client.post(reverse(CHANGELIST), {**data, "apply": "yes", "names": "VIP; Berlin"})

    assert set(RecipientTag.objects.values_list("recipient_id", flat=True)) == set(ids)
    assert RecipientTag.objects.count() == 4
    event = AuditEvent.objects.get(action="tags.add")
    assert "Berlin, VIP" in event.message and "4" in event.message


def test_select_all_tags_every_row_the_filter_selects(client, mark, big, people):
    client.force_login(mark)
    url = reverse(CHANGELIST) + f"?recipient_list__id__exact={big.pk}"
    data = {"action": "add_tags", "select_across": "1", ACTION_CHECKBOX_NAME: [big.recipients.first().pk]}

    client.post(url, {**data, "apply": "yes", "names": "Winter"})

    assert _tags(big) == {"Winter": 1200} and _tags(people) == {"Winter": 0}
    client.post(url, {**data, "action": "remove_tags", "apply": "yes", "names": "winter"})
    assert not RecipientTag.objects.exists()
    assert AuditEvent.objects.filter(action="tags.remove").count() == 1


def test_a_reviewer_is_offered_no_tag_action_and_may_not_run_one(client, rita, people):
    client.force_login(rita)

    response = client.post(
        reverse(CHANGELIST),
        {
            "action": "add_tags",
            "apply": "yes",
            "names": "VIP",
            ACTION_CHECKBOX_NAME: [people.recipients.first().pk],
        },
    )

    assert response.status_code == 403 and not RecipientTag.objects.exists()


def test_the_tag_list_counts_each_tags_rows_and_renaming_is_audited(client, mark, people):
    tagging.add_tags(
        people.recipients.filter(pk__in=list(people.recipients.values_list("pk", flat=True)[:3])), ["VIP"]
    )
    tagging.add_tags(people.recipients.all(), ["Berlin"])
    client.force_login(mark)

    page = client.get(reverse("admin:campaigns_tag_changelist")).content.decode()

    assert "VIP" in page and ">3<" in page and ">5<" in page
    by_rows = client.get(reverse("admin:campaigns_tag_changelist"), {"o": "-2"}).content.decode()
    assert by_rows.index("Berlin") < by_rows.index("VIP")  # sorted by rows, most first
    vip = Tag.objects.get(key="vip")
    client.post(reverse("admin:campaigns_tag_change", args=[vip.pk]), {"name": "Very important"})
    vip.refresh_from_db()
    assert (vip.name, vip.key) == ("Very important", "very important")
    refused = client.post(reverse("admin:campaigns_tag_change", args=[vip.pk]), {"name": "BERLIN"})
    assert refused.status_code == 200 and "Another tag has this name" in refused.content.decode()
    assert AuditEvent.objects.filter(action="tag.change").count() == 1
