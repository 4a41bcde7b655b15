"""The result tally (database triggers) always equals a real count of the rows, through every
kind of transition the engine and staff make."""

from __future__ import annotations

import pytest
from django.db.models import Count

from campaigns import engine
from campaigns.models import MessageResult, ResultStatus, ResultTally

from .conftest import make_campaign, make_list, make_session

pytestmark = pytest.mark.django_db


def truth(campaign) -> dict[tuple[int | None, str], int]:
    rows = campaign.results.values_list("session_id", "status").annotate(n=Count("id")).order_by()
    return {(sid, status): n for sid, status, n in rows}


def error_truth(campaign) -> dict[str, int]:
    rows = campaign.results.filter(status="failed").exclude(error_code="").values_list("error_code")
    return dict(rows.annotate(n=Count("id")).order_by())


def assert_tally_is_true(campaign):
    assert ResultTally.objects.for_campaign(campaign.pk) == truth(campaign)
    assert ResultTally.objects.errors(campaign.pk) == error_truth(campaign)
    ResultTally.objects.compact(campaign.pk)
    assert ResultTally.objects.for_campaign(campaign.pk) == truth(campaign)
    assert ResultTally.objects.errors(campaign.pk) == error_truth(campaign)


def test_the_tally_follows_launch_sends_failures_retries_cancel_and_deletion():
    mixed = make_session(
        "mixed", simulator_config={"recipient_error_rate": 0.3, "transient_rate": 0.2, "seed": 5}
    )
    steady = make_session("steady")
    rows = [(f"@member_{i:03d}", {}) for i in range(40)] + [("@member_001", {})]  # one duplicate
    campaign = make_campaign("tally", [make_list("forty", rows)], [mixed, steady], max_attempts=2)

    engine.launch(campaign, enqueue=False)
    assert_tally_is_true(campaign)
    assert campaign.counts()["pending"] == 40 and campaign.counts()["skipped"] == 1

    engine.run_until_done(campaign, max_seconds=30)
    assert_tally_is_true(campaign)
    assert campaign.counts()["failed"] > 0

    engine.retry_failed(campaign, enqueue=False)
    assert_tally_is_true(campaign)
    engine.cancel(campaign)
    assert_tally_is_true(campaign)
    counts = campaign.counts()
    assert sum(n for s, n in counts.items() if s != "total") == counts["total"] == 41

    campaign.results.filter(status=ResultStatus.CANCELLED).delete()
    assert_tally_is_true(campaign)


def test_the_tally_follows_unknown_rows_and_their_resend():
    gone = make_session("gone")
    campaign = make_campaign("unknown", [make_list("five", [(f"@p_{i:03d}", {}) for i in range(5)])], [gone])
    engine.launch(campaign, enqueue=False)
    MessageResult.objects.filter(campaign=campaign).update(
        status=ResultStatus.SENDING, session=gone, in_doubt=True
    )
    gone.status = "disabled"
    gone.save()
    engine.recover_stranded_rows(campaign)
    assert campaign.counts()["unknown"] == 5
    assert_tally_is_true(campaign)
    engine.pause(campaign)
    engine.resend_unknown(campaign, enqueue=False)
    assert_tally_is_true(campaign)


def test_the_progress_block_and_campaign_list_never_count_the_results(people, alpha, client, olga):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from campaigns.reporting.progress import progress_snapshot

    campaign = make_campaign("counted", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    running = make_campaign("running", [people], [alpha])
    engine.launch(running, enqueue=False)
    client.force_login(olga)
    results_table = MessageResult._meta.db_table

    with CaptureQueriesContext(connection) as progress:
        snapshot = progress_snapshot(campaign)
        running_snapshot = progress_snapshot(running)  # its ETA and why it waits too
    with CaptureQueriesContext(connection) as pages:
        client.get(reverse("admin:campaigns_campaign_changelist"))
        client.get(reverse("campaigns:progress", args=[running.pk]))
        charts = client.get(reverse("campaigns:charts", args=[campaign.pk])).json()

    assert snapshot["counts"]["sent"] == 5 and snapshot["metrics"]["requests"] == 5
    assert running_snapshot["pace"]["eta"] and charts["per_session"]["sent"] == [5]
    for query in progress.captured_queries + pages.captured_queries:
        assert f'FROM "{results_table}"' not in query["sql"], query["sql"]
        assert "campaigns_deliveryattempt" not in query["sql"], query["sql"]


def test_the_error_tally_follows_failures_by_code(people):
    scripted = make_session(
        "scripted",
        simulator_config={"script": {"@alice_user": ["USER_IS_BLOCKED"], "@bob_user": ["PEER_ID_INVALID"]}},
    )
    campaign = make_campaign("codes", [people], [scripted])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)

    assert ResultTally.objects.errors(campaign.pk) == {"PEER_ID_INVALID": 1, "USER_IS_BLOCKED": 1}
    assert_tally_is_true(campaign)
    engine.retry_failed(campaign, codes=["USER_IS_BLOCKED"], enqueue=False)
    assert ResultTally.objects.errors(campaign.pk) == {"PEER_ID_INVALID": 1}
    assert_tally_is_true(campaign)


def test_folding_the_attempt_tally_keeps_its_totals_minutes_and_requests_today(alpha):
    from datetime import UTC, datetime, timedelta

    from campaigns.models import AttemptTally

    t0 = datetime(2026, 11, 29, 10, 0, 5, tzinfo=UTC)
    for i in range(6):  # two batches a minute over three minutes
        at = t0 + timedelta(seconds=30 * i)
        AttemptTally.objects.create(
            campaign_id=7, session_id=alpha.pk, requests=10, sent=9, retries=1, first_started_at=at,
            last_finished_at=at + timedelta(seconds=1), latency_ms=100,
        )  # fmt: skip
    before = (AttemptTally.per_session(7), AttemptTally.per_minute(7))

    AttemptTally.compact(7)
    AttemptTally.compact(7)  # folding again changes nothing

    assert AttemptTally.objects.filter(campaign_id=7).count() == 3
    assert (AttemptTally.per_session(7), AttemptTally.per_minute(7)) == before
    assert [r["sent"] for r in AttemptTally.per_minute(7)] == [18, 18, 18]
    assert AttemptTally.requests_since([alpha.pk], t0 + timedelta(minutes=1)) == {alpha.pk: 40}


def test_triggers_a_migration_dropped_are_reinstalled_and_the_tally_recounted(people, alpha):
    from django.db import connection

    from campaigns.models.tally import drop_triggers, ensure_triggers

    campaign = make_campaign("rebuilt", [people], [alpha])
    drop_triggers(connection)  # what a SQLite table rebuild does to them
    engine.launch(campaign, enqueue=False)
    assert ResultTally.objects.for_campaign(campaign.pk) == {}

    assert ensure_triggers(connection) is True
    assert ensure_triggers(connection) is False
    assert_tally_is_true(campaign)
    engine.cancel(campaign)
    assert_tally_is_true(campaign)
