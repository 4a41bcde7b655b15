"""After the send: read receipts and replies (campaigns.engine.engagement), live through the listener
and by the catch-up, against the fake Telegram's real TL updates and answers, and the simulator's
seeded audience."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.utils import timezone
from telethon import errors as tg
from telethon import types

from campaigns import engine
from campaigns.engine import engagement as after
from campaigns.engine import listener
from campaigns.models import Campaign, CampaignStatus, MessageResult, Reply, Suppression
from sessions_app.models import Backend, SessionKind, SessionStatus, TelegramSession
from sessions_app.transport.base import Incoming, PeerRef
from tests.conftest import make_campaign, make_list, make_session
from tests.fakes import (
    GetHistoryRequest,
    GetPeerDialogsRequest,
    ReadHistoryRequest,
    telegram_fixture,  # noqa: F401  (the "telegram" fixture)
)

pytestmark = pytest.mark.django_db


# The world: alice (a Telethon user account) sent a campaign to bob and carol ------------------
@pytest.fixture
def world(telegram):
    telegram.alice = telegram.add_account("+4915100000001")
    telegram.bob = telegram.add_user(username="Bob_Smith")
    telegram.carol = telegram.add_user(username="carol_c")
    session = TelegramSession(
        name="alice", status=SessionStatus.ACTIVE, backend=Backend.TELETHON, send_delay=0, max_per_minute=0
    )
    session.session_string = telegram.log_in(telegram.alice)
    session.save()
    telegram.session = session
    people = make_list("people", [("@bob_smith", {}), ("@carol_c", {})])
    campaign = make_campaign("spring", [people], [session])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=10)
    telegram.campaign = Campaign.objects.get(pk=campaign.pk)
    assert telegram.campaign.results.filter(status="sent").count() == 2
    return telegram


def sent_to_many(world, n: int) -> None:
    """A finished campaign of alice's to ``n`` more people (rows written as the engine does;
    sending 120 cold messages would meet the username look-up pace)."""
    from sessions_app.models import ResolvedPeer

    campaign = Campaign.objects.create(
        name="many", status=CampaignStatus.COMPLETED, launched_at=timezone.now()
    )
    for i in range(n):
        user = world.add_user(username=f"user_{i:03d}")
        account_id = world.alice.user.id
        ResolvedPeer.objects.create(
            session=world.session,
            key=f"@{user.username}",
            peer_id=user.id,
            access_hash=world.access_hash(account_id, user.id),
        )
        message_id = next(world._message_ids)
        world.chats[(account_id, user.id)] = [
            types.Message(
                id=message_id, peer_id=types.PeerUser(user.id), date=datetime.now(UTC), message="Hi", out=True
            )
        ]
        MessageResult.objects.create(
            campaign=campaign,
            key=f"@{user.username}",
            status="sent",
            session=world.session,
            peer_id=user.id,
            telegram_message_id=message_id,
            sent_at=timezone.now(),
        )


def result_of(world, key: str) -> MessageResult:
    return MessageResult.objects.get(campaign=world.campaign, key=key)


def listen(world, *steps) -> None:
    """Run the listener on alice's session while ``steps`` (coroutine functions) happen."""

    async def scenario():
        stop = asyncio.Event()
        transport = world.session.transport()
        recorder = after.Recorder(world.session, transport)
        await transport.connect()
        task = asyncio.ensure_future(
            transport.watch(recorder.on_read, recorder.on_incoming, stop=stop, catch_up_unread=False)
        )
        await asyncio.sleep(0)
        for step in steps:
            await step()
        stop.set()
        await task
        await transport.disconnect()

    async_to_sync(scenario)()


# Reads, live --------------------------------------------------------------------------------
def test_a_live_read_mark_sets_read_at_on_the_rows_at_or_below_it(world):
    bob_id = world.sent_to(world.alice, world.bob)[-1]

    listen(world, lambda: world.read(world.alice, world.bob, bob_id))

    assert result_of(world, "@bob_smith").read_at is not None
    assert result_of(world, "@carol_c").read_at is None


def test_a_read_mark_below_the_message_reads_nothing(world):
    bob_id = world.sent_to(world.alice, world.bob)[-1]

    listen(world, lambda: world.read(world.alice, world.bob, bob_id - 1))

    assert result_of(world, "@bob_smith").read_at is None


def test_a_repeated_read_mark_keeps_the_first_read_time(world):
    result = result_of(world, "@bob_smith")
    first = timezone.now() - timedelta(hours=1)
    assert after.record_read(world.session.pk, result.peer_id, result.telegram_message_id, first) == 1

    assert after.record_read(world.session.pk, result.peer_id, result.telegram_message_id) == 0
    result.refresh_from_db()
    assert result.read_at == first


# Replies, live --------------------------------------------------------------------------------
def test_a_live_reply_is_recorded_against_the_result_it_answers(world):
    listen(world, lambda: world.incoming(world.alice, world.bob, "How much is it?"))

    result = result_of(world, "@bob_smith")
    reply = Reply.objects.get()
    assert (reply.result, reply.campaign, reply.session) == (result, world.campaign, world.session)
    assert (reply.text, reply.peer_id, reply.is_opt_out) == ("How much is it?", world.bob.id, False)
    assert result.reply_count == 1
    assert result.replied_at == reply.received_at
    assert result.read_at == reply.received_at  # a reply implies it was read


def test_a_second_reply_counts_but_keeps_the_first_reply_time(world):
    async def two():
        await world.incoming(world.alice, world.bob, "hello")
        await world.incoming(world.alice, world.bob, "still there?")

    listen(world, two)

    result = result_of(world, "@bob_smith")
    first = Reply.objects.order_by("message_id").first()
    assert result.reply_count == 2
    assert result.replied_at == first.received_at


def test_a_message_from_someone_the_session_never_messaged_is_no_reply(world):
    stranger = world.add_user(username="stranger_x")

    listen(world, lambda: world.incoming(world.alice, stranger, "hi"))

    assert not Reply.objects.exists()


def test_the_same_reply_seen_twice_is_stored_once(world):
    result = result_of(world, "@bob_smith")
    incoming = Incoming(world.bob.id, result.telegram_message_id + 5, "hi", datetime.now(UTC), "Bob_Smith")

    assert after.record_incoming(world.session.pk, incoming) is not None
    assert after.record_incoming(world.session.pk, incoming) is None

    result.refresh_from_db()
    assert Reply.objects.count() == 1 and result.reply_count == 1


def test_a_stop_reply_is_recorded_and_suppresses_every_identity_of_the_person(world):
    from campaigns.models import Recipient, RecipientIdentity

    result = result_of(world, "@bob_smith")
    RecipientIdentity.objects.create(
        recipient=Recipient.objects.get(key="@bob_smith"), key="+4915199999999", kind="phone"
    )
    MessageResult.objects.filter(pk=result.pk).update(recipient=Recipient.objects.get(key="@bob_smith"))

    listen(world, lambda: world.incoming(world.alice, world.bob, "Stop!"))

    assert Reply.objects.get().is_opt_out
    assert set(Suppression.objects.values_list("key", flat=True)) == {
        "@bob_smith",
        str(world.bob.id),
        "+4915199999999",
    }


def test_the_opt_out_listener_records_replies_and_reads_too(world):
    """One listener per session feeds both: listen_round records the reply and the opt-out."""
    world.unread_dialog(world.alice, world.bob, "STOP")

    assert listener.listen_round("optout:test", window=0) == [world.session.pk]

    assert Reply.objects.get().is_opt_out
    assert Suppression.objects.filter(key=str(world.bob.id)).exists()


def test_a_reply_does_not_mark_the_chat_read_by_default(world):
    listen(world, lambda: world.incoming(world.alice, world.bob, "hi"))

    assert world.of_type(ReadHistoryRequest) == []


def test_a_reply_marks_the_chat_read_when_staff_chose_it(world):
    TelegramSession.objects.filter(pk=world.session.pk).update(mark_replies_read=True)
    world.session.refresh_from_db()

    async def reply():
        world.last = await world.incoming(world.alice, world.bob, "hi")

    listen(world, reply)

    [read] = world.of_type(ReadHistoryRequest)
    assert (read.request.peer.user_id, read.request.max_id) == (world.bob.id, world.last.id)


# The catch-up -----------------------------------------------------------------------------------
def run_catch_up(world, **kwargs) -> after.CatchUpReport:
    reports = after.catch_up("catchup:test", **kwargs)
    world.session.refresh_from_db()
    return reports.get("alice", after.CatchUpReport(stopped="not run"))


def test_the_catch_up_records_reads_and_replies_missed_while_nobody_listened(world):
    async def offline():
        await world.read(world.alice, world.bob, world.sent_to(world.alice, world.bob)[-1], online=False)
        await world.incoming(world.alice, world.carol, "Thanks!", online=False)

    async_to_sync(offline)()

    report = run_catch_up(world)

    assert result_of(world, "@bob_smith").read_at is not None
    carol = result_of(world, "@carol_c")
    assert carol.reply_count == 1 and Reply.objects.get().text == "Thanks!"
    [dialogs] = world.of_type(GetPeerDialogsRequest)
    assert {p.peer.user_id for p in dialogs.request.peers} == {world.bob.id, world.carol.id}
    assert len(world.of_type(GetHistoryRequest)) == 1  # only carol's dialog has news
    assert report.replies == 1 and report.stopped == ""
    assert world.of_type(ReadHistoryRequest) == []  # not marked read unless staff chose it
    assert world.session.lease_owner == ""  # released after the round


def test_the_catch_up_asks_for_at_most_a_hundred_peers_per_request(world):
    sent_to_many(world, 120)

    run_catch_up(world)

    sizes = [len(r.request.peers) for r in world.of_type(GetPeerDialogsRequest)]
    assert sum(sizes) == 122 and max(sizes) == 100


def test_a_reply_seen_live_and_again_by_the_catch_up_is_stored_once(world):
    listen(world, lambda: world.incoming(world.alice, world.bob, "hello"))

    run_catch_up(world)

    assert Reply.objects.count() == 1
    assert result_of(world, "@bob_smith").reply_count == 1


def test_the_catch_up_honours_a_flood_wait_and_keeps_its_cursor(world):
    world.fail(tg.FloodWaitError(request=None, capture=120), on=GetPeerDialogsRequest)

    report = run_catch_up(world)

    assert report.stopped == "FloodWait"
    assert world.session.flood_wait_until > timezone.now() + timedelta(seconds=100)
    assert world.session.catch_up_cursor == 0

    # While the wait lasts, no request leaves the session.
    before = len(world.of_type(GetPeerDialogsRequest))
    assert run_catch_up(world).stopped == "FloodWait"
    assert len(world.of_type(GetPeerDialogsRequest)) == before


def test_the_catch_up_skips_bot_sessions(world):
    TelegramSession.objects.filter(pk=world.session.pk).update(kind=SessionKind.BOT)

    assert after.catch_up("catchup:test") == {}
    assert world.of_type(GetPeerDialogsRequest) == []


def test_the_catch_up_leaves_campaigns_older_than_the_window(world, settings):
    settings.TGC_AFTER_SEND_DAYS = 7
    Campaign.objects.filter(pk=world.campaign.pk).update(launched_at=timezone.now() - timedelta(days=8))

    assert after.catch_up("catchup:test") == {}
    assert world.of_type(GetPeerDialogsRequest) == []


def test_the_catch_up_leaves_sessions_a_running_campaign_uses(world):
    running = Campaign.objects.create(name="now", status=CampaignStatus.RUNNING)
    running.sessions.add(world.session)

    assert after.catch_up("catchup:test") == {}


def test_a_campaign_asleep_until_its_window_opens_leaves_its_sessions_to_the_catch_up(world):
    # Quiet hours (or a daily cap) put a running campaign to sleep for hours: reads, replies and
    # STOPs on its sessions must not wait for 09:00 tomorrow.
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.engine.listener import listenable_sessions

    asleep = Campaign.objects.create(
        name="asleep", status=CampaignStatus.RUNNING, wake_at=timezone.now() + timedelta(hours=9)
    )
    asleep.sessions.add(world.session)

    assert world.session.name in after.catch_up("catchup:test")
    assert world.session in listenable_sessions()
    Campaign.objects.filter(pk=asleep.pk).update(wake_at=timezone.now() + timedelta(seconds=10))
    assert after.catch_up("catchup:test") == {}  # waking within a minute: sending again
    assert world.session not in listenable_sessions()


def test_the_catch_up_stops_when_a_running_campaign_wants_the_session(world):
    sent_to_many(world, 120)
    wanting = Campaign.objects.create(name="now", status=CampaignStatus.DRAFT)
    wanting.sessions.add(world.session)

    class Transport:
        """The real transport, and a campaign starts right after the first request."""

        def __init__(self, real):
            self.real = real

        async def dialog_states(self, peers):
            states = await self.real.dialog_states(peers)
            await sync_to_async(Campaign.objects.filter(pk=wanting.pk).update)(status="running")
            return states

        def __getattr__(self, name):
            return getattr(self.real, name)

    async def once():
        transport = world.session.transport()
        try:
            return await after.catch_up_session(world.session, Transport(transport))
        finally:
            await transport.disconnect()

    report = async_to_sync(once)()

    assert report.stopped == "a running campaign wants the session"
    assert len(world.of_type(GetPeerDialogsRequest)) == 1


def test_the_catch_up_is_paced_by_the_sessions_delay(world):
    sent_to_many(world, 120)
    TelegramSession.objects.filter(pk=world.session.pk).update(send_delay=7.5)
    world.session.refresh_from_db()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def once():
        transport = world.session.transport()
        try:
            return await after.catch_up_session(world.session, transport, sleep=sleep)
        finally:
            await transport.disconnect()

    report = async_to_sync(once)()

    assert report.requests == 2 and slept == [7.5]


# The simulator's audience ---------------------------------------------------------------------
def test_the_simulators_audience_reads_and_replies_and_bots_never_read():
    keys = [f"@person_{i:03d}" for i in range(60)]
    people = make_list("people", [(k, {}) for k in keys])
    audience = {
        "read_rate": 0.6,
        "read_after_s": [0, 0],
        "reply_rate": 0.5,
        "reply_after_s": [0, 0],
        "replies": ["Thanks!", "STOP"],
    }
    user = make_session("user", kind="user", simulator_config=audience)
    bot = make_session("bot", kind="bot", simulator_config=audience)
    campaign = make_campaign("demo", [people], [user, bot], strategy="round_robin")
    engine.launch(campaign, enqueue=False)
    # Every message sent (a loaded machine takes longer; an unfinished send would read as "no reply").
    assert engine.run_until_done(campaign, max_seconds=120) == "completed"

    after.catch_up("catchup:test")

    sent = campaign.results.filter(status="sent")
    by_user, by_bot = sent.filter(session=user), sent.filter(session=bot)
    assert by_user.exists() and by_bot.exists()
    assert 0 < by_user.filter(read_at__isnull=False).count() < by_user.count()
    assert Reply.objects.filter(session=user).exists()
    assert Reply.objects.filter(is_opt_out=True).exists()
    assert not by_bot.filter(read_at__isnull=False).exists()


def test_simulated_message_ids_grow():
    from sessions_app.transport.simulator import next_message_id

    ids = [next_message_id() for _ in range(50)]
    assert ids == sorted(set(ids))


def test_the_simulators_catch_up_is_the_same_story_every_time():
    people = make_list("people", [(f"@person_{i:03d}", {}) for i in range(20)])
    user = make_session("user", kind="user", simulator_config={"read_rate": 0.5, "read_after_s": [0, 0]})
    campaign = make_campaign("demo", [people], [user])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    transport = user.transport()
    peers = [PeerRef(r.peer_id, None, r.key) for r in campaign.results.filter(status="sent").order_by("pk")]

    first = async_to_sync(transport.dialog_states)(peers)
    again = async_to_sync(transport.dialog_states)(peers)

    assert first == again and any(s.read_outbox_max_id for s in first)


def test_one_sessions_failing_catch_up_does_not_end_the_round_for_the_others(monkeypatch):
    people = make_list("people", [(f"@person_{i:03d}", {}) for i in range(20)])
    config = {"read_rate": 1.0, "read_after_s": [0, 0]}
    first = make_session("first", kind="user", simulator_config=config)
    second = make_session("second", kind="user", simulator_config=config)
    campaign = make_campaign("two", [people], [first, second])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    real = after.catch_up_session

    async def broken_for_first(session, transport, **kwargs):
        if session.name == "first":
            raise RuntimeError("the database went away")
        return await real(session, transport, **kwargs)

    monkeypatch.setattr(after, "catch_up_session", broken_for_first)

    reports = after.catch_up()

    assert reports["first"].stopped == "ERROR"
    assert reports["second"].read > 0
    assert campaign.results.filter(session=second, read_at__isnull=False).exists()
