"""Changelists fit a laptop's window: at 1,280 px (and at 1,600, where a wide table's filters
stand beside it again) each table stays inside its box, long cells (a campaign's or a list's long
name, a compound word, a username, a long error code) wrap instead of pushing the columns out, and
nothing is cut off or hidden to make it fit. The results' page first (eleven columns), then every
changelist of the site with long values in it."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop, not ours (see test_browser)

from campaigns.models import CampaignStatus, MessageResult, Reply, ResultStatus, Suppression  # noqa: E402
from tests.conftest import make_campaign, make_list, make_session  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# How the table sits in the page: how far it (or the page) reaches beyond the window, and the
# cells whose text is cut (wider than their box, their overflow hidden) or not shown at all.
MEASURE = """(width) => {  // null for a changelist with no rows
  const table = document.querySelector('#result_list');
  if (!table) return null;
  const r = table.getBoundingClientRect();
  const box = table.closest('.results');
  const cut = [];
  for (const cell of table.querySelectorAll('td, th')) {
    const style = getComputedStyle(cell);
    if (style.display === 'none' || style.visibility === 'hidden') cut.push('hidden: ' + cell.className);
    if (cell.scrollWidth > cell.clientWidth + 1) cut.push(cell.className + ': ' + cell.innerText);
  }
  const headers = [...table.querySelectorAll('thead th')].map(th => th.textContent.trim());
  return {right: r.right, page: document.documentElement.scrollWidth, width, cut, headers,
          scrolls: box.scrollWidth - box.clientWidth, beyond: r.right - box.getBoundingClientRect().right};
}"""


def _results(campaign, session, n: int) -> None:
    """``n`` results of every kind a page shows: sent and read, failed with a long code, skipped."""
    now = timezone.now()
    rows = campaign.lists.get().recipients.order_by("row_number")
    kinds = [
        dict(status=ResultStatus.SENT, telegram_message_id=2147483641, sent_at=now, read_at=now, attempts=1),
        dict(
            status=ResultStatus.FAILED,
            error_code="ALLOW_PAYMENT_REQUIRED_FOR_PREMIUM_MESSAGES_OF_THIS_USER",
            error_text="The user requires a payment",
            attempts=3,
        ),
        dict(status=ResultStatus.SENT, telegram_message_id=2147483642, sent_at=now, attempts=1),
        dict(status=ResultStatus.SKIPPED, error_code="SUPPRESSED"),
        dict(
            status=ResultStatus.SENT,
            telegram_message_id=2147483643,
            sent_at=now - timedelta(hours=1),
            replied_at=now,
            reply_count=3,
            attempts=2,
        ),
    ]
    MessageResult.objects.bulk_create(
        MessageResult(
            campaign=campaign,
            recipient=row,
            key=row.key,
            dedupe_key=row.key,
            kind=row.kind,
            session=session,
            **kinds[i % len(kinds)],
        )
        for i, row in enumerate(rows[:n])
    )


@pytest.mark.parametrize("width", [1280, 1600])
@pytest.mark.parametrize("filtered", [False, True], ids=["all-campaigns", "one-campaign"])
def test_the_results_changelist_fits_a_laptops_window_with_every_cell_whole(browser, mark, filtered, width):
    session = make_session("Customer care account for the spring season (user)")
    crowd = make_list(
        "Customers who bought in the spring season of 2024, from the shop's CRM export",
        [(f"@a_rather_long_username_{i:04d}", {}) for i in range(8)]
        + [(f"+491511234567{i}", {}) for i in range(4)],
    )
    campaign = make_campaign(
        "Frühjahrsschlussverkaufserinnerung: spring sale reminder for our loyal customers in every region",
        [crowd],
        [session],
        status=CampaignStatus.COMPLETED,
        launched_at=timezone.now() - timedelta(hours=2),
    )
    _results(campaign, session, 12)
    page = browser.page
    page.set_viewport_size({"width": width, "height": 800})
    browser.login("mark")
    query = f"?campaign__id__exact={campaign.pk}" if filtered else ""
    browser.go(f"/admin/campaigns/messageresult/{query}")
    page.wait_for_selector("#result_list")
    browser.shot(f"results-{width}")

    found = page.evaluate(MEASURE, width)
    assert found["page"] <= width, f"the page is {found['page']} px wide: {found}"
    assert found["right"] <= width, f"the table reaches {found['right']} px: {found}"
    assert found["scrolls"] <= 1 and found["beyond"] <= 1, f"the table scrolls sideways in its box: {found}"
    assert not found["cut"], found["cut"]
    # Nothing was hidden to make it fit: every column is there, with the long values whole.
    expected = ["Recipient", "From", "Status", "Session", "Error code", "Attempts", "Message id"]
    assert all(h in found["headers"] for h in expected), found["headers"]
    assert ("Campaign" in found["headers"]) is not filtered
    text = page.inner_text("#result_list")
    assert "ALLOW_PAYMENT_REQUIRED_FOR_PREMIUM_MESSAGES_OF_THIS_USER" in text.replace("\n", "")
    assert "shop's CRM export" in text


def _world(user) -> None:
    """A row of every changelist, each with long values in it (read from a real launch's results)."""
    from django.contrib.contenttypes.models import ContentType

    from campaigns import engine
    from campaigns.models import Campaign, SeedList, Segment, Tag
    from sessions_app.models import ResolvedPeer
    from tests.test_browser_pages import run_until_done
    from tgcampaigns.apitokens.models import ApiToken
    from tgcampaigns.audit.models import AuditEvent
    from tgcampaigns.webhooks.models import WebhookDelivery, WebhookEvent, WebhookSubscription

    session = make_session("Customer care account for the spring season (user)")
    crowd = make_list(
        "Customers who bought in the spring season of 2024, from the shop's CRM export",
        [(f"@a_rather_long_username_{i:04d}", {"first_name": "Alexandra-Katharina"}) for i in range(4)],
    )
    campaign = make_campaign(
        "Frühjahrsschlussverkaufserinnerung: spring sale reminder for our loyal customers", [crowd], [session]
    )
    engine.launch(campaign, enqueue=False)
    assert run_until_done(campaign) == CampaignStatus.COMPLETED
    result = MessageResult.objects.filter(campaign=campaign).first()
    Reply.objects.create(
        campaign=campaign,
        result=result,
        session=session,
        peer_id=1,
        message_id=2,
        text="Vielen Dank! Ich komme am Samstag mit der ganzen Familie vorbei: Geschäftseröffnungsfeier!",
        received_at=timezone.now(),
    )
    Suppression.objects.create(key=result.key, note="Asked by e-mail never to be written to again, twice")
    ResolvedPeer.objects.create(
        session=session, key=result.key, peer_id=1234567890, access_hash=-98765432101234
    )
    Tag.objects.create(name="Stammkundschaft-Frühjahrsaktion", key="stammkundschaft-frühjahrsaktion")
    Segment.objects.create(
        name="Readers who did not reply", description="Read the spring sale and never answered"
    )
    SeedList.objects.create(name="Our own accounts for test sends", entries="@a_rather_long_username_0000")
    AuditEvent.objects.create(
        actor=user.username,
        action="campaign_launch",
        message=f"Launched “{campaign}” for 4 recipients from Customer care account for the spring season",
        content_type=ContentType.objects.get_for_model(Campaign),
        object_id=str(campaign.pk),
        object_repr=str(campaign),
    )
    hook = WebhookSubscription.objects.create(
        name="Shop CRM at the main office",
        url="https://crm.example.com/hooks/telegram-campaigns/receive?token=0123456789abcdef0123456789",
        events=["reply.received", "optout.created", "campaign.finished"],
        secret_encrypted="-",
    )
    event = WebhookEvent.objects.create(msg_id="msg_2f1c9a7e5b3d4c6a8e0f", type="reply.received", payload={})
    WebhookDelivery.objects.create(
        event=event,
        subscription=hook,
        attempts=3,
        last_status_code=503,
        last_error="HTTPSConnectionPool(host='crm.example.com', port=443): Read timed out (read timeout=10)",
    )
    ApiToken.objects.mint(user, "Shop CRM integration token for the spring season")


def test_every_changelist_of_the_site_fits_a_1280_px_window_with_every_cell_whole(browser, olga):
    from django.contrib import admin

    _world(olga)
    page = browser.page
    page.set_viewport_size({"width": 1280, "height": 800})
    browser.login("olga")
    shown, wide = [], []
    for model in admin.site._registry:
        opts = model._meta
        browser.go(f"/admin/{opts.app_label}/{opts.model_name}/")
        found = page.evaluate(MEASURE, 1280)
        if found is None:
            continue
        shown.append(opts.label)
        browser.shot(opts.label)
        if found["page"] > 1280 or found["scrolls"] > 1 or found["beyond"] > 1 or found["cut"]:
            wide.append((opts.label, found))
    assert not wide, wide
    # The pages measured include the app's wide ones, each with its long values.
    assert {
        "campaigns.Campaign",
        "campaigns.Recipient",
        "campaigns.Reply",
        "sessions_app.TelegramSession",
    } <= set(shown), shown
    assert {"webhooks.WebhookDelivery", "campaigns.RecipientList", "audit.AuditEvent"} <= set(shown), shown


# The words of the filters' choices that a line break cuts in two ("Waitin|g", "Skipp|ed"):
# each word's text measured alone, its boxes on more than one line. Identifiers (an error code,
# written with "_") may break anywhere: they are one long word.
BROKEN_WORDS = """() => {
  const broken = [];
  for (const link of document.querySelectorAll('#changelist-filter li a')) {
    const walker = document.createTreeWalker(link, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(/\\S+/g)) {
        if (m[0].includes('_')) continue;
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (tops.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""


def test_the_results_filters_at_1280_px_break_no_word_of_a_choice(browser, mark):
    """Every filter of the results shown at once (two campaigns, one an A/B test, error codes):
    standing above the table, side by side, each keeps its choices' words whole ("Waiting (taken
    by a session)", not "Waitin / g"), wrapping onto another line of filters instead."""
    session = make_session("Spring")
    crowd = make_list("Spring customers", [(f"@spring_{i:04d}", {}) for i in range(6)])
    tested = make_campaign("Spring A/B", [crowd], [session], status=CampaignStatus.COMPLETED)
    tested.variants = ["Another wording"]
    tested.share_a, tested.share_b = 50, 50
    tested.save()
    make_campaign("Autumn", [crowd], [session], status=CampaignStatus.COMPLETED)
    _results(tested, session, 6)
    page = browser.page
    page.set_viewport_size({"width": 1280, "height": 800})
    browser.login("mark")
    browser.go("/admin/campaigns/messageresult/")
    page.wait_for_selector("#result_list")

    titles = page.eval_on_selector_all(
        "#changelist-filter details", "ds => ds.map(d => d.dataset.filterTitle)"
    )
    assert {"campaign", "status", "session", "error code", "variant"} <= set(titles), titles
    assert page.evaluate(BROKEN_WORDS) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
