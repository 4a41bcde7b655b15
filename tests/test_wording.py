"""Words that say what is true (issue 19 item 10): sizes as people write them, a preview that says
when it has no recipient, the winner page asking for a variant, invalid lines counted by reason, a
phone without a country code on a page with no list, the result page showing the message as the
recipient saw it, the time-zone picker offering canonical names, "Preview as" finding a national
phone, and the message's help naming the chosen lists' columns."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns import engine
from campaigns.admin.display import file_size
from campaigns.models import ParseMode, Recipient
from campaigns.reporting.summary import launch_summary
from campaigns.views import TimeZoneForm
from tests.conftest import make_campaign, make_list

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client, mark):
    client.force_login(mark)
    return client


def test_sizes_read_as_people_write_them():
    assert file_size(100 * 1024 * 1024) == "100 MiB"
    assert file_size(3_565_158) == "3.4 MiB"
    assert file_size(2048) == "2 KiB"
    assert file_size(193) == "193 bytes"


def test_the_upload_form_says_its_limit_without_a_decimal_zero(client):
    page = client.get(reverse("admin:campaigns_recipientlist_add")).content.decode()
    assert "At most 100 MiB." in page and "100.0 MiB" not in page


def test_a_preview_without_a_recipient_says_so_instead_of_naming_no_recipient(client, alpha):
    page = client.get(reverse("admin:campaigns_campaign_add")).content.decode()
    assert "As no recipient" not in page
    assert "No recipient to preview as" in page

    said = client.post(reverse("admin:campaigns_campaign_composer_preview"), {"message": "Hi"}).json()
    assert said["who"].startswith("No recipient to preview as")


def test_the_winner_page_asks_for_a_variant_when_none_was_picked(client, alpha):
    crowd = make_list("crowd", [(f"@member_{i:04d}", {}) for i in range(8)])
    campaign = make_campaign(
        "Spring teaser A/B", [crowd], [alpha], variants=["B"], split={"A": 25, "B": 25, "hold": 50}
    )
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)

    page = client.post(reverse("admin:campaigns_campaign_winner", args=[campaign.pk]), {}).content.decode()

    assert "has no variant ." not in page and "has no variant" not in page
    assert "Choose one of the variants" in page


def test_the_launch_summary_counts_invalid_lines_by_reason(client, alpha):
    rows = make_list("mixed", [("@anna_user", {})])
    for n, (raw, error) in enumerate(
        [("0170", "not a phone number: too short")] * 3
        + [("@ab", "username too short: 2 characters, Telegram needs 5–32")],
        start=3,
    ):
        Recipient.objects.create(
            recipient_list=rows, row_number=n, raw_value=raw, status=Recipient.Status.INVALID, error=error
        )
    campaign = make_campaign("Mixed", [rows], [alpha])

    summary = launch_summary(campaign)
    page = client.get(reverse("admin:campaigns_campaign_launch", args=[campaign.pk])).content.decode()

    assert summary.invalid_reasons == [("not a phone number", 3), ("username too short", 1)]
    assert "4 invalid lines (3 not a phone number, 1 username too short)" in page
    assert "(no username, phone or user id)" not in page


def test_a_phone_without_a_country_code_on_a_page_with_no_list_asks_for_the_country_code(
    client, people, alpha
):
    campaign = make_campaign("Test me", [people], [alpha])

    page = client.post(
        reverse("admin:campaigns_campaign_test_send", args=[campaign.pk]),
        {"session": alpha.pk, "to": "0170 1234567"},
    ).content.decode()

    assert "default region" not in page
    assert "write it with + and its country code" in page


def test_the_result_page_shows_the_message_as_the_recipient_saw_it_and_folds_the_random_id(
    client, olga, people, alpha
):
    client.force_login(olga)
    campaign = make_campaign(
        "Winter",
        [people],
        [alpha],
        message="**Winter sale** for {{ first_name }}",
        parse_mode=ParseMode.MARKDOWN,
    )
    engine.launch(campaign, enqueue=False)
    row = campaign.results.get(key="@carol_user")

    page = client.get(reverse("admin:campaigns_messageresult_change", args=[row.pk])).content.decode()

    assert "<b>Winter sale</b> for Carol" in page or "<strong>Winter sale</strong> for Carol" in page
    assert "**Winter sale**" not in page.split("<details")[0]
    assert "Random id:" not in page
    assert "<details" in page and str(row.random_id) in page.split("<details", 1)[1]


def test_the_time_zone_picker_offers_canonical_names_only():
    offered = {name for name, _ in TimeZoneForm().fields["time_zone"].choices}
    assert {"Europe/Berlin", "Africa/Asmara", "America/New_York", "UTC"} <= offered
    assert not {"Africa/Asmera", "US/Eastern", "Europe/Kiev", "GB"} & offered
    assert len(offered) < 450


def test_preview_as_finds_a_national_phone_as_the_import_reads_it(client, alpha):
    germans = make_list("germans", [("+491701234567", {"first_name": "Jana"})], default_region="DE")
    url = reverse("admin:campaigns_campaign_composer_recipients")

    found = client.get(url, {"q": "0170 1234567", "lists": germans.pk, "message": "Hi"}).json()["recipients"]

    assert [r["label"] for r in found] == ["row 2 of “germans”: +491701234567"]


def test_the_message_help_names_the_chosen_lists_columns_not_a_fixed_city(client, people, alpha):
    campaign = make_campaign("Columns", [people], [alpha])
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    assert "{{ city }}" not in page
    assert "{{ first_name }}" in page  # the list's own column, under the preview
