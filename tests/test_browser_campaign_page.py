"""A campaign's page, as a newcomer reads it, in Chromium: fields a launch fixed look fixed and say
why (a disabled box is not drawn like one to type in, a read-only value not like plain text), and
the rest of the page offers what the campaign's state allows. Screenshots per step under
``test-results/<test>/`` (tests.browsing)."""

from __future__ import annotations

import os
from datetime import time, timedelta

import pytest
from django.utils import timezone

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop, not ours (see test_browser)

from campaigns.models import Campaign, CampaignStatus  # noqa: E402
from tests.conftest import make_campaign  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Per form row of the campaign's form: its field names, the lock's words, and how its value is
# drawn (a disabled control's background and cursor, a read-only value's background and border).
ROWS = """() => [...document.querySelectorAll('#campaign_form .form-row')].map(row => {
  const names = [...row.classList].filter(c => c.startsWith('field-')).map(c => c.slice(6));
  const lock = row.querySelector('.tgc-lock');
  const control = row.querySelector('input:not([type=hidden]), textarea, select');
  const value = row.querySelector('.readonly');
  const look = el => { if (!el) return null; const s = getComputedStyle(el);
    return {background: s.backgroundColor, border: s.borderTopStyle + ' ' + s.borderTopColor, cursor: s.cursor,
            disabled: !!el.disabled}; };
  return {names, lock: lock ? lock.innerText.trim() : '', lockTitle: lock ? lock.title : '',
          control: look(control), value: look(value)};
})"""

FIXED_AT_LAUNCH = {
    "lists_chosen",
    "segments_chosen",
    "parse_mode",
    "message",
    "media_file",
    "media_type",
    "sessions",
    "strategy",
    "scheduled_at",
    "send_window_start",
    "variant_b",
    "variant_c",
    "variant_d",
    "share_a",
}
STILL_EDITABLE = {"name", "delay_seconds", "max_attempts", "priority"}
ALWAYS_READ_ONLY = {"status", "status_reason", "media_summary"}


def change_path(campaign: Campaign) -> str:
    return f"/admin/campaigns/campaign/{campaign.pk}/change/"


def _rows(browser, campaign: Campaign, step: str) -> dict[str, dict]:
    browser.go(change_path(campaign))
    browser.page.wait_for_selector("#campaign_form")
    browser.shot(step)
    return {name: row for row in browser.page.evaluate(ROWS) for name in row["names"]}


TRANSPARENT = "rgba(0, 0, 0, 0)"


def test_a_launched_campaigns_fixed_fields_look_fixed_and_say_why(browser, mark, people, alpha):
    now = timezone.now()
    done = make_campaign(
        "Spring",
        [people],
        [alpha],
        variants=["Hello {{ first_name }}, spring is here"],
        split={"A": 50, "B": 50},
        send_window_start=time(9),
        send_window_end=time(20),
        status=CampaignStatus.COMPLETED,
        launched_at=now - timedelta(hours=2),
        finished_at=now - timedelta(hours=1),
    )
    browser.login("mark")
    rows = _rows(browser, done, "completed")

    for name in FIXED_AT_LAUNCH:
        assert rows[name]["lock"] == "Fixed at launch", (name, rows[name])
        assert "made from" in rows[name]["lockTitle"], rows[name]
    for name in STILL_EDITABLE | ALWAYS_READ_ONLY:
        assert not rows[name]["lock"], (name, rows[name])
    # A disabled box is not drawn like the name's box, which takes typing.
    editable = rows["name"]["control"]
    for name in ("variant_b", "share_a"):
        control = rows[name]["control"]
        assert control["disabled"], rows[name]
        assert control["background"] != editable["background"], (name, control, editable)
        assert control["cursor"] == "not-allowed", (name, control)
    # A fixed value sits in a box of its own; a value that was never editable (the status) does not.
    for name in ("message", "lists_chosen", "sessions", "send_window_start"):
        value = rows[name]["value"]
        assert value["background"] != TRANSPARENT and value["cursor"] == "not-allowed", (name, value)
    assert rows["status"]["value"]["background"] == TRANSPARENT
    note = browser.page.inner_text("#tgc-locked-note")
    assert "Fixed at launch" in note and "Clone" in note

    # Paused: the sessions and quiet hours may change, the rest stays fixed.
    paused = make_campaign(
        "Paused", [people], [alpha], status=CampaignStatus.PAUSED, launched_at=now - timedelta(hours=1)
    )
    rows = _rows(browser, paused, "paused")
    assert rows["message"]["lock"] == "Fixed at launch"
    for name in ("sessions", "send_window_start", *STILL_EDITABLE):
        assert not rows[name]["lock"], (name, rows[name])
    assert "sessions and quiet hours" in browser.page.inner_text("#tgc-locked-note")

    # Scheduled (confirmed, not started) and cancelled before any launch say so, not "at launch".
    scheduled = make_campaign(
        "Later", [people], [alpha], status=CampaignStatus.SCHEDULED, scheduled_at=now + timedelta(days=1)
    )
    rows = _rows(browser, scheduled, "scheduled")
    assert rows["message"]["lock"] == "Fixed when scheduled", rows["message"]
    assert "cancel" in browser.page.inner_text("#tgc-locked-note").lower()
    dropped = make_campaign("Dropped", [people], [alpha], status=CampaignStatus.CANCELLED)
    rows = _rows(browser, dropped, "cancelled-draft")
    assert rows["message"]["lock"] == "Fixed: cancelled", rows["message"]

    # A draft has nothing fixed.
    draft = make_campaign("Draft", [people], [alpha])
    _rows(browser, draft, "draft")
    assert browser.page.locator(".tgc-lock, #tgc-locked-note").count() == 0


# Per bar of the progress table: its row's session, how much of it the sent part fills (0–1), and
# the words under it.
SESSION_BARS = """() => [...document.querySelectorAll('#tgc-progress .tgc-sessions tbody tr')].map(tr => {
  const bar = tr.querySelector('.tgc-bar');
  const sent = bar && [...bar.children].find(s => s.title.startsWith('Sent:'));
  return {name: tr.cells[0].firstChild.textContent.trim(),
          sent: sent ? sent.getBoundingClientRect().width / bar.getBoundingClientRect().width : 0,
          words: (tr.querySelector('.tgc-bar-words') || {innerText: ''}).innerText};
})"""


def test_with_ten_sessions_each_sessions_bar_is_drawn_on_its_own_rows(browser, mark, people):
    from campaigns.models import MessageResult, ResultStatus
    from tests.conftest import make_session

    sessions = [make_session(f"session {i}") for i in range(10)]
    campaign = make_campaign("Ten", [people], sessions, status=CampaignStatus.RUNNING)
    rows = []
    for i, session in enumerate(sessions):  # 100 rows each: 40 sent, the rest taken, not sent yet
        for n in range(100):
            status = ResultStatus.SENT if n < 40 else ResultStatus.CLAIMED
            key = f"@s{i}_{n:03d}"
            rows.append(
                MessageResult(campaign=campaign, key=key, dedupe_key=key, session=session, status=status)
            )
    MessageResult.objects.bulk_create(rows)
    browser.login("mark")
    browser.go(change_path(campaign))
    browser.page.wait_for_selector("#tgc-progress .tgc-sessions")
    browser.shot("ten-sessions")

    bars = {bar["name"]: bar for bar in browser.page.evaluate(SESSION_BARS)}
    for session in sessions:
        bar = bars[session.name]
        assert 0.38 < bar["sent"] < 0.42, bar  # 40 of its 100, not 40 of the campaign's 1,000
        assert bar["words"] == "40 of 100 sent", bar
