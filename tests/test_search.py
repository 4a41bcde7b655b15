"""Search by the start of a phone as staff write it and by names, on recipients and results
(issue 17 item 11), through indexes (campaigns.lists.search)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.lists.importing import import_recipient_list
from campaigns.lists.search import fold, name_keys, phone_prefixes, search_recipients
from campaigns.models import MessageResult, Recipient, RecipientList
from tests.conftest import make_campaign


@pytest.mark.parametrize(
    "term, regions, prefixes",
    [
        ("+1 (415)", [], ["+1415"]),
        ("0044 20", [], ["+4420"]),
        ("07700", ["GB"], ["+447700"]),
        ("07700", ["GB", "DE"], ["+447700", "+497700"]),
        ("415 555", ["US"], ["+1415555", "+415555"]),
        ("Müller", ["DE"], []),
        ("0", ["DE"], []),
    ],
)
def test_a_phone_prefix_is_read_as_staff_write_it(term, regions, prefixes):
    assert phone_prefixes(term, regions) == prefixes


def test_names_are_folded_for_prefix_search():
    assert fold("  Jürgen   GROSS ") == "jurgen gross"
    assert name_keys({"first_name": "Jürgen", "last_name": "Groß"}) == ("jurgen gross", "gross")
    assert name_keys({"full_name": "Иван Иванович Иванов"}) == ("иван иванович иванов", "иванов")
    assert name_keys({"Name": "x"}) == ("", "")


@pytest.fixture
def crm(db, cases_dir) -> RecipientList:
    recipient_list = RecipientList.objects.create(name="crm", consent_basis="opt_in")
    import_recipient_list(recipient_list, cases_dir / "recipients" / "german_headers.csv")
    return recipient_list


def _keys(queryset) -> list[str]:
    return sorted(queryset.values_list("key", flat=True))


@pytest.mark.django_db
def test_recipients_are_found_by_a_national_prefix_in_their_rows_country_an_international_one_and_names(crm):
    everyone = Recipient.objects.all()

    assert _keys(search_recipients(everyone, "0664")) == ["+436641234569"]  # Austrian rows' region
    assert _keys(search_recipients(everyone, "+43 676")) == ["+436761234560"]
    assert _keys(search_recipients(everyone, "jürgen")) == ["+436641234569"]
    assert _keys(search_recipients(everyone, "Gross")) == ["+436641234569"]  # Groß, folded
    assert _keys(search_recipients(everyone, "zzz")) == []


@pytest.mark.django_db
def test_the_recipient_search_reads_no_row_by_a_contains_pattern(crm):
    with CaptureQueriesContext(connection) as queries:
        list(search_recipients(Recipient.objects.all(), "Jür"))
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "LIKE '%" not in sql and "LIKE %s" not in sql.replace("LIKE %s ESCAPE", "")
    assert "%jur%" not in sql.lower()


@pytest.mark.django_db
def test_results_are_found_by_a_phone_prefix_and_by_a_name(crm, alpha):
    campaign = make_campaign("Spring", [crm], [alpha])
    for recipient in crm.recipients.filter(status=Recipient.Status.VALID):
        MessageResult.objects.get_or_create(
            campaign=campaign, key=recipient.key, defaults={"recipient": recipient}
        )
    from campaigns.admin.results_changelist import search_results

    results = MessageResult.objects.filter(campaign=campaign)
    assert _keys(search_results(results, "0664 12")) == ["+436641234569"]
    assert _keys(search_results(results, "+49 151")) == [
        "+4915123456761",
        "+4915123456762",
        "+4915123456763",
        "+4915123456764",
    ]
    assert _keys(search_results(results, "Käfer")) == ["+4915123456764"]
    assert _keys(search_results(results, "karl k")) == ["+4915123456764"]


@pytest.mark.django_db
def test_the_recipients_changelist_finds_a_name(client, olga, crm):
    client.force_login(olga)
    response = client.get(reverse("admin:campaigns_recipient_changelist"), {"q": "jürg"})
    assert response.status_code == 200
    assert [r.key for r in response.context["cl"].result_list] == ["+436641234569"]


@pytest.mark.django_db
def test_a_bulk_insert_that_names_no_search_keys_still_writes_its_rows():
    from campaigns.engine.sql import insert_rows
    from campaigns.models import Recipient, RecipientList

    rl = RecipientList.objects.create(name="bulk", consent_basis="opt_in")
    columns = ("recipient_list_id", "row_number", "raw_value", "key", "kind", "status", "error", "fields")
    insert_rows(Recipient, columns, [(rl.pk, 2, "@bulk_user", "@bulk_user", "username", "valid", "", {})])
    assert Recipient.objects.get(recipient_list=rl).name_key == ""
