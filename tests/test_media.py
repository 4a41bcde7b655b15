"""campaigns.content.media: the files of shared/cases/media and their right outcomes."""

import struct
import zlib
from pathlib import Path

import pytest

from campaigns.content.media import MediaInfo, MediaRefused, inspect_media
from sessions_app.transport.base import MediaSpec
from tests.fakes import telegram_fixture  # noqa: F401  (the "telegram" fixture)

CASES = Path(__file__).resolve().parent / "data" / "cases"
MEDIA = CASES / "media"


def media(name: str) -> str:
    return str(MEDIA / name)


@pytest.mark.parametrize("media_type", [None, "photo"])
def test_it_accepts_a_jpeg_as_a_photo_with_its_dimensions(media_type):
    info = inspect_media(media("photo.jpg"), media_type)

    assert info == MediaInfo(
        media_type="photo", mime_type="image/jpeg", size=36125, file_name="photo.jpg", width=1280, height=853
    )


def test_it_takes_the_type_from_the_content_not_the_name():
    info = inspect_media(media("png_named.jpg"))

    assert (info.media_type, info.mime_type, info.width, info.height) == ("photo", "image/png", 1280, 853)
    assert info.file_name == "png_named.jpg"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("too_wide_ratio_40.png", "the aspect ratio is 40; a photo may be at most 20:1"),
        ("dims_sum_10500.png", "width + height is 10500 pixels; a photo may have at most 10000"),
    ],
)
def test_it_refuses_an_image_beyond_telegrams_photo_limits_as_a_photo(name, reason):
    with pytest.raises(MediaRefused) as refused:
        inspect_media(media(name), "photo")
    assert str(refused.value) == reason


@pytest.mark.parametrize("media_type", [None, "document"])
@pytest.mark.parametrize("name", ["too_wide_ratio_40.png", "dims_sum_10500.png"])
def test_it_accepts_an_image_beyond_the_photo_limits_as_a_document(name, media_type):
    info = inspect_media(media(name), media_type)

    assert (info.media_type, info.mime_type) == ("document", "image/png")


@pytest.mark.parametrize("media_type", [None, "photo", "document", "video"])
def test_it_refuses_an_empty_file(media_type):
    with pytest.raises(MediaRefused, match="^the file is empty$"):
        inspect_media(media("empty.jpg"), media_type)


@pytest.mark.parametrize("media_type", [None, "photo"])
def test_it_refuses_a_truncated_jpeg_as_corrupt(media_type):
    with pytest.raises(MediaRefused, match=r"^the image is corrupt \(image file is truncated"):
        inspect_media(media("truncated.jpg"), media_type)


@pytest.mark.parametrize(
    ("media_type", "reason"),
    [
        ("video", "the content is not a video (it is application/x-executable)"),
        (None, "the content is not a video (it is application/x-executable; the name ends in .mp4)"),
    ],
)
def test_it_refuses_a_program_named_like_a_video(media_type, reason):
    with pytest.raises(MediaRefused) as refused:
        inspect_media(media("program_named.mp4"), media_type)
    assert str(refused.value) == reason


def test_it_sends_any_file_as_a_document_when_staff_ask_for_one():
    info = inspect_media(media("program_named.mp4"), "document")

    assert (info.media_type, info.size) == ("document", 4007)


@pytest.mark.parametrize("media_type", [None, "document"])
def test_it_accepts_a_pdf_as_a_document(media_type):
    info = inspect_media(media("price_list.pdf"), media_type)

    assert info == MediaInfo(
        media_type="document", mime_type="application/pdf", size=193, file_name="price_list.pdf"
    )


@pytest.mark.parametrize("media_type", [None, "video"])
def test_it_accepts_an_mp4_as_a_streaming_video_with_duration_and_size(media_type):
    info = inspect_media(media("clip.mp4"), media_type)

    assert info == MediaInfo(
        media_type="video",
        mime_type="video/mp4",
        size=12712,
        file_name="clip.mp4",
        width=320,
        height=240,
        duration=2.0,
        supports_streaming=True,
    )


@pytest.mark.parametrize("media_type", [None, "voice"])
def test_it_accepts_ogg_opus_as_a_voice_note(media_type):
    info = inspect_media(media("voice.ogg"), media_type)

    assert (info.media_type, info.mime_type, info.duration) == ("voice", "audio/ogg", 2.0)


@pytest.mark.parametrize("media_type", [None, "audio"])
def test_it_accepts_an_mp3_as_audio_of_two_seconds(media_type):
    info = inspect_media(media("jingle.mp3"), media_type)

    assert (info.media_type, info.mime_type) == ("audio", "audio/mpeg")
    assert round(info.duration) == 2


def test_it_refuses_an_mp3_as_a_voice_note():
    with pytest.raises(MediaRefused, match="^a voice note must be OGG with Opus audio"):
        inspect_media(media("jingle.mp3"), "voice")


def test_it_refuses_a_photo_as_a_video():
    with pytest.raises(MediaRefused, match=r"^the content is not a video \(it is image/jpeg\)$"):
        inspect_media(media("photo.jpg"), "video")


def test_it_refuses_a_photo_over_ten_megabytes(monkeypatch):
    monkeypatch.setattr("campaigns.content.media.PHOTO_MAX_BYTES", 30_000)

    with pytest.raises(MediaRefused, match="^a photo may be at most 10 MB"):
        inspect_media(media("photo.jpg"), "photo")


def test_it_refuses_an_unknown_media_type():
    with pytest.raises(ValueError, match="unknown media type 'gif'"):
        inspect_media(media("photo.jpg"), "gif")


def test_it_hands_the_transport_a_media_spec():
    spec = inspect_media(media("clip.mp4")).to_spec("/srv/media/clip.mp4")

    assert spec == MediaSpec(
        path="/srv/media/clip.mp4",
        media_type="video",
        mime_type="video/mp4",
        file_name="clip.mp4",
        size=12712,
        width=320,
        height=240,
        duration=2.0,
        supports_streaming=True,
    )


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width``×``height`` pixels (with no pixel data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


# 20000×20000 is past Pillow's DecompressionBombError limit; 10000×10000 only past its warning.
BOMBS = [(20000, 20000), (10000, 10000)]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(("width", "height"), BOMBS)
def test_it_refuses_a_decompression_bomb_as_a_photo_from_its_header(tmp_path, width, height):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(width, height))

    with pytest.raises(MediaRefused) as refused:
        inspect_media(str(path), "photo")

    assert str(refused.value) == (
        f"image too large to decode: {width}×{height} pixels; Telegram photos need width + height ≤ 10000"
    )


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(("width", "height"), BOMBS)
def test_it_accepts_a_decompression_bomb_as_a_document(tmp_path, width, height):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(width, height))

    assert inspect_media(str(path)) == MediaInfo(
        media_type="document",
        mime_type="image/png",
        size=path.stat().st_size,
        file_name="bomb.png",
        note=f"sent as a document: image too large to decode: {width}×{height} pixels; "
        "Telegram photos need width + height ≤ 10000",
    )


# What is sent is what staff saw (issue 8, media) ---------------------------------------------------
@pytest.fixture
def copy(tmp_path):
    """A case file copied to a folder of its own: converting writes beside the original."""

    def copy_of(name: str) -> str:
        target = tmp_path / name
        target.write_bytes((MEDIA / name).read_bytes())
        return str(target)

    return copy_of


@pytest.mark.parametrize("media_type", [None, "photo"])
def test_a_webp_photo_is_converted_to_png_with_a_note_and_never_sent_as_raw_webp(copy, media_type):
    from PIL import Image

    path = copy("lossless.webp")
    info = inspect_media(path, media_type)

    assert (info.media_type, info.mime_type, info.conversion) == ("photo", "image/png", "png")
    assert (info.width, info.height, info.file_name) == (320, 200, "lossless.png")
    assert info.note == "converted from WebP to PNG before upload: Telegram does not take WebP as a photo"
    spec = MediaInfo.from_json(info.as_json()).to_spec(path)  # as the engine builds it
    assert spec.path != path and spec.path.endswith(".png")
    assert (spec.mime_type, spec.file_name, spec.size) == (
        "image/png",
        "lossless.png",
        Path(spec.path).stat().st_size,
    )
    with Image.open(spec.path) as sent, Image.open(path) as original:
        assert sent.format == "PNG"
        assert sent.convert("RGB").tobytes() == original.convert("RGB").tobytes()  # lossless


def test_inspecting_a_webp_writes_nothing_until_the_engine_builds_the_spec(copy, tmp_path):
    path = copy("lossless.webp")

    info = inspect_media(path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["lossless.webp"]
    info.to_spec(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lossless.webp", "lossless.webp.tgc-png.png"]


def test_an_animated_webp_goes_as_a_document_never_as_a_still_photo():
    info = inspect_media(media("animated.webp"))

    assert (info.media_type, info.mime_type) == ("document", "image/webp")
    assert (
        info.note
        == "sent as a document: an animated image (2 frames): as a photo only its first frame would arrive"
    )
    with pytest.raises(
        MediaRefused, match=r"^an animated image \(2 frames\): as a photo only its first frame"
    ):
        inspect_media(media("animated.webp"), "photo")


@pytest.mark.parametrize("media_type", [None, "photo"])
def test_a_photo_with_exif_orientation_is_sent_upright_and_shown_with_its_displayed_size(copy, media_type):
    from PIL import Image

    path = copy("orientation_6.jpg")
    info = inspect_media(path, media_type)

    assert (info.media_type, info.width, info.height, info.conversion) == ("photo", 400, 600, "upright")
    assert "turned upright before upload (EXIF orientation 6)" in info.note and "400×600" in info.note
    spec = info.to_spec(path)
    with Image.open(spec.path) as sent:
        assert sent.size == (400, 600)
        assert sent.getexif().get(0x0112, 1) == 1
    assert (spec.width, spec.height, spec.mime_type) == (400, 600, "image/jpeg")


def test_a_photo_already_upright_is_sent_as_it_is():
    info = inspect_media(media("photo.jpg"))

    assert info.conversion == ""
    assert info.to_spec("/srv/media/photo.jpg").path == "/srv/media/photo.jpg"


def test_a_zip_archive_named_pdf_is_named_for_what_it_is():
    with pytest.raises(MediaRefused) as refused:
        inspect_media(media("zip_named.pdf"))

    assert str(refused.value) == (
        "the content is a ZIP archive (application/zip), not what the name ending in .pdf says: "
        "rename it, or choose Document to send it as a file anyway"
    )
    info = inspect_media(media("zip_named.pdf"), "document")
    assert (info.media_type, info.mime_type) == ("document", "application/zip")
    assert info.note.startswith("the content is a ZIP archive (application/zip)")


def test_an_html_page_named_pdf_is_named_for_what_it_is(tmp_path):
    path = tmp_path / "invoice.pdf"
    path.write_bytes(b"<!DOCTYPE html><html><script>alert(1)</script></html>")

    with pytest.raises(MediaRefused, match=r"^the content is an HTML page \(text/html\)"):
        inspect_media(str(path))


def test_an_office_document_is_not_taken_for_a_disguised_zip(tmp_path):
    from openpyxl import Workbook

    path = tmp_path / "prices.xlsx"
    Workbook().save(path)

    assert inspect_media(str(path)).media_type == "document"


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "size"), [("lossless.webp", (320, 200)), ("orientation_6.jpg", (400, 600))])
def test_telegram_receives_the_converted_file_as_the_photo(telegram, copy, name, size):
    """At the TelegramClient boundary: the file uploaded is the one staff saw, sent as a photo."""
    from asgiref.sync import async_to_sync
    from PIL import Image
    from telethon import types

    from sessions_app.models import SessionKind, SessionStatus, TelegramSession
    from sessions_app.transport.base import OutgoingMessage
    from tests.fakes import SendMediaRequest

    account = telegram.add_account("+4915100000001", username="alice_sends")
    telegram.add_user(username="bob_smith")
    session = TelegramSession(name="alice", kind=SessionKind.USER, status=SessionStatus.ACTIVE)
    session.session_string = telegram.log_in(account)
    session.save()
    path = copy(name)
    spec = MediaInfo.from_json(inspect_media(path).as_json()).to_spec(path)  # as the engine builds it

    async def send():
        transport = session.transport()
        await transport.connect()
        try:
            return await transport.send("@bob_smith", OutgoingMessage("New", media=spec), 1)
        finally:
            await transport.disconnect()

    async_to_sync(send)()

    (upload,) = telegram.of_type("upload_file")
    with Image.open(upload.media) as sent:
        assert (sent.format in ("PNG", "JPEG"), sent.size) == (True, size)
    (request,) = telegram.of_type(SendMediaRequest)
    assert isinstance(request.media, types.InputMediaUploadedPhoto)


# A fragmented MP4 (issue 19.5): 1 s of a 640×360 canvas animation recorded by Chromium's
# MediaRecorder as video/mp4 (H.264). Its mvhd says 0; the durations are in the moof fragments.
FRAGMENTED = Path(__file__).resolve().parent / "data" / "media" / "chromium_fragmented.mp4"


@pytest.mark.parametrize("media_type", [None, "video"])
def test_it_reads_duration_and_size_of_a_fragmented_mp4_as_a_browser_records_it(media_type):
    info = inspect_media(str(FRAGMENTED), media_type)

    assert (info.media_type, info.mime_type, info.width, info.height) == ("video", "video/mp4", 640, 360)
    assert info.duration == pytest.approx(1.0, abs=0.1)


def test_it_still_refuses_a_video_whose_duration_cannot_be_read(tmp_path):
    # The fragments cut off after the first box of the file: nothing left to time.
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(FRAGMENTED.read_bytes()[:40])

    with pytest.raises(MediaRefused, match="^the video is corrupt"):
        inspect_media(str(cut), "video")
