"""The results changelist's table, its rows written once per column
(:mod:`campaigns.admin.result_rows`), holds the same cells as Django's own ``items_for_result``:
every column, the link keeping the page's filters, the campaign column of the unfiltered list."""

from __future__ import annotations

import pytest
from django.contrib.admin.templatetags.admin_list import results
from django.urls import reverse

from campaigns import engine
from campaigns.admin.result_rows import result_table
from campaigns.models import ResultStatus
from tests.conftest import make_campaign, make_list

pytestmark = pytest.mark.django_db
RESULTS = reverse("admin:campaigns_messageresult_changelist")


@pytest.fixture
def sent(client, olga, people, alpha):
    client.force_login(olga)
    rows = [(f"@member_{i:03d}", {"first_name": f"M{i}"}) for i in range(12)]
    campaign = make_campaign("Rows", [make_list("twelve", rows), people], [alpha])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    campaign.results.filter(key="@member_001").update(
        status=ResultStatus.FAILED, error_code="USER_IS_BLOCKED"
    )
    make_campaign("Other", [people], [alpha])
    return campaign


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"campaign__id__exact": "CAMPAIGN"},
        {"campaign__id__exact": "CAMPAIGN", "status__exact": "failed"},
        {"campaign__id__exact": "CAMPAIGN", "o": "-2.5"},
        {"q": "@member_00"},
    ],
    ids=["all", "one campaign", "failed", "sorted", "searched"],
)
def test_the_table_holds_djangos_own_cells(client, sent, query):
    query = {k: str(sent.pk) if v == "CAMPAIGN" else v for k, v in query.items()}
    cl = client.get(RESULTS, query).context["cl"]

    ours = ["".join(row) for row in result_table(cl)["results"]]

    assert ours == ["".join(row) for row in results(cl)]
    assert len(ours) == len(cl.result_list) > 0


def test_each_rows_link_keeps_the_pages_filters(client, sent):
    page = client.get(RESULTS, {"campaign__id__exact": sent.pk}).content.decode()

    first = sent.results.order_by("id").first()
    change = reverse("admin:campaigns_messageresult_change", args=[first.pk])
    assert f'href="{change}?_changelist_filters=campaign__id__exact%3D{sent.pk}"' in page


def test_each_row_has_its_checkbox_and_its_error_code_explained(client, sent):
    page = client.get(RESULTS, {"campaign__id__exact": sent.pk}).content.decode()

    failed = sent.results.get(key="@member_001")
    assert f'<input type="checkbox" name="_selected_action" value="{failed.pk}" class="action-select"' in page
    assert '<code title="' in page and ">USER_IS_BLOCKED</code>" in page
