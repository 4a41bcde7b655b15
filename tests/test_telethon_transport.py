"""TelethonTransport against a fake Telegram at the TelegramClient boundary (tests/fakes.py)."""

from __future__ import annotations

import inspect
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone
from telethon import TelegramClient, types
from telethon import errors as tg

from sessions_app.contacts import forget_imported_contacts
from sessions_app.models import ResolvedPeer, SessionKind, SessionStatus, TelegramSession
from sessions_app.transport.base import ErrorKind, MediaSpec, OutgoingMessage, SendResult, TransportError
from sessions_app.transport.telethon_transport import TelethonTransport
from tests.fakes import (
    DeleteContactsRequest,
    FakeTelegramClient,
    ImportContactsRequest,
    ResolveUsernameRequest,
    SendMediaRequest,
    SendMessageRequest,
    telegram_fixture,  # noqa: F401  (the "telegram" fixture)
)

pytestmark = pytest.mark.django_db

BOB_PHONE = "+4915100000003"


def run(coroutine_function, *args, **kwargs):
    """Run an async scenario with the ORM reachable from it (async_to_sync keeps the test thread)."""
    return async_to_sync(coroutine_function)(*args, **kwargs)


@pytest.fixture
def world(telegram):
    """Alice's account sends; Bob (username and phone) and Carol (username) receive."""
    world = telegram
    world.alice = world.add_account("+4915100000001", username="alice_sends")
    world.bob = world.add_user(username="bob_smith", phone=BOB_PHONE)
    world.carol = world.add_user(username="carol")
    world.dave = world.add_user()  # no username: reachable only by id
    return world


def make_session(world, account, name="alice", kind=SessionKind.USER) -> TelegramSession:
    session = TelegramSession(name=name, kind=kind, status=SessionStatus.ACTIVE)
    session.session_string = world.log_in(account)
    session.save()
    return session


@pytest.fixture
def alice(world) -> TelegramSession:
    return make_session(world, world.alice)


async def send_all(session, keys, message, *, first_random_id=1000, transport=None):
    transport = transport or session.transport()
    await transport.connect()
    try:
        return [
            await transport.send(key, message, first_random_id + i) for i, key in enumerate(keys)
        ], transport
    finally:
        await transport.disconnect()


def media_file(tmp_path, name="promo.jpg", media_type="photo", **extra) -> MediaSpec:
    path = tmp_path / name
    path.write_bytes(b"\x00" * 1000)
    return MediaSpec(path=str(path), media_type=media_type, file_name=name, size=1000, **extra)


# Client construction ---------------------------------------------------------------------------
def test_the_client_never_sleeps_through_flood_waits(world, alice):
    run(send_all, alice, ["@bob_smith"], OutgoingMessage("hi"))

    kwargs = world.clients[0].kwargs
    assert kwargs["flood_sleep_threshold"] == 0
    assert kwargs["raise_last_call_error"] is True


def test_a_telethon_session_builds_the_telethon_transport(alice):
    assert isinstance(alice.transport(), TelethonTransport)


def test_the_fake_client_keeps_telegram_clients_signatures():
    for name, member in vars(FakeTelegramClient).items():
        if name.startswith("_") and name not in ("__init__", "__call__") or not callable(member):
            continue
        real = inspect.signature(getattr(TelegramClient, name)).parameters
        fake = inspect.signature(member).parameters
        unknown = [p for p in fake if p not in real and fake[p].kind is not inspect.Parameter.VAR_KEYWORD]
        assert not unknown, f"{name}: {unknown} not in TelegramClient.{name}"


# Text, entities, random_id ---------------------------------------------------------------------
def test_it_sends_html_entities_and_the_rows_random_id(world, alice):
    (result,), _ = run(
        send_all, alice, ["@bob_smith"], OutgoingMessage("<b>Hello</b> Bob", "html"), first_random_id=77
    )

    (sent,) = world.of_type(SendMessageRequest)
    assert sent.random_id == 77
    assert sent.request.message == "Hello Bob"
    assert [type(e) for e in sent.request.entities] == [types.MessageEntityBold]
    assert (sent.request.entities[0].offset, sent.request.entities[0].length) == (0, 5)
    assert isinstance(result, SendResult) and result.message_id is not None and not result.duplicate


def test_it_sends_markdown_entities(world, alice):
    run(
        send_all,
        alice,
        ["@bob_smith"],
        OutgoingMessage("Visit [our shop](https://example.com) **now**", "markdown"),
    )

    (sent,) = world.of_type(SendMessageRequest)
    assert sent.request.message == "Visit our shop now"
    assert {type(e) for e in sent.request.entities} == {types.MessageEntityTextUrl, types.MessageEntityBold}


def test_plain_text_goes_without_entities(world, alice):
    run(send_all, alice, ["@bob_smith"], OutgoingMessage("<b>not bold</b>"))

    (sent,) = world.of_type(SendMessageRequest)
    assert sent.request.message == "<b>not bold</b>"
    assert sent.request.entities is None


def test_a_resend_with_the_same_random_id_is_reported_as_already_delivered(world, alice):
    (first,), _ = run(send_all, alice, ["@bob_smith"], OutgoingMessage("hi"), first_random_id=5)
    (again,), _ = run(send_all, alice, ["@bob_smith"], OutgoingMessage("hi"), first_random_id=5)

    assert first.message_id is not None
    assert again == SendResult(message_id=None, duplicate=True)
    assert [r.random_id for r in world.of_type(SendMessageRequest)] == [5, 5]


# Peers -----------------------------------------------------------------------------------------
def test_a_username_is_resolved_once_per_session_and_kept(world, alice):
    run(send_all, alice, ["@bob_smith"], OutgoingMessage("one"), first_random_id=1)
    run(send_all, alice, ["@bob_smith"], OutgoingMessage("two"), first_random_id=2)  # a new process

    assert len(world.of_type(ResolveUsernameRequest)) == 1
    peer = ResolvedPeer.objects.get(session=alice, key="@bob_smith")
    assert peer.peer_id == world.bob.id
    assert peer.access_hash == world.access_hash(world.alice.user.id, world.bob.id)
    assert len(world.of_type(SendMessageRequest)) == 2


def test_a_username_that_changed_hands_is_looked_up_again_and_the_change_recorded(world, alice, settings):
    settings.TGC_USERNAME_MAX_AGE = 3600
    (first,), _ = run(send_all, alice, ["@bob_smith"], OutgoingMessage("one"), first_random_id=1)
    # A day later Bob has dropped the username and someone else took it.
    ResolvedPeer.objects.filter(key="@bob_smith").update(resolved_at=timezone.now() - timedelta(days=1))
    world.users[world.bob.id].username = None
    newcomer = world.add_user(username="bob_smith")

    (second,), _ = run(send_all, alice, ["@bob_smith"], OutgoingMessage("two"), first_random_id=2)

    assert len(world.of_type(ResolveUsernameRequest)) == 2
    assert (first.peer_id, first.previous_peer_id) == (world.bob.id, None)
    assert (second.peer_id, second.previous_peer_id) == (newcomer.id, world.bob.id)
    assert [r.peer.user_id for r in world.of_type(SendMessageRequest)] == [world.bob.id, newcomer.id]


def test_a_username_within_its_max_age_is_not_looked_up_again(world, alice, settings):
    settings.TGC_USERNAME_MAX_AGE = 3600
    run(send_all, alice, ["@bob_smith"], OutgoingMessage("one"), first_random_id=1)
    ResolvedPeer.objects.filter(key="@bob_smith").update(resolved_at=timezone.now() - timedelta(minutes=30))
    run(send_all, alice, ["@bob_smith"], OutgoingMessage("two"), first_random_id=2)
    assert len(world.of_type(ResolveUsernameRequest)) == 1


def test_each_session_resolves_with_its_own_access_hash(world, alice):
    bert = make_session(world, world.add_account("+4915100000009"), name="bert")

    run(send_all, alice, ["@bob_smith"], OutgoingMessage("hi"))
    (result,), _ = run(send_all, bert, ["@bob_smith"], OutgoingMessage("hi"))

    assert result.message_id is not None
    assert len(world.of_type(ResolveUsernameRequest)) == 2
    hashes = set(ResolvedPeer.objects.filter(key="@bob_smith").values_list("access_hash", flat=True))
    assert len(hashes) == 2


def test_a_phone_is_resolved_by_importing_a_contact(world, alice):
    (result,), _ = run(send_all, alice, [BOB_PHONE], OutgoingMessage("hi"))

    (imported,) = world.of_type(ImportContactsRequest)
    assert imported.request.contacts[0].phone == BOB_PHONE
    assert result.message_id is not None
    peer = ResolvedPeer.objects.get(session=alice, key=BOB_PHONE)
    assert (peer.peer_id, peer.imported_contact) == (world.bob.id, True)


def test_a_phone_without_an_account_is_a_recipient_error(world, alice):
    with pytest.raises(TransportError) as raised:
        run(send_all, alice, ["+4915199999999"], OutgoingMessage("hi"))

    assert raised.value.kind is ErrorKind.RECIPIENT
    assert raised.value.code == "PHONE_NOT_OCCUPIED"


def test_a_bot_cannot_message_a_phone_number(world):
    bot = make_session(world, world.add_bot("123:ABC"), name="bot", kind=SessionKind.BOT)

    with pytest.raises(TransportError) as raised:
        run(send_all, bot, [BOB_PHONE], OutgoingMessage("hi"))

    assert raised.value.kind is ErrorKind.RECIPIENT
    assert "bot cannot message a phone" in raised.value.text
    assert world.of_type(ImportContactsRequest) == []


def test_an_unknown_user_id_fails_with_a_clear_reason(world, alice):
    with pytest.raises(TransportError) as raised:
        run(send_all, alice, [str(world.dave.id)], OutgoingMessage("hi"))

    assert raised.value.kind is ErrorKind.RECIPIENT
    assert f"user id {world.dave.id} is not known to this session" in raised.value.text
    assert world.of_type(SendMessageRequest) == []


def test_a_bot_reaches_a_user_id_that_started_it(world):
    account = world.add_bot("123:ABC")
    account.started_by.add(world.dave.id)
    bot = make_session(world, account, name="bot", kind=SessionKind.BOT)

    (result,), _ = run(send_all, bot, [str(world.dave.id)], OutgoingMessage("hi"))

    assert result.message_id is not None
    assert ResolvedPeer.objects.filter(session=bot, key=str(world.dave.id)).exists()


def test_an_unknown_username_is_a_recipient_error(world, alice):
    with pytest.raises(TransportError) as raised:
        run(send_all, alice, ["@nobody_here"], OutgoingMessage("hi"))

    assert (raised.value.kind, raised.value.code) == (ErrorKind.RECIPIENT, "USERNAME_NOT_OCCUPIED")


def test_imported_contacts_can_be_forgotten_after_the_campaign(world, alice):
    run(send_all, alice, [BOB_PHONE, "@carol"], OutgoingMessage("hi"))

    assert forget_imported_contacts(alice) == 1

    (deleted,) = world.of_type(DeleteContactsRequest)
    assert [u.user_id for u in deleted.request.id] == [world.bob.id]
    assert world.bob.id not in world.alice.contacts
    assert not ResolvedPeer.objects.filter(imported_contact=True).exists()


# Media -----------------------------------------------------------------------------------------
def test_a_photo_is_uploaded_once_and_reused_for_the_next_recipients(world, alice, tmp_path):
    photo = media_file(tmp_path)
    message = OutgoingMessage("<i>New</i> collection", "html", media=photo)

    results, transport = run(send_all, alice, ["@bob_smith", "@carol", BOB_PHONE], message)

    assert len(world.of_type("upload_file")) == 1
    first, *rest = world.of_type(SendMediaRequest)
    assert isinstance(first.media, types.InputMediaUploadedPhoto)
    assert all(isinstance(r.media, types.InputMediaPhoto) for r in rest)
    assert all(r.media.id.file_reference for r in rest)
    assert [r.random_id for r in world.of_type(SendMediaRequest)] == [1000, 1001, 1002]
    assert first.request.message == "New collection"
    assert [type(e) for e in first.request.entities] == [types.MessageEntityItalic]
    assert all(r.message_id for r in results)
    assert transport.media_uploads(photo.path) == 1


def test_each_session_uploads_the_file_once(world, alice, tmp_path):
    bert_account = world.add_account("+4915100000009")
    bert = make_session(world, bert_account, name="bert")
    message = OutgoingMessage("hi", media=media_file(tmp_path))

    run(send_all, alice, ["@bob_smith", "@carol"], message)
    run(send_all, bert, ["@bob_smith", "@carol"], message)

    uploads = world.of_type("upload_file")
    assert len(uploads) == 2
    assert {u.account_id for u in uploads} == {world.alice.user.id, bert_account.user.id}


def test_an_expired_file_reference_uploads_again_and_retries_once(world, alice, tmp_path):
    message = OutgoingMessage("hi", media=media_file(tmp_path))

    async def scenario():
        transport = alice.transport()
        await transport.connect()
        await transport.send("@bob_smith", message, 1)
        world.expire_file_references()  # hours later
        result = await transport.send("@carol", message, 2)
        after = await transport.send("@bob_smith", message, 3)
        await transport.disconnect()
        return result, after

    result, after = run(scenario)

    assert result.message_id is not None and after.message_id is not None
    assert len(world.of_type("upload_file")) == 2
    media_types = [type(r.media) for r in world.of_type(SendMediaRequest)]
    assert media_types == [
        types.InputMediaUploadedPhoto,
        types.InputMediaPhoto,  # refused: FILE_REFERENCE_EXPIRED
        types.InputMediaUploadedPhoto,  # the retry, same random_id
        types.InputMediaPhoto,  # the fresh copy is reused again
    ]
    assert [r.random_id for r in world.of_type(SendMediaRequest)] == [1, 2, 2, 3]


def test_a_video_carries_duration_size_and_streaming(world, alice, tmp_path):
    video = media_file(
        tmp_path,
        "clip.mp4",
        "video",
        mime_type="video/mp4",
        width=1280,
        height=720,
        duration=12.5,
        supports_streaming=True,
    )

    run(send_all, alice, ["@bob_smith"], OutgoingMessage("", media=video))

    (sent,) = world.of_type(SendMediaRequest)
    assert isinstance(sent.media, types.InputMediaUploadedDocument)
    assert sent.media.mime_type == "video/mp4"
    (attr,) = [a for a in sent.media.attributes if isinstance(a, types.DocumentAttributeVideo)]
    assert (attr.duration, attr.w, attr.h, attr.supports_streaming) == (12.5, 1280, 720, True)


def test_a_voice_note_is_an_opus_document_flagged_voice(world, alice, tmp_path):
    voice = media_file(tmp_path, "note.ogg", "voice", mime_type="audio/ogg", duration=7)

    run(send_all, alice, ["@bob_smith", "@carol"], OutgoingMessage("", media=voice))

    first, second = world.of_type(SendMediaRequest)
    assert first.media.mime_type == "audio/ogg"
    (attr,) = first.media.attributes
    assert isinstance(attr, types.DocumentAttributeAudio)
    assert (attr.voice, attr.duration) == (True, 7)
    assert isinstance(second.media, types.InputMediaDocument)


def test_audio_and_documents_keep_their_file_names(world, alice, tmp_path):
    audio = media_file(tmp_path, "song.mp3", "audio", mime_type="audio/mpeg", duration=180)
    document = media_file(tmp_path, "price-list.pdf", "document", mime_type="application/pdf")

    run(send_all, alice, ["@bob_smith"], OutgoingMessage("", media=audio))
    run(send_all, alice, ["@bob_smith"], OutgoingMessage("", media=document), first_random_id=2000)

    sent_audio, sent_document = world.of_type(SendMediaRequest)
    audio_attr = next(a for a in sent_audio.media.attributes if isinstance(a, types.DocumentAttributeAudio))
    assert (audio_attr.voice, audio_attr.duration) == (False, 180)
    assert sent_document.media.force_file is True
    names = [
        a.file_name for a in sent_document.media.attributes if isinstance(a, types.DocumentAttributeFilename)
    ]
    assert names == ["price-list.pdf"]


# Errors, session state -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (tg.PeerFloodError(request=None), ErrorKind.SPAM_LIMITED),
        (tg.UserPrivacyRestrictedError(request=None), ErrorKind.RECIPIENT),
        (tg.AuthKeyDuplicatedError(request=None), ErrorKind.SESSION),
        (tg.MessageTooLongError(request=None), ErrorKind.CONTENT),
        (tg.RpcCallFailError(request=None), ErrorKind.TRANSIENT),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else v.value,
)
def test_telethon_errors_leave_as_classified_transport_errors(world, alice, error, kind):
    world.fail(error, on=SendMessageRequest)

    with pytest.raises(TransportError) as raised:
        run(send_all, alice, ["@bob_smith"], OutgoingMessage("hi"))

    assert raised.value.kind is kind


def test_a_flood_wait_reaches_the_engine_with_its_seconds(world, alice):
    world.fail(tg.FloodWaitError(request=None, capture=120), on=ResolveUsernameRequest)

    with pytest.raises(TransportError) as raised:
        run(send_all, alice, ["@bob_smith"], OutgoingMessage("hi"))

    assert (raised.value.kind, raised.value.seconds) == (ErrorKind.FLOOD, 120.0)


def test_a_lost_connection_is_unreachable(world, alice):
    world.fail(ConnectionError("connection reset"), on="connect")

    with pytest.raises(TransportError) as raised:
        run(send_all, alice, ["@bob_smith"], OutgoingMessage("hi"))

    assert raised.value.kind is ErrorKind.UNREACHABLE


def test_a_session_that_is_not_logged_in_is_a_session_error(world):
    session = TelegramSession.objects.create(name="empty", status=SessionStatus.ACTIVE)

    with pytest.raises(TransportError) as raised:
        run(send_all, session, ["@bob_smith"], OutgoingMessage("hi"))

    assert raised.value.kind is ErrorKind.SESSION


def test_get_me_reports_who_the_session_is(world, alice):
    async def me(session):
        transport = session.transport()
        try:
            return await transport.get_me()
        finally:
            await transport.disconnect()

    assert run(me, alice) == {
        "id": world.alice.user.id,
        "username": "alice_sends",
        "name": world.alice.user.first_name,
        "authorized": True,
        "bot": False,
    }
    logged_out = TelegramSession.objects.create(name="logged-out")
    assert run(me, logged_out)["authorized"] is False


def test_a_bot_with_only_a_token_logs_in_once_and_keeps_the_session(world):
    world.add_bot("123:ABC")
    bot = TelegramSession(name="bot", kind=SessionKind.BOT, status=SessionStatus.ACTIVE)
    bot.bot_token = "123:ABC"
    bot.save()

    async def connect_twice():
        for _ in range(2):
            session = await TelegramSession.objects.aget(pk=bot.pk)
            transport = session.transport()
            await transport.connect()
            await transport.disconnect()

    run(connect_twice)

    assert len(world.of_type("sign_in")) == 1
    bot.refresh_from_db()
    assert bot.session_string


def test_imported_contacts_are_left_alone_while_another_process_uses_the_session(world, alice):
    from datetime import timedelta

    from django.utils import timezone

    run(send_all, alice, [BOB_PHONE], OutgoingMessage("hi"))
    TelegramSession.objects.filter(pk=alice.pk).update(
        lease_owner="worker-1", lease_expires_at=timezone.now() + timedelta(minutes=1)
    )

    assert forget_imported_contacts(alice) is None
    assert world.of_type(DeleteContactsRequest) == []


def test_the_next_slice_reuses_the_sent_photo_without_uploading_it_again(world, alice, tmp_path):
    message = OutgoingMessage("hi", media=media_file(tmp_path))

    run(send_all, alice, ["@bob_smith"], message)  # one slice: one transport instance
    run(send_all, alice, ["@carol", BOB_PHONE], message)  # the next slice: a new instance

    assert len(world.of_type("upload_file")) == 1
    assert [type(r.media) for r in world.of_type(SendMediaRequest)] == [
        types.InputMediaUploadedPhoto,
        types.InputMediaPhoto,
        types.InputMediaPhoto,
    ]


def test_an_edited_file_is_uploaded_again_in_the_next_slice(world, alice, tmp_path):
    import os

    photo = media_file(tmp_path)
    message = OutgoingMessage("hi", media=photo)
    run(send_all, alice, ["@bob_smith"], message)
    os.utime(photo.path, ns=(1, 1))  # the file changed since

    run(send_all, alice, ["@carol"], message)

    assert len(world.of_type("upload_file")) == 2
