"""A session that cannot connect is a state, not silence (issue 18, item 1): it is recorded on the
session, retried with back-off, its rows go to the campaign's other sessions, and a request whose
connection dropped after it left is retried in doubt with the same random_id from the same session."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from campaigns import engine
from campaigns.models import CampaignStatus, ResultStatus
from campaigns.reporting.home import attention
from campaigns.reporting.progress import progress_snapshot
from sessions_app import clock
from sessions_app.models import SessionStatus, SimulatedDelivery, TelegramSession
from sessions_app.transport import ErrorKind, TransportError
from sessions_app.transport.simulator import SimulatorTransport

from .conftest import make_campaign

pytestmark = pytest.mark.django_db


class Network:
    """Makes the simulator's connect or send fail for chosen sessions, and counts the calls."""

    def __init__(self):
        self.connect_error: dict[int, BaseException] = {}
        # session id → (error, written): the next send raises it, after delivering when written.
        self.send_error: dict[int, tuple[BaseException, bool]] = {}
        self.calls: Counter = Counter()


@pytest.fixture
def network(monkeypatch):
    net = Network()
    real_connect, real_send = SimulatorTransport.connect, SimulatorTransport.send

    async def connect(self):
        net.calls[self.session_id, "connect"] += 1
        if self.session_id in net.connect_error:
            raise net.connect_error[self.session_id]
        await real_connect(self)

    async def send(self, key, message, random_id, **kwargs):
        net.calls[self.session_id, "send"] += 1
        failure = net.send_error.pop(self.session_id, None)
        if failure is None:
            return await real_send(self, key, message, random_id, **kwargs)
        error, written = failure
        if written:
            await real_send(self, key, message, random_id, **kwargs)  # it arrived; the answer is lost
        raise error

    monkeypatch.setattr(SimulatorTransport, "connect", connect)
    monkeypatch.setattr(SimulatorTransport, "send", send)
    return net


def unreachable_error() -> TransportError:
    return TransportError(
        ErrorKind.UNREACHABLE, "CONNECTION_FAILED", "the server speaks another protocol layer"
    )


CONNECT_FAILURES = [
    ConnectionRefusedError(111, "Connect call failed ('10.0.0.1', 443)"),
    OSError(101, "Network is unreachable"),
    TimeoutError(),
    unreachable_error(),
]


@pytest.mark.parametrize("error", CONNECT_FAILURES, ids=lambda e: type(e).__name__)
def test_a_session_that_cannot_connect_is_recorded_and_its_rows_go_to_the_other_session(
    people, alpha, beta, network, error
):
    network.connect_error[alpha.pk] = error
    campaign = make_campaign("one down", [people], [alpha, beta])
    engine.launch(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    assert set(SimulatedDelivery.objects.values_list("session_id", flat=True)) == {beta.pk}
    alpha.refresh_from_db()
    assert alpha.status == SessionStatus.ACTIVE  # nothing is wrong with the account
    # A back-off was set after the failure (compared with the failure, not with now: under load
    # the campaign may finish after the first, one-second back-off has run out).
    assert alpha.unreachable_since is not None and alpha.next_connect_at > alpha.unreachable_since
    assert alpha.last_error_code in ("CONNECTION_FAILED", "TIMEOUT") and alpha.last_error_text
    assert network.calls[alpha.pk, "connect"] == 1


def test_a_session_backing_off_costs_the_next_slices_no_connection_attempt(people, alpha, beta, network):
    network.connect_error[alpha.pk] = ConnectionRefusedError(111, "Connection refused")
    beta.send_delay = 0.15
    beta.save()
    campaign = make_campaign("slow", [people], [alpha, beta])
    engine.launch(campaign, enqueue=False)
    for _ in range(3):
        engine.drive(campaign.pk, seconds=0.2, enqueue_next=False)
    assert network.calls[alpha.pk, "connect"] == 1
    assert network.calls[beta.pk, "connect"] == 3


def test_a_campaign_whose_only_session_cannot_connect_waits_and_says_why(people, alpha, network):
    network.connect_error[alpha.pk] = unreachable_error()
    campaign = make_campaign("alone", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    engine.drive(campaign.pk, seconds=0.5, enqueue_next=False)
    assert engine.drive(campaign.pk, seconds=0.5, enqueue_next=False) == "waiting"
    campaign.refresh_from_db()
    alpha.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING and campaign.wake_at == alpha.next_connect_at
    waits = " ".join(progress_snapshot(campaign)["pace"]["waits"])
    assert "alpha cannot connect since" in waits
    assert "another protocol layer" in waits
    assert [a["name"] for a in attention(clock.now(), links=False)] == ["alpha"]
    assert "cannot connect since" in attention(clock.now(), links=False)[0]["what"]


def test_a_session_that_connects_again_is_no_longer_unreachable(people, alpha):
    past = clock.now() - timedelta(seconds=5)
    TelegramSession.objects.filter(pk=alpha.pk).update(
        unreachable_since=past - timedelta(minutes=10), connect_failures=4, next_connect_at=past
    )
    campaign = make_campaign("back", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    alpha.refresh_from_db()
    assert (alpha.unreachable_since, alpha.connect_failures, alpha.next_connect_at) == (None, 0, None)
    assert attention(clock.now(), links=False) == []


@pytest.mark.parametrize(
    "error",
    [ConnectionResetError(104, "Connection reset by peer"), TimeoutError(), "written"],
    ids=["ConnectionResetError", "TimeoutError", "TransportError-written"],
)
def test_a_send_whose_connection_dropped_after_it_left_is_retried_in_doubt_from_the_same_session(
    people, alpha, beta, network, error, settings
):
    settings.TGC_MAX_IN_FLIGHT = 1  # one request on the wire at a time: the count below is exact
    if error == "written":
        error = unreachable_error()
        error.request_written = True
    network.send_error[alpha.pk] = (error, True)
    campaign = make_campaign("dropped", [people], [alpha, beta])
    engine.launch(campaign, enqueue=False)
    random_ids = dict(campaign.results.values_list("key", "random_id"))
    engine.drive(campaign.pk, seconds=1, enqueue_next=False)
    doubtful = campaign.results.get(session=alpha, in_doubt=True, status=ResultStatus.PENDING)
    assert network.calls[alpha.pk, "send"] == 1  # nothing more left alpha once its connection dropped
    TelegramSession.objects.filter(pk=alpha.pk).update(next_connect_at=clock.now())  # its retry is due
    campaign.results.filter(pk=doubtful.pk).update(next_attempt_at=None)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    assert Counter(SimulatedDelivery.objects.values_list("peer_key", flat=True)) == {
        key: 1 for key in random_ids
    }
    assert dict(campaign.results.values_list("key", "random_id")) == random_ids
    doubtful.refresh_from_db()
    assert (doubtful.status, doubtful.session_id) == (ResultStatus.SENT, alpha.pk)


def test_a_send_that_never_reached_telegram_goes_to_the_other_session(people, alpha, beta, network, settings):
    settings.TGC_MAX_IN_FLIGHT = 1
    network.send_error[alpha.pk] = (unreachable_error(), False)
    campaign = make_campaign("not written", [people], [alpha, beta])
    engine.launch(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    assert network.calls[alpha.pk, "send"] == 1
    assert Counter(SimulatedDelivery.objects.values_list("peer_key", flat=True)) == {
        key: 1 for key in campaign.results.values_list("key", flat=True)
    }
    assert not campaign.results.filter(session=alpha).exists()
