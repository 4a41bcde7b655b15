"""The results exports: CSV for machines (values exactly as stored) and XLSX for people (text cells,
no formula runs): columns, personalisation fields, the rendered message, streaming, the command."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import transaction
from django.http import StreamingHttpResponse

from campaigns.models import Campaign, MessageResult, Recipient, ResultStatus
from campaigns.reporting.exports import (
    BASE_COLUMNS,
    TITLES,
    campaign_csv_response,
    csv_value,
    results_csv_response,
)
from tests.conftest import make_campaign, make_list

pytestmark = pytest.mark.django_db


def read_csv(text: str) -> list[dict]:
    assert text.startswith("\ufeff"), "Excel needs the UTF-8 byte-order mark"
    return list(csv.DictReader(io.StringIO(text[1:])))


def download(campaign) -> str:
    response = campaign_csv_response(campaign)
    return b"".join(response.streaming_content).decode("utf-8")


@pytest.fixture
def campaign(people, alpha):
    """Three results written as the engine would: sent, failed, skipped, with hostile fields."""
    campaign = make_campaign("Export", [people], [alpha])
    sent_at = datetime(2025, 3, 1, 12, 0, 5, tzinfo=UTC)
    MessageResult.objects.bulk_create(
        [
            MessageResult(
                campaign=campaign, key="@alice_w", dedupe_key="@alice_w", kind="username",
                status=ResultStatus.SENT, session=alpha, telegram_message_id=1001, attempts=1,
                sent_at=sent_at, fields={"first_name": "Alice", "city": "Berlin"},
            ),
            MessageResult(
                campaign=campaign, key="+12125550123", dedupe_key="+12125550123", kind="phone",
                status=ResultStatus.FAILED, session=alpha, attempts=1, error_code="USER_PRIVACY_RESTRICTED",
                error_text="-the user's privacy settings forbid it",
                fields={"first_name": '=HYPERLINK("http://example.invalid","x")', "city": "New York"},
            ),
            MessageResult(
                campaign=campaign, key="", status=ResultStatus.SKIPPED, error_code="INVALID",
                error_text="username too short", fields={"first_name": "Иван Петров", "note": "\tTabbed"},
            ),
        ]
    )  # fmt: skip
    # Their list's columns in file order, as the import records them (jsonb keeps no key order).
    people.report = {"columns": ["first_name", "city", "note"]}
    people.save()
    alice, bob = people.recipients.order_by("row_number")[:2]
    invalid = Recipient.objects.create(
        recipient_list=people, row_number=9, raw_value="@ab", status=Recipient.Status.INVALID,
        error="username too short",
    )  # fmt: skip
    for result, recipient in zip(campaign.results.order_by("id"), [alice, bob, invalid], strict=True):
        result.recipient = recipient
        result.save()
    return campaign


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "=1+2"),
        ("+12125550123", "+12125550123"),
        ("@alice_w", "@alice_w"),
        ("-2", "-2"),
        ("\tcmd", "\tcmd"),
        ("Alice", "Alice"),
        ("", ""),
        (None, ""),
        (-5, -5),
        (1001, 1001),
        (datetime(2025, 3, 1, 12, 0, 5, tzinfo=UTC), "2025-03-01T12:00:05+00:00"),
    ],
)
def test_csv_cells_hold_the_values_exactly_as_stored(value, cell):
    assert csv_value(value) == cell


def xlsx_rows(response) -> tuple[list[list], object]:
    """The Results sheet's rows (values) and the workbook, from an XLSX download."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook["Results"]
    return [list(r) for r in sheet.iter_rows(values_only=True)], workbook


def test_the_export_has_the_documented_columns_then_the_personalisation_fields(campaign):
    header = next(csv.reader(io.StringIO(download(campaign)[1:])))

    assert header == BASE_COLUMNS + ["first_name", "city", "note"]
    assert header[:5] == ["key", "raw_value", "list", "row", "kind"]
    assert header[len(BASE_COLUMNS) - 1] == "message"
    after_send = ["read_at", "replied_at", "reply_count", "variant"]
    assert header[header.index("sent_at") + 1 : header.index("message")] == after_send


def read_and_replied(campaign):
    """Alice read it and replied twice; she got variant B."""
    campaign.results.filter(key="@alice_w").update(
        read_at=datetime(2025, 3, 1, 12, 1, tzinfo=UTC),
        replied_at=datetime(2025, 3, 1, 12, 7, 30, tzinfo=UTC),
        reply_count=2,
        variant="B",
    )


def test_each_row_carries_when_it_was_read_and_replied_to_how_often_and_its_variant(campaign):
    read_and_replied(campaign)
    rows = read_csv(download(campaign))

    alice, bob = rows[0], rows[1]
    facts = alice["read_at"], alice["replied_at"], alice["reply_count"], alice["variant"]
    assert facts == ("2025-03-01T12:01:00+00:00", "2025-03-01T12:07:30+00:00", "2", "B")
    assert (bob["read_at"], bob["replied_at"], bob["reply_count"], bob["variant"]) == ("", "", "0", "")


def test_the_xlsx_export_carries_the_read_and_reply_facts_too(campaign):
    read_and_replied(campaign)
    rows, _ = xlsx_rows(campaign_csv_response(campaign, "xlsx"))

    alice = dict(zip(rows[0], rows[1]))
    # Date-times in the active zone (UTC here: no user), named in the header (issue 19.11).
    assert (alice["Read (UTC)"], alice["Replied (UTC)"]) == (
        datetime(2025, 3, 1, 12, 1, 0),
        datetime(2025, 3, 1, 12, 7, 30),
    )
    assert (alice["Replies"], alice["Variant"]) == (2, "B")


def test_the_results_pages_export_carries_them_and_follows_the_read_filter(client, rita, campaign):
    from django.urls import reverse

    read_and_replied(campaign)
    client.force_login(rita)
    response = client.get(
        reverse("admin:campaigns_messageresult_export"), {"campaign__id__exact": campaign.pk, "read": "read"}
    )
    rows = read_csv(b"".join(response.streaming_content).decode("utf-8"))
    assert [(r["key"], r["read_at"], r["reply_count"], r["variant"]) for r in rows] == [
        ("@alice_w", "2025-03-01T12:01:00+00:00", "2", "B")
    ]


def test_a_skipped_row_without_a_key_says_what_was_written_in_which_list_and_row(campaign):
    rows = read_csv(download(campaign))

    skipped = rows[2]
    assert (skipped["key"], skipped["raw_value"], skipped["list"], skipped["row"]) == (
        "",
        "@ab",
        "people",
        "9",
    )
    assert (rows[0]["raw_value"], rows[0]["row"]) == ("@alice_user", "2")


def test_the_export_costs_the_same_queries_for_any_number_of_rows(
    people, alpha, django_assert_max_num_queries
):
    campaign = make_campaign("Many", [people], [alpha])
    other = make_list("other", [("@zed", {"first_name": "Zed"})])
    recipients = list(people.recipients.all()) + list(other.recipients.all())
    MessageResult.objects.bulk_create(
        MessageResult(campaign=campaign, key=r.key, dedupe_key=r.key, recipient=r, session=alpha)
        for r in recipients
    )

    with django_assert_max_num_queries(4):
        rows = read_csv(download(campaign))

    assert [r["list"] for r in rows] == ["people"] * 5 + ["other"]


def test_an_export_across_campaigns_starts_with_each_rows_campaign(campaign, people, alpha):
    other = make_campaign("Second", [people], [alpha])
    MessageResult.objects.create(campaign=other, key="@zed", status=ResultStatus.SENT)

    response = results_csv_response(MessageResult.objects.all(), "all.csv", with_campaign=True)
    text = b"".join(response.streaming_content).decode("utf-8")

    assert next(csv.reader(io.StringIO(text[1:])))[:2] == ["campaign", "key"]
    assert [r["campaign"] for r in read_csv(text)] == ["Export"] * 3 + ["Second"]


def test_each_result_is_one_row_with_its_outcome(campaign):
    rows = read_csv(download(campaign))

    assert [r["status"] for r in rows] == ["sent", "failed", "skipped"]
    sent = rows[0]
    outcome = sent["key"], sent["session"], sent["telegram_message_id"], sent["attempts"]
    assert outcome == ("@alice_w", "alpha", "1001", "1")
    assert sent["sent_at"] == "2025-03-01T12:00:05+00:00"
    assert rows[1]["error_code"] == "USER_PRIVACY_RESTRICTED"
    assert rows[2]["city"] == ""


def test_the_csv_keeps_every_value_exactly_as_stored_so_it_matches_back_into_a_crm(campaign):
    rows = read_csv(download(campaign))

    assert rows[1]["first_name"] == """=HYPERLINK("http://example.invalid","x")"""
    assert rows[1]["key"] == "+12125550123"
    assert rows[0]["key"] == "@alice_w"
    assert rows[1]["error_text"] == "-the user's privacy settings forbid it"
    assert rows[2]["note"] == "\tTabbed"
    assert rows[2]["first_name"] == "Иван Петров"


def test_each_row_carries_the_message_as_rendered_for_its_recipient(campaign):
    rows = read_csv(download(campaign))

    assert rows[0]["message"] == "Hi Alice!"
    assert rows[1]["message"] == """Hi =HYPERLINK("http://example.invalid","x")!"""
    assert rows[2]["message"] == ""  # invalid: no recipient, no message


def test_the_xlsx_export_types_every_text_cell_as_text_so_no_formula_runs_and_nothing_is_prefixed(campaign):
    response = campaign_csv_response(campaign, "xlsx")

    rows, workbook = xlsx_rows(response)
    assert response["Content-Disposition"] == f'attachment; filename="campaign-{campaign.pk}-export.xlsx"'
    times = ("created_at", "sending_at", "sent_at", "read_at", "replied_at")
    assert rows[0][: len(BASE_COLUMNS)] == [
        f"{TITLES[c]} (UTC)" if c in times else TITLES[c] for c in BASE_COLUMNS
    ]
    header = rows[0]
    bob = dict(zip(header, rows[2]))
    assert bob["Recipient"] == "+12125550123"
    assert bob["first_name"] == """=HYPERLINK("http://example.invalid","x")"""
    assert bob["Error"] == "-the user's privacy settings forbid it"
    assert dict(zip(header, rows[1]))["Telegram message id"] == "1001"  # an identifier: text
    sheet = workbook["Results"]
    formula_cell = sheet.cell(row=3, column=header.index("first_name") + 1)
    assert (formula_cell.data_type, formula_cell.number_format) == ("s", "@")
    assert "For people" in workbook["About"]["A1"].value + workbook["About"]["A2"].value


def test_the_download_streams_utf8_with_a_bom_as_an_attachment(campaign):
    response = campaign_csv_response(campaign)

    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="campaign-{campaign.pk}-export.csv"'
    assert b"".join(response.streaming_content).startswith(b"\xef\xbb\xbf")


def test_an_empty_campaign_exports_just_the_header(people, alpha):
    rows = read_csv(download(make_campaign("Nothing yet", [people], [alpha])))

    assert rows == []


def test_the_exportresults_command_writes_the_same_csv_to_a_file(campaign, tmp_path):
    target = tmp_path / "out.csv"

    call_command("exportresults", str(campaign.pk), "-o", str(target), stderr=io.StringIO())

    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    assert target.read_bytes().decode("utf-8") == download(campaign)


def test_the_exportresults_command_writes_to_standard_output(campaign):
    out = io.StringIO()

    call_command("exportresults", str(campaign.pk), stdout=out, stderr=io.StringIO())

    assert len(read_csv(out.getvalue())) == 3


def test_the_exportresults_command_writes_xlsx_for_people(campaign, tmp_path):
    from openpyxl import load_workbook

    target = tmp_path / "out.xlsx"

    call_command("exportresults", str(campaign.pk), "-o", str(target), stderr=io.StringIO())

    sheet = load_workbook(target)["Results"]
    assert [c.value for c in sheet[2]][:2] == ["@alice_w", "@alice_user"]


def test_the_exportresults_command_refuses_an_unknown_campaign(db):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="No campaign with id 999"):
        call_command("exportresults", "999")


def test_personalisation_fields_named_like_base_columns_are_kept_under_a_prefixed_header(people, alpha):
    campaign = make_campaign("Clash", [people], [alpha])
    fields = {"status": "VIP", "session": "spring", "key": "K-1", "field:status": "x", "first_name": "Alice"}
    MessageResult.objects.create(
        campaign=campaign, key="@alice_w", dedupe_key="@alice_w", kind="username",
        status=ResultStatus.SENT, session=alpha, fields=fields,
    )  # fmt: skip

    text = download(campaign)
    header = next(csv.reader(io.StringIO(text[1:])))
    row = read_csv(text)[0]

    # Sorted: PostgreSQL's jsonb does not keep the fields' key order.
    assert header[: len(BASE_COLUMNS)] == BASE_COLUMNS
    assert sorted(header[len(BASE_COLUMNS) :]) == [
        "field:field:status", "field:key", "field:session", "field:status", "first_name",
    ]  # fmt: skip
    assert (row["status"], row["session"], row["key"]) == ("sent", "alpha", "@alice_w")
    assert (row["field:status"], row["field:session"], row["field:key"]) == ("VIP", "spring", "K-1")
    assert (row["field:field:status"], row["first_name"]) == ("x", "Alice")


def test_times_are_written_as_python_writes_them_with_or_without_a_fraction_of_a_second(campaign):
    times = [
        datetime(2025, 3, 1, 12, 0, 5, tzinfo=UTC),
        datetime(2025, 3, 1, 12, 0, 5, 250000, tzinfo=UTC),
        datetime(2025, 3, 1, 12, 0, 5, 7, tzinfo=UTC),
    ]
    for result, when in zip(campaign.results.order_by("id"), times, strict=True):
        MessageResult.objects.filter(pk=result.pk).update(sent_at=when, sending_at=when, created_at=when)

    rows = read_csv(download(campaign))

    for row, when in zip(rows, times, strict=True):
        assert row["sent_at"] == row["sending_at"] == row["created_at"] == when.isoformat()
    assert [r["sent_at"] for r in rows][1:] == [
        "2025-03-01T12:00:05.250000+00:00",
        "2025-03-01T12:00:05.000007+00:00",
    ]


def test_personalisation_columns_come_in_order_of_first_appearance_on_every_database(people, alpha):
    from campaigns.reporting.exports import _first_keys, personalisation_columns

    campaign = make_campaign("Columns", [people], [alpha])
    for i, fields in enumerate([{"b": 1, "aa": 2}, {}, {"z": None, "b": 3, "c": "x"}, {"é": 1, "a": 2}]):
        MessageResult.objects.create(campaign=campaign, key=f"@u{i}", dedupe_key=f"@u{i}", fields=fields)
    results = campaign.results.all()

    # Each row's own keys as the database hands them back (jsonb orders them; SQLite keeps them).
    assert personalisation_columns(results) == list(dict.fromkeys(_first_keys(results)))
    assert set(personalisation_columns(results)) == {"b", "aa", "z", "c", "é", "a"}


def test_a_large_export_is_streamed_in_chunks_of_many_rows(people, alpha):
    campaign = make_campaign("Many", [people], [alpha])
    MessageResult.objects.bulk_create(
        MessageResult(
            campaign=campaign, key=f"@user{i}", dedupe_key=f"@user{i}", fields={"first_name": f"U{i}"}
        )
        for i in range(4500)
    )

    chunks = list(campaign_csv_response(campaign).streaming_content)

    assert 3 <= len(chunks) <= 6  # the BOM, the header with the first rows, then thousands of rows a chunk
    rows = read_csv(b"".join(chunks).decode("utf-8"))
    assert len(rows) == 4500
    assert rows[-1]["message"] == "Hi U4499!"


def test_a_message_that_cannot_be_rendered_says_so_in_every_row(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(message="Hi {% load evil %}")

    rows = read_csv(download(campaign))

    assert rows[0]["message"].startswith("(cannot be rendered: template error")
    assert rows[2]["message"] == ""


@pytest.mark.django_db(transaction=True)
def test_an_export_outside_a_transaction_reads_ahead_and_writes_the_same_rows(people, alpha):
    from campaigns.reporting import exports

    campaign = make_campaign("Committed", [people], [alpha])
    MessageResult.objects.bulk_create(
        MessageResult(
            campaign=campaign, key=f"@user{i}", dedupe_key=f"@user{i}", fields={"first_name": f"U{i}"}
        )
        for i in range(4500)
    )
    results = campaign.results.all()

    streamed = list(exports.result_rows(results))  # autocommit: PostgreSQL reads ahead in a thread
    with transaction.atomic():
        in_transaction = list(exports.result_rows(results))

    assert streamed == in_transaction
    assert len(streamed) == 4501
    assert streamed[-1][exports.BASE_COLUMNS.index("message")] == "Hi U4499!"


def test_read_ahead_hands_on_every_row_and_the_readers_error(db):
    from campaigns.reporting.readahead import read_ahead

    assert list(read_ahead(lambda: iter(range(10)), 3)) == list(range(10))

    def broken():
        yield 1
        raise ValueError("the query failed")

    with pytest.raises(ValueError, match="the query failed"):
        list(read_ahead(broken, 5))


def test_closing_a_read_ahead_early_stops_its_thread(db):
    import threading

    from campaigns.reporting.readahead import read_ahead

    rows = read_ahead(lambda: iter(range(1_000_000)), 10)
    assert next(rows) == 0
    rows.close()

    assert not [t for t in threading.enumerate() if t.name == "read-ahead"]
