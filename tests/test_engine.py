"""The delivery engine end to end on the simulator: launch, balancing, outcomes, summary."""

from __future__ import annotations

from collections import Counter

import pytest
from django.utils import timezone

from campaigns import engine
from campaigns.engine import settling
from campaigns.models import CampaignStatus, DeliveryAttempt, MessageResult, ResultStatus, Suppression
from sessions_app.models import SessionStatus, SimulatedDelivery, TelegramSession

from .conftest import make_campaign, make_list, make_session

pytestmark = pytest.mark.django_db


def deliveries_per_key() -> Counter:
    return Counter(SimulatedDelivery.objects.values_list("peer_key", flat=True))


def test_it_sends_one_message_to_every_recipient(people, alpha, beta):
    campaign = make_campaign("hello", [people], [alpha, beta])
    engine.launch(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    rows = list(campaign.results.all())
    assert [r.status for r in rows] == [ResultStatus.SENT] * 5
    assert all(r.telegram_message_id and r.sent_at and r.attempts == 1 for r in rows)
    assert deliveries_per_key() == Counter({r.key: 1 for r in rows})
    texts = set(SimulatedDelivery.objects.values_list("text", flat=True))
    assert "Hi Alice!" in texts and "Hi Erin!" in texts


def test_it_assigns_each_recipient_to_exactly_one_session(people, alpha, beta):
    campaign = make_campaign("one-session", [people], [alpha, beta])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    sessions_by_key = {r.key: r.session_id for r in campaign.results.all()}
    assert set(sessions_by_key.values()) == {alpha.pk, beta.pk}
    for delivery in SimulatedDelivery.objects.all():
        assert delivery.session_id == sessions_by_key[delivery.peer_key]


def sent_by(campaign) -> dict[str, int]:
    return dict(Counter(campaign.results.filter(status="sent").values_list("session__name", flat=True)))


@pytest.mark.parametrize(
    "strategy, weights, expected",
    [
        ("round_robin", (1, 1, 1), {"s1": 4, "s2": 4, "s3": 4}),
        ("weighted", (1, 1, 2), {"s1": 3, "s2": 3, "s3": 6}),
    ],
)
def test_even_strategies_share_the_rows_among_sessions_of_equal_capacity(db, strategy, weights, expected):
    sessions = [make_session(f"s{i + 1}", weight=w) for i, w in enumerate(weights)]
    rl = make_list("twelve", [(f"@member_{i:03d}", {}) for i in range(12)])
    campaign = make_campaign("dist", [rl], sessions, strategy=strategy)
    engine.launch(campaign, enqueue=False)
    assert not campaign.results.exclude(session=None).exists()  # late binding: nobody holds a row yet
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    assert sent_by(campaign) == expected


@pytest.mark.parametrize("strategy", ["round_robin", "weighted", "least_loaded"])
def test_a_session_in_a_flood_wait_pulls_nothing_and_the_others_send_its_share(db, strategy):
    flooded = make_session("flooded", simulator_config={"flood_rate": 1.0, "flood_seconds": [3600, 3600]})
    healthy = [make_session("h1"), make_session("h2")]
    rl = make_list("thirty", [(f"@member_{i:03d}", {}) for i in range(30)])
    campaign = make_campaign("late-binding", [rl], [flooded, *healthy], strategy=strategy)
    engine.launch(campaign, enqueue=False)

    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED

    assert sum(sent_by(campaign).values()) == 30 and "flooded" not in sent_by(campaign)
    # The one request it made was refused, so its row went back to the pool and was sent by another.
    assert DeliveryAttempt.objects.filter(session=flooded).count() == 1
    assert deliveries_per_key() == Counter({r.key: 1 for r in campaign.results.all()})


def share_after(session, since) -> float:
    """The part of the requests started at or after ``since`` that ``session`` made."""
    later = DeliveryAttempt.objects.filter(started_at__gte=since, outcome="sent")
    return later.filter(session=session).count() / later.count()


def test_a_session_back_from_a_flood_wait_rejoins_at_the_even_share_and_nobody_waits_for_it(db):
    # Three sessions at 50 requests/s; "back" is in a 2 s FloodWait when the slice starts, so the
    # others send about 100 rows each before it returns to 400 left in the pool.
    back, h1, h2 = (make_session(name, send_delay=0.02) for name in ("back", "h1", "h2"))
    rl = make_list("six-hundred", [(f"@member_{i:03d}", {}) for i in range(600)])
    campaign = make_campaign("rejoin", [rl], [back, h1, h2], strategy="round_robin")
    engine.launch(campaign, enqueue=False)
    back.set_flood_wait(2)

    engine.drive(campaign.pk, seconds=30, enqueue_next=False)

    assert sum(sent_by(campaign).values()) == 600
    returned = DeliveryAttempt.objects.filter(session=back).earliest("started_at").started_at
    # From its return it sends its third, no more: it does not make up the turns it missed while
    # the healthy sessions stand idle (it would send half: 100 alone, then a third of 300).
    assert share_after(back, returned) < 0.4


def test_a_session_that_missed_a_slice_starts_the_next_one_at_the_even_share(db):
    away, h1, h2 = (make_session(name, send_delay=0.02) for name in ("away", "h1", "h2"))
    rl = make_list("six-hundred", [(f"@member_{i:03d}", {}) for i in range(600)])
    campaign = make_campaign("rejoin-slice", [rl], [away, h1, h2], strategy="round_robin")
    engine.launch(campaign, enqueue=False)
    away.set_flood_wait(3600)
    engine.drive(campaign.pk, seconds=2, enqueue_next=False)  # the others send, "away" waits
    assert "away" not in sent_by(campaign) and sum(sent_by(campaign).values()) > 100
    TelegramSession.objects.filter(pk=away.pk).update(flood_wait_until=None)
    second_slice = timezone.now()

    engine.drive(campaign.pk, seconds=30, enqueue_next=False)

    assert sum(sent_by(campaign).values()) == 600
    assert share_after(away, second_slice) < 0.4


def test_a_slice_does_not_wait_out_a_flood_wait_once_nothing_is_left_to_send(db):
    flooded, healthy = make_session("flooded"), make_session("healthy")
    rl = make_list("twenty", [(f"@member_{i:03d}", {}) for i in range(20)])
    campaign = make_campaign("short-storm", [rl], [flooded, healthy])
    engine.launch(campaign, enqueue=False)
    flooded.set_flood_wait(20)  # shorter than the slice: its session naps through it in the slice

    assert engine.drive(campaign.pk, seconds=60, enqueue_next=False) == "completed"

    # The campaign completed while the FloodWait still ran: nobody waited for a session that had
    # nothing left to send.
    flooded.refresh_from_db()
    assert flooded.flood_wait_left() > 0
    assert sent_by(campaign) == {"healthy": 20}


def test_no_session_sits_idle_while_a_slower_one_still_has_rows_to_send(db):
    slow = make_session("slow", send_delay=0.2)
    fast = make_session("fast", send_delay=0.01)
    rl = make_list("forty", [(f"@member_{i:03d}", {}) for i in range(40)])
    campaign = make_campaign("idle", [rl], [slow, fast], strategy="least_loaded")
    engine.launch(campaign, enqueue=False)

    assert engine.run_until_done(campaign, max_seconds=30) == CampaignStatus.COMPLETED

    split = sent_by(campaign)
    assert split["fast"] > 3 * split.get("slow", 0)
    last = {s: DeliveryAttempt.objects.filter(session__name=s).latest("started_at").started_at for s in split}
    # The fast session sent until the end: it was never left waiting while the slow one held rows.
    assert last["fast"] >= last.get("slow", last["fast"]) - timezone.timedelta(seconds=0.5)


def test_it_skips_invalid_duplicate_and_suppressed_recipients_with_reasons(db, alpha):
    from campaigns.models import Recipient

    rl = make_list("mixed", [("@good_one", {}), ("@good_one", {}), ("@opted_out", {})])
    Recipient.objects.create(
        recipient_list=rl, row_number=9, raw_value="@abc", status="invalid", error="username too short"
    )
    Suppression.objects.create(key="@opted_out")
    campaign = make_campaign("mixed", [rl], [alpha])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    outcome = {(r.key or r.recipient.raw_value, r.status, r.error_code) for r in campaign.results.all()}
    assert outcome == {
        ("@good_one", "sent", ""),
        ("@good_one", "skipped", "DUPLICATE_RECIPIENT"),
        ("@opted_out", "skipped", "SUPPRESSED"),
        ("@abc", "skipped", "INVALID_RECIPIENT"),
    }
    assert campaign.results.get(error_code="INVALID_RECIPIENT").error_text == "username too short"
    assert deliveries_per_key() == Counter({"@good_one": 1})


def test_it_checks_suppression_again_right_before_sending(people, alpha):
    campaign = make_campaign("late-opt-out", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    Suppression.objects.create(key="@carol_user", source="stop_reply")
    engine.run_until_done(campaign, max_seconds=20)
    row = campaign.results.get(key="@carol_user")
    assert (row.status, row.error_code) == (ResultStatus.SKIPPED, "SUPPRESSED")
    assert "@carol_user" not in deliveries_per_key()


def test_launch_without_a_usable_session_sends_nothing_and_says_why(people):
    dead = make_session("dead", status=SessionStatus.DISABLED)
    campaign = make_campaign("nobody", [people], [dead])
    with pytest.raises(engine.NoUsableSession, match="No usable session"):
        engine.launch(campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert not campaign.results.exists()


def test_load_counters_return_to_zero_after_success_and_after_failure(people, db):
    good = make_session("good")
    bad = make_session("bad", simulator_config={"recipient_error_rate": 1.0})
    campaign = make_campaign("loads", [people], [good, bad])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    outcome = Counter(campaign.results.values_list("session__name", "status"))
    assert set(outcome) == {("good", "sent"), ("bad", "failed")} and sum(outcome.values()) == 5
    assert list(TelegramSession.objects.values_list("current_load", flat=True)) == [0, 0]


def test_it_records_failures_with_code_text_and_attempts(people, alpha):
    alpha.simulator_config["script"] = {"@bob_user": ["USER_PRIVACY_RESTRICTED"]}
    alpha.save()
    campaign = make_campaign("fail", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    row = campaign.results.get(key="@bob_user")
    assert (row.status, row.error_code, row.attempts) == ("failed", "USER_PRIVACY_RESTRICTED", 1)
    assert row.error_text
    attempt = DeliveryAttempt.objects.get(result=row)
    assert (attempt.outcome, attempt.error_code, attempt.session_id) == (
        "failed",
        "USER_PRIVACY_RESTRICTED",
        alpha.pk,
    )


def test_it_retries_transient_errors_with_backoff_up_to_the_attempt_limit(people, alpha, monkeypatch):
    monkeypatch.setattr(settling, "retry_delay", lambda attempt: 0.05 * attempt)
    alpha.simulator_config["script"] = {"@alice_user": ["RPC_CALL_FAIL"], "@bob_user": ["RPC_CALL_FAIL"] * 5}
    alpha.save()
    campaign = make_campaign("retry", [people], [alpha], max_attempts=3)
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    alice, bob = campaign.results.get(key="@alice_user"), campaign.results.get(key="@bob_user")
    assert (alice.status, alice.attempts) == ("sent", 2)
    assert (bob.status, bob.attempts, bob.error_code) == ("failed", 3, "RPC_CALL_FAIL")
    assert list(bob.delivery_attempts.values_list("outcome", flat=True)) == ["retry", "retry", "failed"]


def test_retry_delay_grows_exponentially_with_jitter():
    for attempt in range(1, 6):
        base = min(settling.RETRY_CAP_SECONDS, settling.RETRY_BASE_SECONDS * 2 ** (attempt - 1))
        delays = {settling.retry_delay(attempt) for _ in range(20)}
        assert all(base * 0.5 <= d <= base for d in delays)
        assert len(delays) > 1


def test_a_flood_wait_is_waited_out_and_not_counted_as_an_attempt(people, alpha):
    alpha.simulator_config["script"] = {"@alice_user": ["FLOOD_WAIT_1"]}
    alpha.save()
    campaign = make_campaign("flood", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    alpha.refresh_from_db()
    row = campaign.results.get(key="@alice_user")
    assert (row.status, row.attempts) == ("sent", 1)
    flood = DeliveryAttempt.objects.get(outcome="flood")
    later = DeliveryAttempt.objects.filter(session=alpha, started_at__gt=flood.finished_at)
    assert later.exists()
    assert min(a.started_at for a in later) >= alpha.flood_wait_until


def test_a_long_flood_wait_leaves_the_sessions_rows_to_healthy_sessions(people, alpha, beta):
    alpha.simulator_config.update(flood_rate=1.0, flood_seconds=[3600, 3600])
    alpha.save()
    campaign = make_campaign("long-flood", [people], [alpha, beta])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    assert set(campaign.results.values_list("status", "session_id")) == {("sent", beta.pk)}
    alpha.refresh_from_db()
    assert alpha.flood_wait_left() > 3000


def test_a_revoked_session_is_disabled_and_its_rows_rebalanced(people, alpha, beta):
    alpha.simulator_config["script"] = {"@alice_user": ["AUTH_KEY_UNREGISTERED"]}
    alpha.save()
    campaign = make_campaign("revoked", [people], [alpha, beta])
    engine.launch(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    alpha.refresh_from_db()
    assert (alpha.status, alpha.last_error_code) == (SessionStatus.DISABLED, "AUTH_KEY_UNREGISTERED")
    assert set(campaign.results.values_list("status", "session_id")) == {("sent", beta.pk)}


def test_peer_flood_quarantines_the_session_and_pauses_the_campaign(people, alpha, beta):
    alpha.simulator_config["script"] = {"@alice_user": ["PEER_FLOOD"]}
    alpha.save()
    campaign = make_campaign("spam", [people], [alpha, beta])
    engine.launch(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.PAUSED
    alpha.refresh_from_db()
    campaign.refresh_from_db()
    assert alpha.status == SessionStatus.QUARANTINED
    assert "spam-limited" in campaign.status_reason and "PEER_FLOOD" in campaign.status_reason
    alice = campaign.results.get(key="@alice_user")
    assert (alice.status, alice.attempts) == ("pending", 0)
    assert engine.resume(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    assert campaign.results.get(key="@alice_user").session_id == beta.pk
    assert deliveries_per_key() == Counter({r.key: 1 for r in campaign.results.all()})


def test_a_content_error_pauses_the_campaign_with_a_clear_message(people, alpha):
    alpha.simulator_config["script"] = {"@alice_user": ["MESSAGE_TOO_LONG"]}
    alpha.save()
    campaign = make_campaign("content", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.PAUSED
    campaign.refresh_from_db()
    assert "MESSAGE_TOO_LONG" in campaign.status_reason and "fix the message" in campaign.status_reason
    assert campaign.results.filter(status="failed").count() == 0


def test_pause_stops_every_session_before_its_next_send_and_resume_finishes(people, db):
    slow = [make_session(n, send_delay=0.3) for n in ("slow1", "slow2")]
    campaign = make_campaign("pausable", [people], slow)
    engine.launch(campaign, enqueue=False)
    engine.pause(campaign)
    engine.drive(campaign.pk, seconds=2, enqueue_next=False)
    assert not SimulatedDelivery.objects.exists()
    assert engine.resume(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    assert deliveries_per_key() == Counter({r.key: 1 for r in campaign.results.all()})


def test_cancel_turns_the_remaining_rows_into_cancelled_and_counts_add_up(people, alpha):
    campaign = make_campaign("cancel", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    assert engine.cancel(campaign) == 5
    assert engine.drive(campaign.pk, enqueue_next=False) == "not running"
    counts = campaign.counts()
    assert (counts["cancelled"], counts["total"]) == (5, 5)
    assert sum(v for k, v in counts.items() if k != "total") == counts["total"]


def test_retry_failed_sends_failed_rows_again(people, alpha):
    alpha.simulator_config["script"] = {"@bob_user": ["USER_IS_BLOCKED"]}
    alpha.save()
    campaign = make_campaign("again", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    alpha.simulator_config.pop("script")  # Bob unblocked us
    alpha.save()
    assert engine.retry_failed(campaign, enqueue=False) == 1
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING
    engine.run_until_done(campaign, max_seconds=20)
    assert campaign.results.get(key="@bob_user").status == "sent"


def test_the_summary_adds_up_to_the_recipients(people, db):
    mixed = make_session("mixed", simulator_config={"recipient_error_rate": 0.5, "seed": 7})
    campaign = make_campaign("summary", [people], [mixed])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    s = engine.summary(campaign)
    assert s["sent"] + s["failed"] + s["skipped"] == s["total"] == 5
    assert s["failed"] > 0 and s["other"] == 0


def test_a_scheduled_campaign_waits_for_its_time(people, alpha):
    campaign = make_campaign(
        "later", [people], [alpha], scheduled_at=timezone.now() + timezone.timedelta(hours=1)
    )
    engine.launch(campaign, enqueue=False)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED and not campaign.results.exists()


def test_daily_cap_stops_a_session_for_the_day(people, db):
    capped = make_session("capped", daily_cap=2)
    campaign = make_campaign("capped", [people], [capped])
    engine.launch(campaign, enqueue=False)
    outcome = engine.drive(campaign.pk, seconds=5, enqueue_next=False)
    assert outcome == "waiting"
    assert campaign.results.filter(status="sent").count() == 2
    campaign.refresh_from_db()
    assert campaign.wake_at > timezone.now()


def test_media_campaign_sends_the_photo_to_everyone(people, alpha, cases_dir, settings, tmp_path):
    from django.core.files import File

    settings.MEDIA_ROOT = str(tmp_path)
    campaign = make_campaign("photo", [people], [alpha], message="Look, {{ first_name }}")
    with open(cases_dir / "media" / "photo.jpg", "rb") as fh:
        campaign.media.save("photo.jpg", File(fh))
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    campaign.refresh_from_db()
    assert campaign.media_type == "photo" and campaign.media_info["width"] == 1280
    assert set(SimulatedDelivery.objects.values_list("media_type", flat=True)) == {"photo"}
    assert MessageResult.objects.filter(status="sent").count() == 5


def test_an_invalid_media_file_refuses_the_launch(people, alpha, cases_dir, settings, tmp_path):
    from django.core.files import File

    settings.MEDIA_ROOT = str(tmp_path)
    campaign = make_campaign("bad-media", [people], [alpha], media_type="photo")
    with open(cases_dir / "media" / "too_wide_ratio_40.png", "rb") as fh:
        campaign.media.save("wide.png", File(fh))
    with pytest.raises(engine.LaunchError, match="aspect ratio"):
        engine.launch(campaign, enqueue=False)
    assert not campaign.results.exists()


def test_launch_is_refused_for_a_message_telegram_would_refuse(people, alpha):
    campaign = make_campaign("too-long", [people], [alpha], message="a" * 4097)
    with pytest.raises(engine.LaunchError, match="4096"):
        engine.launch(campaign, enqueue=False)


def test_operation_metrics_count_requests_retries_and_flood_waits(people, alpha, monkeypatch):
    from campaigns.reporting.progress import metrics

    monkeypatch.setattr(settling, "retry_delay", lambda attempt: 0.01)
    alpha.simulator_config.update(
        latency_ms=[5, 5], script={"@alice_user": ["RPC_CALL_FAIL"], "@bob_user": ["FLOOD_WAIT_1"]}
    )
    alpha.save()
    campaign = make_campaign("metrics", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    m = metrics(campaign)
    assert (m["requests"], m["sent"], m["retries"], m["flood_waits"]) == (7, 5, 1, 1)
    # Sent over about a second: too short a span for a rate (RATE_MIN_SECONDS), the count says it.
    assert m["elapsed_seconds"] >= 1.0 and m["sent_per_minute"] is None
    [session] = m["sessions"]
    assert session["name"] == "alpha" and session["mean_latency_ms"] >= 5


def test_in_flight_load_is_counted_around_every_send_and_returns_to_zero_after_errors(people, monkeypatch):
    from asgiref.sync import async_to_sync

    from campaigns.engine.slice import SliceRunner
    from sessions_app import leases
    from sessions_app.transport.simulator import SimulatorTransport

    good = make_session("good")
    bad = make_session("bad", simulator_config={"recipient_error_rate": 1.0})
    campaign = make_campaign("loads", [people], [good, bad])
    engine.launch(campaign, enqueue=False)
    for s in (good, bad):
        assert leases.take(s, "test-owner", active_only=True)
    runner = SliceRunner([campaign.pk], [good, bad], "test-owner", 5.0)
    seen: list[dict] = []
    real_send = SimulatorTransport.send

    async def spy(self, key, message, random_id, **kwargs):
        seen.append(dict(runner.load))
        return await real_send(self, key, message, random_id, **kwargs)

    monkeypatch.setattr(SimulatorTransport, "send", spy)
    async_to_sync(runner.run)()
    assert len(seen) == 5
    assert {pk for loads in seen for pk, n in loads.items() if n >= 1} == {good.pk, bad.pk}
    assert runner.load == {good.pk: 0, bad.pk: 0}


def test_a_recipient_whose_personalised_text_is_too_long_fails_alone(db, alpha):
    rl = make_list(
        "bios",
        [("@long_bio_guy", {"note": "x" * 5000})] + [(f"@normal_{i:03d}", {"note": "hi"}) for i in range(3)],
    )
    campaign = make_campaign("bio", [rl], [alpha], message="Hello {{ note }}")
    engine.launch(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    long = campaign.results.get(key="@long_bio_guy")
    assert (long.status, long.error_code) == ("failed", "MESSAGE_TOO_LONG")
    assert "5006 characters" in long.error_text
    assert campaign.results.filter(status="sent").count() == 3
    assert "@long_bio_guy" not in deliveries_per_key()


def test_a_recipient_who_opted_out_under_another_identity_is_not_sent_once_resolved(db):
    # The STOP reply recorded the user id; the list holds the same person by phone.
    bot_free = make_session(
        "user-account", kind="user", simulator_config={"peers": {"+4915112345678": 777001}}
    )
    rl = make_list("by-phone", [("+4915112345678", {}), ("+4915112345679", {})])
    Suppression.objects.create(key="777001", source=Suppression.Source.STOP_REPLY)
    campaign = make_campaign("identities", [rl], [bot_free])
    engine.launch(campaign, enqueue=False)

    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED

    opted_out = campaign.results.get(key="+4915112345678")
    assert (opted_out.status, opted_out.error_code) == (ResultStatus.SKIPPED, "SUPPRESSED")
    assert "777001" in opted_out.error_text
    assert list(SimulatedDelivery.objects.values_list("peer_key", flat=True)) == ["+4915112345679"]


def test_each_sent_row_records_the_peer_it_was_delivered_to(people, alpha):
    campaign = make_campaign("peers", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    assert not campaign.results.filter(peer_id=None).exists()
    assert campaign.results.values("peer_id").distinct().count() == 5
