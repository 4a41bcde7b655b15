"""Rows a list's consent or opt-out column refused are skipped at launch with their own error code,
``NO_CONSENT``, apart from malformed lines (``INVALID_RECIPIENT``): set in the launch's one
``INSERT … SELECT``, counted apart by the tally, offered by the results filter, written in the
exports, counted apart by the API (the launch summary, the lists, the results filter). Earlier
launches' rows are re-coded by a migration. On SQLite and PostgreSQL, as the suite runs."""

from __future__ import annotations

import csv
import importlib
import io
from pathlib import Path

import pytest
from django.apps import apps
from django.urls import reverse

from campaigns import engine
from campaigns.lists.importing import import_recipient_list
from campaigns.models import (
    CODE_DUPLICATE,
    CODE_INVALID,
    CODE_NO_CONSENT,
    MessageResult,
    RecipientList,
    ResultStatus,
    ResultTally,
)
from campaigns.reporting.errorcodes import PERMANENT, explain
from campaigns.reporting.exports import campaign_csv_response
from tests.conftest import make_campaign
from tests.test_exports import xlsx_rows

# ann and bob may be messaged; cat said no, dan unsubscribed, "@ab" is no username, and ann's
# second row is the same person again.
FILE = (
    b"Username,Consent,Unsubscribed\r\n"
    b"@ann_user,yes,no\r\n"
    b"@bob_user,yes,no\r\n"
    b"@cat_user,no,no\r\n"
    b"@dan_user,yes,yes\r\n"
    b"@ab,yes,no\r\n"
    b"@ann_user,yes,no\r\n"
)
# What each line's result is after the launch: (raw value, status, error code).
LAUNCHED = [
    ("@ann_user", ResultStatus.PENDING, ""),
    ("@bob_user", ResultStatus.PENDING, ""),
    ("@cat_user", ResultStatus.SKIPPED, CODE_NO_CONSENT),
    ("@dan_user", ResultStatus.SKIPPED, CODE_NO_CONSENT),
    ("@ab", ResultStatus.SKIPPED, CODE_INVALID),
    ("@ann_user", ResultStatus.SKIPPED, CODE_DUPLICATE),
]


@pytest.fixture
def newsletter(db) -> RecipientList:
    recipient_list = RecipientList.objects.create(name="newsletter", consent_basis="opt_in")
    import_recipient_list(recipient_list, io.BytesIO(FILE))
    recipient_list.refresh_from_db()
    assert (recipient_list.invalid_count, recipient_list.no_consent_count()) == (3, 2)
    return recipient_list


@pytest.fixture
def launched(newsletter, alpha):
    campaign = make_campaign("Newsletter", [newsletter], [alpha])
    engine.launch(campaign, enqueue=False)
    return campaign


def test_each_line_refused_for_want_of_consent_is_skipped_as_no_consent_and_a_malformed_one_as_invalid(
    launched,
):
    rows = launched.results.order_by("recipient__row_number")

    found = list(rows.values_list("recipient__raw_value", "status", "error_code"))
    texts = dict(rows.filter(status=ResultStatus.SKIPPED).values_list("recipient__raw_value", "error_text"))

    assert found == LAUNCHED
    assert texts["@cat_user"] == "no consent (column Consent says 'no')"  # the reason stays the import's
    assert texts["@dan_user"].startswith("opted out (column Unsubscribed says 'yes')")
    assert texts["@ab"].startswith("username too short")


def test_the_tally_counts_them_apart(launched):
    skipped = ResultTally.objects.errors(launched.pk, (ResultStatus.SKIPPED,))

    assert skipped == {CODE_NO_CONSENT: 2, CODE_DUPLICATE: 1, CODE_INVALID: 1}
    assert launched.counts()[ResultStatus.SKIPPED] == 4  # the status is the same: skipped


def test_the_results_filter_offers_each_code_with_its_count_and_applies_it(client, rita, launched):
    client.force_login(rita)
    url = reverse("admin:campaigns_messageresult_changelist")

    page = client.get(url, {"campaign__id__exact": launched.pk})
    refused = client.get(url, {"campaign__id__exact": launched.pk, "error_code": CODE_NO_CONSENT})

    choices = [
        choice["display"]
        for spec in page.context["cl"].filter_specs
        if getattr(spec, "parameter_name", "") == "error_code"
        for choice in spec.choices(page.context["cl"])
    ]
    assert "NO_CONSENT (2)" in choices and "INVALID_RECIPIENT (1)" in choices
    shown = sorted(r.recipient.raw_value for r in refused.context["cl"].result_list)
    assert shown == ["@cat_user", "@dan_user"]


def read_csv(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def test_the_exports_write_the_code_of_each_row(client, rita, launched):
    client.force_login(rita)

    whole = read_csv(campaign_csv_response(launched))  # PostgreSQL: the database's COPY
    filtered = read_csv(
        client.get(
            reverse("admin:campaigns_messageresult_export"),
            {"campaign__id__exact": launched.pk, "error_code": CODE_NO_CONSENT},
        )
    )
    sheet, _ = xlsx_rows(campaign_csv_response(launched, "xlsx"))

    assert [(r["raw_value"], r["error_code"]) for r in whole] == [(raw, code) for raw, _, code in LAUNCHED]
    assert [(r["raw_value"], r["error_code"]) for r in filtered] == [
        ("@cat_user", CODE_NO_CONSENT),
        ("@dan_user", CODE_NO_CONSENT),
    ]
    codes = [dict(zip(sheet[0], row))["Error code"] for row in sheet[1:]]
    assert codes == [code or None for _, _, code in LAUNCHED]


def test_the_api_counts_them_apart_before_and_after_the_launch(mark, newsletter, alpha, api_for):
    api = api_for(mark)
    campaign = make_campaign("Newsletter", [newsletter], [alpha])

    summary = api.get(f"/api/v1/campaigns/{campaign.pk}/launch/").json()
    listed = api.get(f"/api/v1/lists/{newsletter.pk}/").json()
    engine.launch(campaign, enqueue=False)
    refused = api.get("/api/v1/results/", {"campaign": campaign.pk, "error_code": CODE_NO_CONSENT}).json()
    exported = read_csv(
        api.get(
            "/api/v1/results/export/",
            {"campaign": campaign.pk, "error_code": CODE_INVALID},
            HTTP_ACCEPT="text/csv",
        )
    )

    counts = summary["counts"]
    assert (counts["to_send"], counts["invalid"], counts["no_consent"], counts["duplicate"]) == (2, 1, 2, 1)
    assert (listed["invalid_count"], listed["no_consent_count"]) == (3, 2)
    reasons = sorted(r["error_text"].split(" (")[0] for r in refused["results"])  # no key: invalid lines
    assert reasons == ["no consent", "opted out"]
    assert [r["raw_value"] for r in exported] == ["@ab"]


def test_the_lists_page_of_the_api_counts_each_lists_refusals_in_one_query(
    mark, newsletter, api_for, django_assert_max_num_queries
):
    for n in range(3):
        RecipientList.objects.create(name=f"empty {n}", consent_basis="opt_in")
    api = api_for(mark)

    with django_assert_max_num_queries(8):  # the token, its user and permissions, one page
        page = api.get("/api/v1/lists/").json()["results"]

    assert {r["name"]: r["no_consent_count"] for r in page}["newsletter"] == 2


def test_no_consent_is_explained_as_permanent_for_staff():
    explained = explain(CODE_NO_CONSENT)

    assert explained.retry == PERMANENT and "consent or opt-out column" in explained.explanation


def test_results_an_earlier_launch_marked_invalid_for_want_of_consent_are_recoded(launched):
    # As an earlier launch wrote them: every invalid line INVALID_RECIPIENT.
    MessageResult.objects.filter(campaign=launched, error_code=CODE_NO_CONSENT).update(
        error_code=CODE_INVALID
    )
    migration = importlib.import_module("campaigns.migrations.0019_no_consent_error_code")

    migration.forwards(apps, None)

    found = list(launched.results.order_by("recipient__row_number").values_list("error_code", flat=True))
    assert found == [code for _, _, code in LAUNCHED]
    assert ResultTally.objects.errors(launched.pk, (ResultStatus.SKIPPED,))[CODE_NO_CONSENT] == 2


def test_the_design_documents_every_code_the_engine_sets_itself():
    from campaigns import models
    from campaigns.people.erasure import CODE_ERASED

    design = (Path(__file__).resolve().parent.parent / "docs" / "design.md").read_text(encoding="utf-8")
    own = [getattr(models, name) for name in models.__all__ if name.startswith("CODE_")] + [CODE_ERASED]

    assert [code for code in own if f"| `{code}` |" not in design] == []
