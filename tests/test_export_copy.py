"""The whole-campaign CSV export from PostgreSQL's ``COPY``: the same bytes as the Python formatter
(kept as the SQLite path and the reference) on data built to break CSV — quotes, line breaks,
commas, unicode, empty and missing values, formula-looking cells, header clashes, A/B wordings
in each parse mode — and the Python path whenever SQL could not make those bytes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.models import MessageResult, ResultStatus
from campaigns.reporting import exports
from campaigns.reporting.copy_stream import CrLf
from campaigns.reporting.csv_sql import campaign_copy_sql
from tests.conftest import make_campaign, make_list, make_session

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="COPY is PostgreSQL's")

HOSTILE = [
    'He said "hi", then left',
    "two\nlines",
    "windows\r\nline",
    "=1+2",
    "+12025550182",
    "-minus",
    "@at",
    "Иван Петров 🎉",
    "",
    "  spaced  ",
    "tab\there",
    "\\.",
    "**bold** __it__ ~~s~~ `code` [a](b)",
    "<b>&'\"</b>",
    "***",
    "x" * 20000,
]


def reference(campaign) -> bytes:
    """The export as the Python formatter writes it."""
    return b"".join(exports._python_csv_bytes(exports.result_rows(campaign.results.all()), counted=False))


def copied(campaign) -> bytes:
    assert campaign_copy_sql(campaign, [{"columns": ["First name", "city", "status"]}]) is not None, (
        "the campaign took the Python path: the comparison would prove nothing"
    )
    return b"".join(exports.campaign_csv_bytes(campaign))


def hostile_campaign(parse_mode: str, *, other_keys: bool = True, **overrides):
    """A campaign of every HOSTILE value in every column a recipient's data reaches, with rows in
    each state the export writes differently."""
    session = make_session('Sess, "one"')
    rows = [
        (f"@user_{i:02d}", {"First name": v, "city": HOSTILE[-i], "status": v}) for i, v in enumerate(HOSTILE)
    ]
    people = make_list('List "A", hostile', rows)
    fields = dict(
        message="Hi {{ first_name|default:'there' }} from {{ city }}{{ missing }}!",
        variants=["**{{ status }}** {{ first_name }}", '<i>{{ city|default:"&" }}</i>'],
        parse_mode=parse_mode,
    )
    campaign = make_campaign("Hostile", [people], [session], **(fields | overrides))
    times = [
        datetime(2025, 3, 1, 12, 0, 5, tzinfo=UTC),
        datetime(2025, 3, 1, 12, 0, 5, 250, tzinfo=UTC),
        None,
    ]
    statuses = [ResultStatus.SENT, ResultStatus.FAILED, ResultStatus.SKIPPED, ResultStatus.HELD]
    results = []
    for i, recipient in enumerate(people.recipients.order_by("row_number")):
        results.append(
            MessageResult(
                campaign=campaign,
                recipient=recipient,
                key="" if i % 7 == 3 else recipient.key,
                dedupe_key=recipient.key,
                kind=recipient.kind,
                status=statuses[i % 4],
                session=session if i % 3 else None,
                telegram_message_id=1000 + i if i % 2 else None,
                error_code="USER_PRIVACY_RESTRICTED" if i % 4 == 1 else "",
                error_text=HOSTILE[i] if i % 4 == 1 else "",
                attempts=i % 3,
                sent_at=times[i % 3],
                read_at=times[(i + 1) % 3],
                variant=["", "A", "B", "C", "D"][i % 5],
                fields=recipient.fields
                | ({"extra": True, "n": 42, "none": None} if i % 2 and other_keys else {}),
            )
        )
    MessageResult.objects.bulk_create(results)
    MessageResult.objects.create(campaign=campaign, key="", dedupe_key=None, status=ResultStatus.SKIPPED)
    return campaign


@postgres_only
@pytest.mark.parametrize("parse_mode", ["plain", "html", "markdown"])
def test_the_copy_export_writes_the_same_bytes_as_the_python_formatter(parse_mode):
    campaign = hostile_campaign(parse_mode)
    with timezone.override("Asia/Kolkata"):  # the CSV keeps UTC whatever the staff's zone
        expected, got = reference(campaign), copied(campaign)

    assert got == expected
    assert got.startswith(b"\xef\xbb\xbfkey,raw_value,list,")
    assert b"\r\n" in got and b'"two\nlines"' in got  # row ends CRLF, a value's own line break kept


@postgres_only
def test_rows_holding_only_their_lists_columns_and_a_list_without_rows_copy_alike():
    campaign = hostile_campaign("html", other_keys=False)
    unused = make_list("unused", [("@nobody_here", {"zzz": "never exported"})])
    campaign.lists.add(unused)  # none of the campaign's rows came from it: not its columns either

    assert b"zzz" not in reference(campaign)
    assert copied(campaign) == reference(campaign)


@postgres_only
@pytest.mark.parametrize("message", ['Same for all, "quoted" {% if 1 %}yes{% endif %}', "Broken {% if %}"])
def test_a_message_that_reads_no_field_and_one_with_a_syntax_error_copy_alike(message):
    campaign = hostile_campaign("plain", message=message, variants=[])
    assert copied(campaign) == reference(campaign)


@postgres_only
@pytest.mark.parametrize(
    "fields, message",
    [
        ({"First name": 1.5e20}, "Hi {{ first_name }}"),  # Python writes 1.5e+20, PostgreSQL the digits
        ({"First name": {"nested": 1}}, "Hi {{ first_name }}"),
        ({"First name": 0.00001}, "Hi {{ first_name }}"),  # 1e-05 in Python
        ({"First name": 0}, "Hi {{ first_name }}"),  # it may have been -0.0
        ({"First name": "Ann"}, "Hi {{ first_name|upper }}"),  # a filter SQL does not render
    ],
)
def test_what_sql_cannot_write_alike_takes_the_python_path(fields, message):
    campaign = make_campaign("Odd", [], [make_session("s")], message=message)
    MessageResult.objects.create(campaign=campaign, key="@ann_user", dedupe_key="@ann_user", fields=fields)

    assert campaign_copy_sql(campaign, []) is None  # keys outside the lists' columns: every value read
    assert campaign_copy_sql(campaign, [{"columns": list(fields)}]) is None  # the columns' values read
    assert b"".join(exports.campaign_csv_bytes(campaign)) == reference(campaign)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_copy_streams_from_a_thread_and_stops_when_the_reader_does():
    campaign = hostile_campaign("html")
    MessageResult.objects.bulk_create(
        MessageResult(campaign=campaign, key=f"@bulk_{i}", dedupe_key=f"@bulk_{i}", fields={"city": "Köln"})
        for i in range(30000)
    )
    assert not connection.in_atomic_block

    assert copied(campaign) == reference(campaign)
    chunks = exports.campaign_csv_bytes(campaign)
    next(chunks), next(chunks)
    chunks.close()  # the pipe breaks, the COPY ends, the thread is joined
    assert b"".join(exports.campaign_csv_bytes(campaign)) == reference(campaign)


def test_row_ends_become_crlf_and_line_breaks_inside_quotes_stay_across_chunks():
    text = b'a,"x\ny ""q""\n",b\nc,"\n"\n'
    whole = CrLf()(text)
    assert whole == b'a,"x\ny ""q""\n",b\r\nc,"\n"\r\n'
    for size in (1, 2, 3, 5, 7):
        crlf = CrLf()
        assert b"".join(crlf(text[i : i + size]) for i in range(0, len(text), size)) == whole


def test_the_sqlite_export_is_the_python_formatter(people, alpha):
    campaign = make_campaign("Plain", [people], [alpha])
    MessageResult.objects.create(
        campaign=campaign, key="@a_user", dedupe_key="@a_user", fields={"first_name": "A"}
    )
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite path")
    assert b"".join(exports.campaign_csv_bytes(campaign)) == reference(campaign)


@pytest.mark.parametrize(
    "stored",
    [
        "2025-03-01 12:00:05",  # as Django writes a time without a fraction
        "2025-03-01 12:00:05.250000",
        "2025-03-01 12:00:05.000000",  # written by raw SQL: isoformat drops a zero fraction
        "2025-03-01 12:00:05.123",  # SQLite's STRFTIME('%f'): milliseconds
        "2025-03-01 12:00:05+00:00",  # Python's sqlite3 adapter of an aware datetime
        "2025-03-01 12:00:05.5+02:00",
    ],
)
def test_the_sqlite_export_reads_times_as_text_and_writes_what_djangos_reader_gives(people, alpha, stored):
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL formats times in SQL (_IsoText)")
    campaign = make_campaign("Times", [people], [alpha])
    result = MessageResult.objects.create(campaign=campaign, key="@a_user", dedupe_key="@a_user")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {MessageResult._meta.db_table} SET sent_at = %s WHERE id = %s", [stored, result.pk]
        )
    expected = MessageResult.objects.get(pk=result.pk).sent_at.isoformat()

    header, row = list(exports.result_rows(campaign.results.all()))

    assert row[header.index("sent_at")] == expected
