"""Settling a batch (campaigns.engine.settling.apply_outcomes): each row takes its transition of the
outcome policy, the rows of one transition in one UPDATE whatever their errors."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import engine
from campaigns.engine import claiming, settling
from campaigns.engine.outcomes import Outcome, OutcomeKind
from campaigns.models import CODE_DUPLICATE, DeliveryAttempt, MessageResult, ResultStatus
from sessions_app.transport import ErrorKind, TransportError
from tests.conftest import make_campaign, make_list, make_session

pytestmark = pytest.mark.django_db

OWNER = "worker:1:0"
ANSWERS = [  # (error kind, code) per row, in row order
    (ErrorKind.RECIPIENT, "USER_PRIVACY_RESTRICTED"),
    (ErrorKind.RECIPIENT, "USER_IS_BLOCKED"),
    (ErrorKind.TRANSIENT, "RPC_CALL_FAIL"),
    (ErrorKind.FLOOD, "FLOOD_WAIT"),
    (ErrorKind.SESSION, "AUTH_KEY_UNREGISTERED"),  # this row was in doubt: it stays on its session
    (ErrorKind.SUPPRESSED, CODE_DUPLICATE),  # another row reached the same person
]


@pytest.fixture
def settled():
    """A batch of six claimed rows settled with :data:`ANSWERS`; the UPDATEs of the results table
    it took, and the rows and session."""
    session = make_session("alpha")
    campaign = make_campaign("spring", [make_list("one", [(f"@user{i}", {}) for i in range(6)])], [session])
    engine.launch(campaign, enqueue=False)
    rows = claiming.claim_rows(campaign.pk, session.pk, OWNER, 6)
    rows[4].in_doubt = True  # as a row pinned after a crash is claimed
    now = timezone.now()
    outcomes = [
        Outcome(row, OutcomeKind.of(kind), now, now, error=TransportError(kind, code, seconds=5))
        for row, (kind, code) in zip(rows, ANSWERS, strict=True)
    ]
    table = MessageResult._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        settling.apply_outcomes(campaign, session, OWNER, outcomes, [])
    updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and table in q["sql"]]
    return updates, list(MessageResult.objects.filter(campaign=campaign).order_by("id")), session


def test_the_rows_of_each_transition_are_written_in_one_update(settled):
    updates, _, _ = settled

    assert len(updates) == 4  # fail, retry, back to the pool, skip: not one per row


def test_each_row_keeps_its_own_error_and_takes_its_transition(settled):
    _, rows, session = settled

    assert [(r.status, r.error_code, r.attempts) for r in rows] == [
        (ResultStatus.FAILED, "USER_PRIVACY_RESTRICTED", 1),
        (ResultStatus.FAILED, "USER_IS_BLOCKED", 1),
        (ResultStatus.PENDING, "RPC_CALL_FAIL", 1),
        (ResultStatus.PENDING, "FLOOD_WAIT", 0),
        (ResultStatus.PENDING, "AUTH_KEY_UNREGISTERED", 0),
        (ResultStatus.SKIPPED, CODE_DUPLICATE, 0),
    ]
    assert [r.in_doubt for r in rows] == [False, False, True, False, True, False]
    assert [r.session_id for r in rows[2:5]] == [session.pk, None, session.pk]  # retry and doubt stay
    assert rows[2].next_attempt_at is not None and rows[3].next_attempt_at is None
    assert all(r.claimed_by == "" for r in rows)


def test_each_request_gets_the_attempt_outcome_of_its_answer(settled):
    _, rows, _ = settled

    outcomes = [DeliveryAttempt.objects.get(result=r).outcome for r in rows]
    assert outcomes == ["failed", "failed", "retry", "flood", "session", "same_person"]


def test_rows_another_process_took_over_are_left_alone():
    session = make_session("alpha")
    campaign = make_campaign("spring", [make_list("one", [("@user1", {})])], [session])
    engine.launch(campaign, enqueue=False)
    (row,) = claiming.claim_rows(campaign.pk, session.pk, OWNER, 1)
    MessageResult.objects.filter(pk=row.id).update(claimed_by="another:2:0")  # the reaper gave it on
    now = timezone.now()
    error = TransportError(ErrorKind.RECIPIENT, "USER_IS_BLOCKED")

    settling.apply_outcomes(
        campaign, session, OWNER, [Outcome(row, OutcomeKind.RECIPIENT, now, now, error=error)], []
    )

    assert MessageResult.objects.get(pk=row.id).status == ResultStatus.SENDING
