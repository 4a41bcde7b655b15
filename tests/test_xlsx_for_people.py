"""The XLSX export for people (issue 19.11): times in the exporting user's zone as real Excel
date-times (the zone named in the header), numbers as numbers where a column holds only numbers
(identifiers — phones, user ids, message ids, keys, codes with leading zeros — stay text), a
frozen header row, a filter, column widths that fit; skipped rows alike (none carries a message:
it was never sent). The CSV for machines stays byte for byte as it was."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.urls import reverse

from campaigns.models import MessageResult, ResultStatus, StaffPreference
from campaigns.models.results import CODE_DUPLICATE, CODE_INVALID
from campaigns.reporting.exports import campaign_csv_response
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db

GOLDEN_CSV = Path(__file__).resolve().parent / "data" / "exports" / "shop.csv"
SENT_AT = datetime(2026, 12, 6, 12, 7, 12, 681570, tzinfo=UTC)  # the 12:07:12.681570 UTC
CREATED_AT = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)


def fields(name, spent, visits, phone, customer, user_id):
    return {
        "first_name": name,
        "Total Spent": spent,
        "visits": visits,
        "phone": phone,
        "customer_id": customer,
        "tg_user_id": user_id,
    }


@pytest.fixture
def shop(people, alpha):
    """Four results of a shop's campaign: sent, failed, a skipped invalid row, a skipped duplicate."""
    campaign = make_campaign("Winter sale", [people], [alpha], message="Hi {{ first_name }}, -20% today!")
    rows = [
        MessageResult(
            campaign=campaign, key="@alice_w", dedupe_key="@alice_w", kind="username", status=ResultStatus.SENT,
            session=alpha, telegram_message_id=304332815, attempts=1, sent_at=SENT_AT,
            fields=fields("Alice", "1250.50", "3", "+4915112345678", "000123", "5550001"),
        ),
        MessageResult(
            campaign=campaign, key="+12125550123", dedupe_key="+12125550123", kind="phone",
            status=ResultStatus.FAILED, session=alpha, attempts=2, error_code="USER_PRIVACY_RESTRICTED",
            fields=fields("Bob", "7", "11", "+12125550123", "000124", "5550002"),
        ),
        MessageResult(
            campaign=campaign, key="", status=ResultStatus.SKIPPED, error_code=CODE_INVALID,
            error_text="no username, phone or user id", fields=fields("Ivan", "", "1", "", "000125", ""),
        ),
        MessageResult(
            campaign=campaign, key="@alice_w", kind="username", status=ResultStatus.SKIPPED,
            error_code=CODE_DUPLICATE, fields=fields("Alice", "1250.50", "3", "+4915112345678", "000123", "5550001"),
        ),
    ]  # fmt: skip
    alice, bob = people.recipients.order_by("row_number")[:2]
    for row, recipient in zip(rows, [alice, bob, None, alice], strict=True):
        row.recipient = recipient
    MessageResult.objects.bulk_create(rows)
    MessageResult.objects.filter(campaign=campaign).update(created_at=CREATED_AT)
    # The list's columns in file order, as the import records them (jsonb keeps no key order).
    people.report = {"columns": list(rows[0].fields)}
    people.save()
    return campaign


@pytest.fixture
def berlin(client, mark):
    StaffPreference.objects.create(user=mark, time_zone="Europe/Berlin")
    client.force_login(mark)
    return client


def workbook_of(response):
    from openpyxl import load_workbook

    return load_workbook(io.BytesIO(b"".join(response.streaming_content)))


def export(client, campaign):
    return client.get(reverse("campaigns:export", args=[campaign.pk]), {"format": "xlsx"})


def column(sheet, header: str) -> list:
    names = [c.value for c in sheet[1]]
    return [row[names.index(header)] for row in sheet.iter_rows(min_row=2)]


def test_times_are_date_times_in_the_exporting_users_zone_named_in_the_header(berlin, shop):
    sheet = workbook_of(export(berlin, shop))["Results"]

    headers = [c.value for c in sheet[1]]
    assert "Sent (Europe/Berlin)" in headers and "Sent" not in headers
    sent = column(sheet, "Sent (Europe/Berlin)")[0]
    assert sent.is_date and "h" in sent.number_format
    assert sent.value == datetime(2026, 12, 6, 13, 7, 12)  # CET, to the second
    assert column(sheet, "Sent (Europe/Berlin)")[1].value is None


def test_numbers_are_numbers_and_identifiers_stay_text(berlin, shop):
    sheet = workbook_of(export(berlin, shop))["Results"]

    spent = column(sheet, "Total Spent")
    assert [c.value for c in spent] == [1250.5, 7, None, 1250.5]
    assert spent[0].data_type == "n" and spent[0].number_format == "0.00"
    assert [c.value for c in column(sheet, "visits")] == [3, 11, 1, 3]
    assert [c.value for c in column(sheet, "Attempts")][:2] == [1, 2]
    for header, first in [
        ("phone", "+4915112345678"),
        ("customer_id", "000123"),
        ("tg_user_id", "5550001"),
        ("Telegram message id", "304332815"),
        ("Recipient", "@alice_w"),
    ]:
        cell = column(sheet, header)[0]
        assert (cell.value, cell.data_type) == (first, "s"), header


def test_the_header_is_frozen_filtered_and_the_columns_fit(berlin, shop):
    sheet = workbook_of(export(berlin, shop))["Results"]

    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(row=1, column=sheet.max_column).column_letter}5"
    widths = {c.value: sheet.column_dimensions[c.column_letter].width for c in sheet[1]}
    assert all(8 <= w <= 60 for w in widths.values()), widths
    assert widths["Message"] > widths["Attempts"]
    assert widths["Sent (Europe/Berlin)"] >= len("2026-12-06 13:07:12")


def test_skipped_rows_carry_no_message_whether_invalid_or_duplicate(berlin, shop):
    sheet = workbook_of(export(berlin, shop))["Results"]

    messages = [c.value for c in column(sheet, "Message")]
    assert messages[:2] == ["Hi Alice, -20% today!", "Hi Bob, -20% today!"]
    assert messages[2:] == [None, None]


def test_the_csv_for_machines_is_unchanged_byte_for_byte(shop):
    body = b"".join(campaign_csv_response(shop).streaming_content)

    assert body == GOLDEN_CSV.read_bytes()


def test_the_workbook_titles_its_columns_for_people_not_with_field_names(berlin, shop):
    headers = [c.value for c in workbook_of(export(berlin, shop))["Results"][1]]

    assert headers[:4] == ["Recipient", "As written in the list", "List", "Row in the list"]
    assert {"Created (Europe/Berlin)", "Sent (Europe/Berlin)", "Telegram message id", "Status"} <= set(
        headers
    )
    machine = {"raw_value", "telegram_message_id", "created_at (Europe/Berlin)", "error_code", "reply_count"}
    assert not machine & set(headers)
    # The list's own columns keep the names staff gave them in the file.
    assert headers[-6:] == ["first_name", "Total Spent", "visits", "phone", "customer_id", "tg_user_id"]


def test_a_field_named_like_a_title_keeps_its_own_column(berlin, people, alpha):
    campaign = make_campaign("Clash", [people], [alpha])
    MessageResult.objects.create(
        campaign=campaign, key="@a", kind="username", status=ResultStatus.SENT, fields={"Status": "VIP"}
    )

    headers = [c.value for c in workbook_of(export(berlin, campaign))["Results"][1]]

    assert headers.count("Status") == 1 and "Status (list column)" in headers


def test_the_workbook_names_statuses_and_kinds_as_the_pages_do(berlin, shop):
    shop.results.filter(status=ResultStatus.FAILED).update(status=ResultStatus.PENDING)

    sheet = workbook_of(export(berlin, shop))["Results"]

    assert [c.value for c in column(sheet, "Status")] == ["Sent", "Waiting", "Skipped", "Skipped"]
    assert [c.value for c in column(sheet, "Kind")] == ["Username", "Phone", None, "Username"]
    csv_text = b"".join(campaign_csv_response(shop).streaming_content).decode("utf-8-sig")
    assert ",pending," in csv_text and "Waiting" not in csv_text  # the CSV keeps the stored values


def test_rows_sent_to_the_hold_out_after_the_winner_was_chosen_are_marked_in_the_workbook(berlin, alpha):
    from campaigns import engine
    from campaigns.engine.control import choose_winner
    from tests.conftest import make_list

    crowd = make_list("crowd", [(f"@member_{i:04d}", {"first_name": f"M{i}"}) for i in range(20)])
    split = {"A": 20, "B": 20, "hold": 60}
    campaign = make_campaign("hold", [crowd], [alpha], variants=["B text"], split=split)
    engine.launch(campaign, enqueue=False)
    held = set(campaign.results.filter(status=ResultStatus.HELD).values_list("key", flat=True))
    choose_winner(campaign, "A", enqueue=False)

    sheet = workbook_of(export(berlin, campaign))["Results"]

    shown = {
        row[0].value: row[[c.value for c in sheet[1]].index("Variant")].value
        for row in sheet.iter_rows(min_row=2)
    }
    assert held and {shown[key] for key in held} == {"A (winner, to the hold-out)"}
    assert {value for key, value in shown.items() if key not in held} == {"A", "B"}
    # The CSV for machines keeps the variant as stored: the winner's label.
    csv_text = b"".join(campaign_csv_response(campaign).streaming_content).decode("utf-8-sig")
    assert "hold-out" not in csv_text
