"""Media from the browser (issue 19 items 5 and 6): a video recorded the way a user records one in
Chromium (a canvas animation through ``MediaRecorder``), uploaded on the campaign's page; and the
media type that follows the file chosen, before and after a save."""

from __future__ import annotations

import base64
import os

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop runs in this thread

from campaigns.models import Campaign  # noqa: E402
from tests.conftest import make_campaign  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A 640×360 canvas animation, recorded for `ms` milliseconds as `mime` (fragments every 250 ms, as
# a page that uploads while recording asks for), returned base64-encoded.
RECORD = """
async ([mime, ms]) => {
  const canvas = Object.assign(document.createElement("canvas"), {width: 640, height: 360});
  const g = canvas.getContext("2d");
  const recorder = new MediaRecorder(canvas.captureStream(30), {mimeType: mime});
  const chunks = [];
  recorder.ondataavailable = (e) => chunks.push(e.data);
  const t0 = performance.now();
  const timer = setInterval(() => {
    const t = performance.now() - t0;
    g.fillStyle = `hsl(${(t / 10) % 360}, 80%, 50%)`;
    g.fillRect(0, 0, 640, 360);
    g.fillStyle = "#fff";
    g.fillRect((t / 5) % 600, 160, 40, 40);
  }, 33);
  const stopped = new Promise((resolve) => (recorder.onstop = resolve));
  recorder.start(250);
  await new Promise((resolve) => setTimeout(resolve, ms));
  recorder.stop();
  await stopped;
  clearInterval(timer);
  const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}
"""


def record(page, mime: str, ms: int) -> bytes:
    return base64.b64decode(page.evaluate(RECORD, [mime, ms]))


def save_with_media(browser, campaign: Campaign, name: str, mime: str, payload: bytes) -> None:
    page = browser.page
    page.set_input_files("#id_media", files=[{"name": name, "mimeType": mime, "buffer": payload}])
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist, .errornote")


@pytest.mark.parametrize(
    ("mime", "name"),
    [("video/mp4;codecs=avc1", "recording.mp4"), ("video/webm;codecs=vp8", "recording.webm")],
)
def test_a_video_recorded_in_chromium_is_accepted_with_its_duration_and_size(
    browser, mark, people, alpha, mime, name
):
    campaign = make_campaign("Clip", [people], [alpha])
    browser.login("mark")
    browser.go(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    # This Chromium records MP4 (H.264) as a fragmented MP4, and WebM without a duration.
    assert browser.page.evaluate(f"MediaRecorder.isTypeSupported('{mime}')")
    video = record(browser.page, mime, 1500)

    save_with_media(browser, campaign, name, mime.split(";")[0], video)
    browser.shot("saved-with-video")

    assert browser.page.locator(".errornote").count() == 0, browser.page.inner_text("#content")
    info = Campaign.objects.get(pk=campaign.pk).media_info
    assert (info["media_type"], info["width"], info["height"]) == ("video", 640, 360)
    assert info["duration"] == pytest.approx(1.5, abs=0.3)
    assert "video" in browser.page.inner_text(".field-media_summary")


def test_a_detected_media_type_follows_the_next_file_chosen(browser, mark, people, alpha, cases_dir):
    campaign = make_campaign("Spring teaser", [people], [alpha])
    page = browser.page
    browser.login("mark")
    browser.go(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    assert page.input_value("#id_media_type") == ""  # Detect from the file's content
    photo = (cases_dir / "media" / "photo.jpg").read_bytes()
    save_with_media(browser, campaign, "photo.jpg", "image/jpeg", photo)
    assert Campaign.objects.get(pk=campaign.pk).media_type == "photo"
    # Detected, not chosen: the form still offers detection for the next file.
    assert page.input_value("#id_media_type") == ""
    assert "photo" in page.inner_text(".field-media_summary")
    browser.shot("photo-detected")

    clip = (cases_dir.parent / "media" / "chromium_fragmented.mp4").read_bytes()
    page.set_input_files("#id_media", files=[{"name": "clip.mp4", "mimeType": "video/mp4", "buffer": clip}])
    # Before the save, the details no longer describe the photo that is about to be replaced.
    page.wait_for_selector(".field-media_summary:has-text('clip.mp4')")
    assert "image/jpeg" not in page.inner_text(".field-media_summary")
    browser.shot("video-chosen-unsaved")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist, .errornote")

    assert page.locator(".errornote").count() == 0, page.inner_text("#content")
    campaign.refresh_from_db()
    assert (campaign.media_type, campaign.media_info["mime_type"]) == ("video", "video/mp4")
    assert page.input_value("#id_media_type") == ""
    browser.shot("video-detected")


def test_a_chosen_media_type_stays_chosen(browser, mark, people, alpha, cases_dir):
    campaign = make_campaign("Price list", [people], [alpha])
    page = browser.page
    browser.login("mark")
    browser.go(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    page.select_option("#id_media_type", "document")
    save_with_media(
        browser, campaign, "photo.jpg", "image/jpeg", (cases_dir / "media" / "photo.jpg").read_bytes()
    )

    assert Campaign.objects.get(pk=campaign.pk).media_type == "document"
    assert page.input_value("#id_media_type") == "document"
    page.fill("#id_name", "Price list (renamed)")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist, .errornote")
    assert Campaign.objects.get(pk=campaign.pk).media_type == "document"
