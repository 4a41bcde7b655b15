"""The results changelist fits a laptop's window: at 1,280 px (and at 1,600, where the filters
stand beside it again) its table stays inside the page,
long cells (a campaign's or a list's long name, a long error code, a read column's words) wrap
instead of pushing the columns out, and nothing is cut off or hidden to make it fit."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop, not ours (see test_browser)

from campaigns.models import CampaignStatus, MessageResult, ResultStatus  # noqa: E402
from tests.conftest import make_campaign, make_list, make_session  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# How the table sits in the page: how far it (or the page) reaches beyond the window, and the
# cells whose text is cut (wider than their box, their overflow hidden) or not shown at all.
MEASURE = """(width) => {
  const table = document.querySelector('#result_list');
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
