"""The effect of each error kind on row, session and campaign: a one-recipient campaign through a
Telethon session, the fake Telegram raising each real Telethon class (docs/design.md "Error kinds")."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone
from telethon import errors as tg

from campaigns import engine
from campaigns.engine.outcomes import (
    POLICY,
    CampaignEffect,
    Doubt,
    OutcomeKind,
    Policy,
    SessionEffect,
    Transition,
    policy_of,
)
from campaigns.models import CampaignStatus, DeliveryAttempt, MessageResult, ResultStatus
from sessions_app.models import Backend, SessionKind, SessionStatus, TelegramSession
from sessions_app.transport.base import ErrorKind
from tests.conftest import make_campaign, make_list, make_session
from tests.fakes import SendMessageRequest, telegram_fixture  # noqa: F401  (the "telegram" fixture)
from tests.test_errors import TABLE, make

pytestmark = pytest.mark.django_db

SLICE = 1.0  # seconds: an upper bound for one drive, not a timing under test


@pytest.fixture
def world(telegram):
    telegram.alice = telegram.add_account("+4915100000001")
    telegram.bob = telegram.add_user(username="bob_smith")
    session = TelegramSession(
        name="alice",
        kind=SessionKind.USER,
        backend=Backend.TELETHON,
        status=SessionStatus.ACTIVE,
        send_delay=0,
        max_per_minute=0,
        daily_cap=0,
    )
    session.session_string = telegram.log_in(telegram.alice)
    session.save()
    telegram.session = session
    telegram.campaign = make_campaign(
        "spring", [make_list("one", [("@bob_smith", {"first_name": "Bob"})])], [session]
    )
    return telegram


def run_once(world):
    """Launch and drive one slice; returns (row, session, campaign) reloaded."""
    engine.launch(world.campaign, enqueue=False)
    engine.drive(world.campaign.pk, seconds=SLICE, enqueue_next=False)
    world.campaign.refresh_from_db()
    world.session.refresh_from_db()
    return MessageResult.objects.get(campaign=world.campaign), world.session, world.campaign


def rows_of(kind: ErrorKind) -> list:
    return [pytest.param(cls, code, id=cls.__name__) for cls, k, code in TABLE if k is kind]


def test_a_clean_send_marks_the_row_sent_with_telegrams_message_id(world):
    row, session, campaign = run_once(world)

    assert row.status == ResultStatus.SENT and row.telegram_message_id
    (sent,) = world.of_type(SendMessageRequest)
    assert sent.random_id == row.random_id
    assert campaign.status == CampaignStatus.COMPLETED


def test_random_id_duplicate_marks_the_row_sent(world):
    world.fail(tg.RandomIdDuplicateError(request=None), on=SendMessageRequest)

    row, session, campaign = run_once(world)

    assert row.status == ResultStatus.SENT
    assert DeliveryAttempt.objects.get(result=row).outcome == DeliveryAttempt.Outcome.DUPLICATE
    assert campaign.status == CampaignStatus.COMPLETED


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (tg.FloodWaitError(request=None, capture=120), "FLOOD_WAIT"),
        (tg.FloodPremiumWaitError(request=None, capture=120), "FLOOD_PREMIUM_WAIT"),
        (tg.SlowModeWaitError(request=None, capture=120), "SLOWMODE_WAIT"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else v,
)
def test_a_flood_wait_holds_the_session_exactly_that_long_and_keeps_the_row(world, error, code):
    world.fail(error, on=SendMessageRequest)
    before = timezone.now()

    row, session, campaign = run_once(world)

    assert row.status == ResultStatus.PENDING and row.attempts == 0
    assert session.status == SessionStatus.ACTIVE and session.last_error_code == code
    assert (
        before + timedelta(seconds=119) <= session.flood_wait_until <= timezone.now() + timedelta(seconds=121)
    )
    assert campaign.status == CampaignStatus.RUNNING
    assert len(world.of_type(SendMessageRequest)) == 1  # nothing left the session during the wait


@pytest.mark.parametrize(("cls", "code"), rows_of(ErrorKind.TRANSIENT))
def test_a_transient_error_counts_an_attempt_and_retries_later(world, cls, code):
    world.fail(make(cls), on=SendMessageRequest)

    row, session, campaign = run_once(world)

    assert (row.status, row.attempts, row.error_code) == (ResultStatus.PENDING, 1, code)
    assert row.next_attempt_at is not None
    assert session.status == SessionStatus.ACTIVE
    assert campaign.status == CampaignStatus.RUNNING


@pytest.mark.parametrize(("cls", "code"), rows_of(ErrorKind.RECIPIENT))
def test_a_recipient_error_fails_the_row_without_retry(world, cls, code):
    world.fail(make(cls), on=SendMessageRequest)

    row, session, campaign = run_once(world)

    assert (row.status, row.error_code) == (ResultStatus.FAILED, code)
    assert session.status == SessionStatus.ACTIVE
    assert campaign.status == CampaignStatus.COMPLETED
    assert len(world.of_type(SendMessageRequest)) == 1


@pytest.mark.parametrize(("cls", "code"), rows_of(ErrorKind.CONTENT))
def test_a_content_error_pauses_the_campaign_with_the_reason(world, cls, code):
    world.fail(make(cls), on=SendMessageRequest)

    row, session, campaign = run_once(world)

    assert campaign.status == CampaignStatus.PAUSED and code in campaign.status_reason
    assert row.status == ResultStatus.PENDING
    assert session.status == SessionStatus.ACTIVE


@pytest.mark.parametrize(("cls", "code"), rows_of(ErrorKind.SESSION))
def test_a_session_error_disables_the_session(world, cls, code):
    world.fail(make(cls), on=SendMessageRequest)

    row, session, campaign = run_once(world)

    assert (session.status, session.last_error_code) == (SessionStatus.DISABLED, code)
    assert row.status == ResultStatus.PENDING  # not sent, waiting for a usable session
    assert campaign.status == CampaignStatus.PAUSED  # it was the only session


@pytest.mark.parametrize(("cls", "code"), rows_of(ErrorKind.SPAM_LIMITED))
def test_a_spam_limit_quarantines_the_session_and_pauses_for_a_human(world, cls, code):
    world.fail(make(cls), on=SendMessageRequest)

    row, session, campaign = run_once(world)

    assert (session.status, session.last_error_code) == (SessionStatus.QUARANTINED, code)
    assert campaign.status == CampaignStatus.PAUSED and "spam-limited" in campaign.status_reason
    assert row.status == ResultStatus.PENDING


def test_a_session_error_moves_the_rows_to_a_healthy_session(world):
    backup = make_session("backup")  # a simulated session: the engine drives both alike
    world.campaign.sessions.add(backup)
    world.campaign.strategy = "round_robin"
    world.campaign.save()
    world.fail(tg.AuthKeyUnregisteredError(request=None), on=SendMessageRequest)
    engine.launch(world.campaign, enqueue=False)
    MessageResult.objects.filter(campaign=world.campaign).update(session=world.session)

    status = engine.run_until_done(world.campaign, max_seconds=30, slice_seconds=SLICE)

    row = MessageResult.objects.get(campaign=world.campaign)
    assert status == CampaignStatus.COMPLETED
    assert (row.status, row.session_id) == (ResultStatus.SENT, backup.pk)
    assert TelegramSession.objects.get(pk=world.session.pk).status == SessionStatus.DISABLED


@pytest.mark.parametrize(
    ("text", "code", "row_status", "session_status", "campaign_status"),
    [
        (
            "ALLOW_PAYMENT_REQUIRED_100",
            406,
            ResultStatus.FAILED,
            SessionStatus.ACTIVE,
            CampaignStatus.COMPLETED,
        ),
        (
            "SOMETHING_NEW_UNAUTHORIZED",
            401,
            ResultStatus.PENDING,
            SessionStatus.DISABLED,
            CampaignStatus.PAUSED,
        ),
        (
            "SOMETHING_NEW_LIMITED",
            420,
            ResultStatus.PENDING,
            SessionStatus.QUARANTINED,
            CampaignStatus.PAUSED,
        ),
    ],
)
def test_unlisted_rpc_errors_take_the_effect_of_their_code(
    world, text, code, row_status, session_status, campaign_status
):
    error = tg.rpc_message_to_error(SimpleNamespace(error_message=text, error_code=code), None)
    world.fail(error, on=SendMessageRequest)

    row, session, campaign = run_once(world)

    assert (row.status, session.status, campaign.status) == (row_status, session_status, campaign_status)
    assert text in (row.error_code if row_status == ResultStatus.FAILED else session.last_error_code)


# The outcome policy (campaigns.engine.outcomes.POLICY), row by row ---------------------------------
# Each ErrorKind raised once by a simulated session: the row, its attempt, the session and the
# campaign end as the table says. The Telethon tests above hold the classification; these hold the
# table to what the engine does.
def test_every_error_kind_has_a_row_in_the_outcome_policy():
    assert {OutcomeKind.of(kind) for kind in ErrorKind} | {OutcomeKind.SENT} == set(POLICY)
    assert all(isinstance(policy_of(kind), Policy) for kind in ErrorKind)


ROW_STATUS = {
    Transition.MARK_SENT: ResultStatus.SENT,
    Transition.FAIL: ResultStatus.FAILED,
    Transition.SKIP: ResultStatus.SKIPPED,
    Transition.RETRY: ResultStatus.PENDING,
    Transition.BACK_TO_POOL: ResultStatus.PENDING,
}
SESSION_STATUS = {
    SessionEffect.NONE: SessionStatus.ACTIVE,
    SessionEffect.FLOOD_WAIT: SessionStatus.ACTIVE,
    SessionEffect.DISABLE: SessionStatus.DISABLED,
    SessionEffect.QUARANTINE: SessionStatus.QUARANTINED,
    SessionEffect.BACK_OFF: SessionStatus.ACTIVE,
}


@pytest.mark.parametrize("kind", list(ErrorKind), ids=lambda k: k.value)
def test_each_error_kind_does_what_its_policy_row_says(kind, monkeypatch):
    from sessions_app.transport import simulator

    code = "FLOOD_WAIT_120" if kind is ErrorKind.FLOOD else f"SIMULATED_{kind.value.upper()}"
    monkeypatch.setitem(simulator.SIMULATED_CODES, code, kind)
    session = make_session("alpha", simulator_config={"script": {"@bob": [code]}})
    campaign = make_campaign("spring", [make_list("one", [("@bob", {})])], [session])
    policy = policy_of(kind)

    engine.launch(campaign, enqueue=False)
    engine.drive(campaign.pk, seconds=SLICE, enqueue_next=False)

    row = MessageResult.objects.get(campaign=campaign)
    attempt = DeliveryAttempt.objects.get(result=row)
    session.refresh_from_db()
    campaign.refresh_from_db()
    assert row.status == ROW_STATUS[policy.transition]
    assert row.attempts == (1 if policy.counts_attempt else 0)
    assert row.in_doubt is (policy.doubt is Doubt.KEPT)
    assert (row.next_attempt_at is not None) is (policy.transition is Transition.RETRY)
    if policy.transition is Transition.BACK_TO_POOL:
        assert row.session_id is None  # back in the pool: any session may take it
    assert (attempt.outcome, attempt.requested) == (policy.attempt, policy.requested)
    assert session.status == SESSION_STATUS[policy.session]
    assert (session.last_error_code != "") is (policy.session is not SessionEffect.NONE)
    assert (session.flood_wait_left() > 100) is (policy.session is SessionEffect.FLOOD_WAIT)
    assert (campaign.status == CampaignStatus.PAUSED) is (policy.campaign is not CampaignEffect.NONE)


def test_a_retry_whose_attempts_are_spent_fails_the_row():
    session = make_session("alpha", simulator_config={"script": {"@bob": ["RPC_CALL_FAIL"]}})
    campaign = make_campaign("spring", [make_list("one", [("@bob", {})])], [session], max_attempts=1)

    engine.launch(campaign, enqueue=False)
    engine.drive(campaign.pk, seconds=SLICE, enqueue_next=False)

    row = MessageResult.objects.get(campaign=campaign)
    assert (row.status, row.attempts, row.error_code) == (ResultStatus.FAILED, 1, "RPC_CALL_FAIL")
    assert DeliveryAttempt.objects.get(result=row).outcome == DeliveryAttempt.Outcome.FAILED
