"""Crash recovery: rows a dead worker left behind are re-sent once, or marked unknown."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from unittest import mock

import pytest
from django.core.checks import run_checks
from django.test import override_settings
from django.utils import timezone

from campaigns import engine
from campaigns.engine import claiming
from campaigns.models import CampaignStatus, ResultStatus
from sessions_app import leases
from sessions_app.models import SessionStatus, SimulatedDelivery, TelegramSession

from .conftest import make_campaign

pytestmark = pytest.mark.django_db


def crash_mid_batch(campaign, session, *, delivered: int) -> list[int]:
    """What a worker killed mid-batch leaves: rows ``sending`` under an expired lease, the first
    ``delivered`` of them already delivered by Telegram."""
    owner = "dead-host:1:0"
    assert leases.take(session, owner, active_only=True)
    rows = claiming.claim_rows(campaign.pk, session.pk, owner, 10)  # claimed rows are ``sending``
    for row in rows[:delivered]:
        SimulatedDelivery.objects.create(
            session=session, random_id=row.random_id, peer_key=row.key, message_id=1
        )
    past = timezone.now() - timedelta(seconds=leases.take_grace() + 1)  # expired, grace and all
    TelegramSession.objects.filter(pk=session.pk).update(lease_expires_at=past)
    campaign.results.filter(claimed_by=owner).update(claim_expires_at=past)
    return [r.id for r in rows]


def test_rows_left_sending_are_resent_with_the_same_random_id_and_delivered_once(people, alpha):
    campaign = make_campaign("crash", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    random_ids = dict(campaign.results.values_list("key", "random_id"))
    crash_mid_batch(campaign, alpha, delivered=2)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    assert Counter(SimulatedDelivery.objects.values_list("peer_key", flat=True)) == Counter(
        {key: 1 for key in random_ids}
    )
    assert dict(campaign.results.values_list("key", "random_id")) == random_ids
    outcomes = Counter(campaign.results.values_list("delivery_attempts__outcome", flat=True))
    assert outcomes == {"duplicate": 2, "sent": 3}
    assert set(campaign.results.values_list("status", flat=True)) == {ResultStatus.SENT}


def test_sending_rows_of_a_session_that_is_gone_become_unknown_and_are_not_resent(people, alpha, beta):
    campaign = make_campaign("gone", [people], [alpha, beta])
    engine.launch(campaign, enqueue=False)
    left = crash_mid_batch(campaign, alpha, delivered=1)
    alpha.record_error("SESSION_REVOKED", "revoked", status=SessionStatus.DISABLED)
    stats = engine.reap(dispatch=False)
    assert stats["sending_unknown"] == len(left)
    engine.run_until_done(campaign, max_seconds=20)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
    assert set(campaign.results.filter(id__in=left).values_list("status", flat=True)) == {
        ResultStatus.UNKNOWN
    }
    assert SimulatedDelivery.objects.filter(session=beta).count() == 5 - len(left)
    # Only the operator's explicit action re-sends them (possibly a second copy, by their choice).
    assert engine.resend_unknown(campaign, enqueue=False) == len(left)
    engine.run_until_done(campaign, max_seconds=20)
    assert set(campaign.results.values_list("status", flat=True)) == {ResultStatus.SENT}


def test_rows_a_dead_worker_took_return_to_the_queue_pinned_to_their_session(people, alpha):
    campaign = make_campaign("claimed", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    leases.take(alpha, "dead:2:0")
    taken = claiming.claim_rows(campaign.pk, alpha.pk, "dead:2:0", 3)
    past = timezone.now() - timedelta(seconds=leases.take_grace() + 1)  # expired, grace and all
    TelegramSession.objects.filter(pk=alpha.pk).update(lease_expires_at=past)
    assert engine.reap(dispatch=False)["sending_requeued"] == 0  # claims still run, lease or not
    campaign.results.update(claim_expires_at=past)
    assert engine.reap(dispatch=False)["sending_requeued"] == 3
    assert campaign.results.filter(status="pending").count() == 5
    # Their requests may have left: only alpha re-sends them, with the same random_id.
    pinned = campaign.results.filter(pk__in=[r.id for r in taken])
    assert set(pinned.values_list("session_id", "in_doubt")) == {(alpha.pk, True)}


def test_a_task_that_finds_the_campaign_already_driven_exits_at_once(people, alpha):
    campaign = make_campaign("driven", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    assert leases.take(alpha, "other-worker:3:0")
    assert engine.drive(campaign.pk, seconds=5, enqueue_next=False) == "already driven"
    assert not SimulatedDelivery.objects.exists()


def test_two_owners_cannot_hold_one_session_lease(alpha):
    assert leases.take(alpha, "a:1:1")
    assert not leases.take(alpha, "b:1:1")
    leases.release([alpha.pk], "a:1:1")
    assert leases.take(alpha, "b:1:1")


def test_the_reaper_redispatches_a_running_campaign_no_live_lease_drives(people, alpha):
    campaign = make_campaign("orphan", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    with mock.patch("campaigns.engine.queue.enqueue_drive", autospec=True) as enqueue:
        assert engine.reap()["redispatched"] == 1
    enqueue.assert_called_once_with(campaign.pk)


def test_the_reaper_launches_a_scheduled_campaign_when_it_is_due(people, alpha):
    campaign = make_campaign("due", [people], [alpha], scheduled_at=timezone.now() + timedelta(hours=1))
    engine.launch(campaign, enqueue=False)
    campaign.__class__.objects.filter(pk=campaign.pk).update(
        scheduled_at=timezone.now() - timedelta(seconds=1)
    )
    with mock.patch("campaigns.engine.queue.enqueue_drive", autospec=True):
        assert engine.reap()["launched"] == 1
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING and campaign.results.count() == 5


def test_a_worker_that_lost_its_lease_stops_sending(people, alpha, monkeypatch):
    monkeypatch.setattr(leases, "lease_seconds", lambda: 0.3)
    alpha.send_delay = 0.2
    alpha.save()
    campaign = make_campaign("stolen", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    real_renew = leases.renew

    def stolen(ids, owner):
        TelegramSession.objects.filter(pk__in=ids).update(lease_owner="thief:9:9")
        return real_renew(ids, owner)

    monkeypatch.setattr(leases, "renew", stolen)
    engine.drive(campaign.pk, seconds=5, enqueue_next=False)
    assert SimulatedDelivery.objects.count() < 5


@pytest.mark.parametrize(
    "q_cluster, refused",
    [
        ({"timeout": 120, "retry": 300}, set()),
        ({"timeout": 120, "retry": 130}, {"campaigns.E003"}),
        ({"timeout": 30, "retry": 600}, {"campaigns.E001"}),
    ],
)
def test_a_q_cluster_whose_timeout_or_retry_is_too_short_is_refused_each_by_its_own_id(q_cluster, refused):
    with override_settings(Q_CLUSTER=q_cluster, TGC_SLICE_SECONDS=60):
        ids = {m.id for m in run_checks()}
    assert ids & {"campaigns.E001", "campaigns.E003"} == refused


def test_a_row_in_doubt_is_never_moved_to_another_session_when_its_own_fails(people, alpha, beta):
    campaign = make_campaign("pinned", [people], [alpha, beta])
    engine.launch(campaign, enqueue=False)
    left = crash_mid_batch(campaign, alpha, delivered=1)
    # On the resend, alpha's auth key turns out revoked: the rows it may have delivered stay
    # with it and become unknown instead of going out a second time from beta.
    alpha.simulator_config["script"] = {
        key: ["AUTH_KEY_UNREGISTERED"] for key in campaign.results.values_list("key", flat=True)
    }
    alpha.save()
    engine.run_until_done(campaign, max_seconds=20)
    assert set(campaign.results.filter(id__in=left).values_list("status", flat=True)) == {
        ResultStatus.UNKNOWN
    }
    delivered = Counter(SimulatedDelivery.objects.values_list("peer_key", flat=True))
    assert max(delivered.values()) == 1


def test_the_reaper_never_takes_back_rows_a_live_worker_marked_after_it_read_the_leases(
    people, alpha, monkeypatch
):
    campaign = make_campaign("race", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    stale = leases.live_ids()  # the reaper reads the leases ...
    assert leases.take(alpha, "live:1:1", active_only=True)  # ... a worker leases and starts sending
    claiming.claim_rows(campaign.pk, alpha.pk, "live:1:1", 10)  # claimed rows are ``sending``
    monkeypatch.setattr(leases, "live_ids", lambda now=None, **kwargs: stale)
    engine.reap(dispatch=False)  # ... and the reaper acts on what it read
    assert set(campaign.results.values_list("status", flat=True)) == {ResultStatus.SENDING}


def test_retry_failed_on_a_cancelled_campaign_changes_nothing(people, alpha):
    campaign = make_campaign("final", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    campaign.results.filter(key="@bob_user").update(status="failed", error_code="USER_IS_BLOCKED")
    engine.cancel(campaign)
    assert engine.retry_failed(campaign, enqueue=False) == 0
    bob = campaign.results.get(key="@bob_user")
    assert (bob.status, bob.error_code) == ("failed", "USER_IS_BLOCKED")


def test_a_scheduled_start_missed_by_days_pauses_for_a_human_instead_of_sending_late(people, alpha):
    campaign = make_campaign("friday", [people], [alpha], scheduled_at=timezone.now() + timedelta(hours=1))
    engine.launch(campaign, enqueue=False)
    campaign.__class__.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now() - timedelta(days=2))

    with mock.patch("campaigns.engine.queue.enqueue_drive", autospec=True) as enqueue:
        stats = engine.reap()

    campaign.refresh_from_db()
    assert (stats["launched"], stats["missed"]) == (0, 1)
    assert campaign.status == CampaignStatus.PAUSED and not campaign.results.exists()
    assert "missed its start by 2\xa0days" in campaign.status_reason.lower()
    assert "resume to send now" in campaign.status_reason
    enqueue.assert_not_called()


def test_a_scheduled_start_within_the_grace_is_launched(people, alpha, settings):
    settings.TGC_SCHEDULE_GRACE_SECONDS = 3600
    campaign = make_campaign("late", [people], [alpha], scheduled_at=timezone.now() + timedelta(hours=1))
    engine.launch(campaign, enqueue=False)
    campaign.__class__.objects.filter(pk=campaign.pk).update(
        scheduled_at=timezone.now() - timedelta(minutes=20)
    )
    with mock.patch("campaigns.engine.queue.enqueue_drive", autospec=True):
        assert engine.reap()["launched"] == 1


def test_the_reaper_that_loses_the_race_for_a_due_campaign_leaves_it_running(people, alpha):
    from campaigns.engine import launcher as launch_module

    campaign = make_campaign("race", [people], [alpha], scheduled_at=timezone.now() + timedelta(hours=1))
    engine.launch(campaign, enqueue=False)
    campaign.__class__.objects.filter(pk=campaign.pk).update(
        scheduled_at=timezone.now() - timedelta(seconds=1)
    )
    real_check = launch_module.check_launch
    raced = []

    def other_reaper_wins_meanwhile(c):
        # Between this reaper reading the campaign and locking it, another reaper launches it.
        if not raced:
            raced.append(True)
            engine.launch(c.__class__.objects.get(pk=c.pk), enqueue=False)
        return real_check(c)

    with (
        mock.patch.object(launch_module, "check_launch", side_effect=other_reaper_wins_meanwhile),
        mock.patch("campaigns.engine.queue.enqueue_drive", autospec=True),
    ):
        engine.reap()

    campaign.refresh_from_db()
    assert raced and campaign.status == CampaignStatus.RUNNING and campaign.status_reason == ""
    assert campaign.results.count() == 5


@pytest.mark.parametrize(
    "q_cluster, named",
    [
        ({"timeout": 120, "retry": 300, "worker": 8}, "'worker' (did you mean 'workers'?)"),
        ({"timeout": 120, "retry": 300, "retrys": 10}, "'retrys' (did you mean 'retry'?)"),
        ({"timeout": 120, "retry": 300, "colour": "red"}, "'colour'"),
    ],
)
def test_an_unknown_q_cluster_key_is_an_error_that_names_it_and_its_near_miss(q_cluster, named):
    with override_settings(Q_CLUSTER=q_cluster, TGC_SLICE_SECONDS=60):
        errors = [m for m in run_checks() if m.id == "campaigns.E004"]
    assert len(errors) == 1 and named in errors[0].msg


def test_a_misspelled_q_environment_variable_is_named_with_its_near_miss(monkeypatch):
    monkeypatch.setenv("Q_WORKER", "8")
    warnings = [m for m in run_checks() if m.id == "campaigns.W005"]
    assert len(warnings) == 1 and "Q_WORKER (did you mean Q_WORKERS?)" in warnings[0].msg


# Claims read the pool from where the last one ended (claim_rows' ``after``) -----------------------
def test_a_claim_reads_on_from_the_last_claimed_row_and_marks_where_it_took_from_the_pool(people, alpha):
    campaign = make_campaign("mark", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    ids = sorted(campaign.results.values_list("id", flat=True))

    first = claiming.claim_rows(campaign.pk, alpha.pk, "live:1:0", 2, after=0)
    second = claiming.claim_rows(campaign.pk, alpha.pk, "live:1:0", 2, after=first[-1].id)

    assert [r.id for r in first + second] == ids[:4]
    assert all(r.pooled for r in first + second)


def test_rows_back_in_the_pool_below_the_mark_are_still_claimed(people, alpha):
    campaign = make_campaign("back", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    ids = sorted(campaign.results.values_list("id", flat=True))
    taken = claiming.claim_rows(campaign.pk, alpha.pk, "live:1:0", 4)
    # Another process gives the first row back (a FloodWait: its request never reached Telegram).
    claiming.release_claims("live:1:0", taken[:1])

    # The mark is past it: the rows above come first, then the pool is read again from its start.
    found = claiming.claim_rows(campaign.pk, alpha.pk, "live:1:0", 5, after=taken[-1].id)

    assert [r.id for r in found] == [ids[4], ids[0]]
    assert campaign.results.filter(status=ResultStatus.PENDING).count() == 0


def test_a_slice_lowers_its_mark_when_rows_go_back_to_the_pool():
    from campaigns.engine.claiming import RowWork
    from campaigns.engine.work import CampaignWork

    work = CampaignWork.__new__(CampaignWork)  # only the mark's bookkeeping
    work.pool_after, work.windowed = 0, False
    work.claimed([RowWork(7, "@a", 1, 0, {}, False, None, pooled=True), RowWork(3, "@b", 2, 0, {}, True)])
    assert work.pool_after == 7  # the pinned row (3) is not the pool's
    work.returned([6, 5])
    assert work.pool_after == 4
    work.returned([])
    assert work.pool_after == 4


def test_under_a_send_window_claims_always_read_the_pool_from_its_start():
    # A claim under a send window skips rows of closed zones: they must be found when their
    # window opens, so the mark never moves past them.
    from campaigns.engine.claiming import RowWork
    from campaigns.engine.work import CampaignWork

    work = CampaignWork.__new__(CampaignWork)
    work.pool_after, work.windowed = 0, True
    work.claimed([RowWork(7, "@a", 1, 0, {}, False, None, pooled=True)])
    assert work.pool_after == 0
