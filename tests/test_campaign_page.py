"""A campaign's page and its extra pages offer what the campaign's state allows and say where
they are: results and exports only once it has rows, each state's operations and no other, and a
breadcrumb naming the campaign (and linking back to it) on every page of one campaign."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import engine
from campaigns.models import Campaign, CampaignStatus
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db


def change_path(campaign: Campaign) -> str:
    return f"/admin/campaigns/campaign/{campaign.pk}/change/"


def _in_state(state: str, people, alpha) -> Campaign:
    """A campaign of ``people`` from ``alpha`` in ``state`` (with rows once it was started)."""
    later = timezone.now() + timedelta(days=1)
    campaign = make_campaign(f"Spring ({state})", [people], [alpha])
    if state == "draft":
        return campaign
    if state in ("scheduled", "paused before its start", "cancelled when scheduled"):
        campaign.scheduled_at = later
        campaign.save()
        engine.launch(campaign, enqueue=False)
        if state == "paused before its start":
            engine.pause(campaign)
        if state == "cancelled when scheduled":
            engine.cancel(campaign)
        return campaign
    if state == "cancelled draft":
        engine.cancel(campaign)
        return campaign
    if state == "launching":  # a large launch a worker has not prepared yet
        Campaign.objects.filter(pk=campaign.pk).update(status=state, launched_at=timezone.now())
        return campaign
    engine.launch(campaign, enqueue=False)
    if state == "paused":
        engine.pause(campaign)
    elif state == "completed":
        assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    elif state == "cancelled":
        engine.cancel(campaign)
    return campaign


def _offers(page: str) -> dict[str, bool]:
    """What the page offers, by what a user reads on it."""
    tools = re.search(r'<ul class="object-tools">(.*?)</ul>', page, re.S)
    tools = tools.group(1) if tools else ""
    return {
        "results": ">Results</a>" in tools,
        "export": "Export all results as CSV" in tools or "Export as Excel" in tools,
        "launch": "Launch…</button>" in page,
        "pause": ">Pause</button>" in page,
        "resume": ">Resume</button>" in page,
        "cancel": ">Cancel…</button>" in page,
        "clone": ">Clone</button>" in page,
        "test": "Send test…</a>" in page,
        "follow up": "Follow up…</a>" in page,
    }


# What each state offers (mark may launch, control, test, export and add campaigns).
EXPECTED = {
    "draft": {"launch", "clone", "test", "follow up"},
    "scheduled": {"pause", "cancel", "clone", "test", "follow up"},
    "paused before its start": {"resume", "cancel", "clone", "test", "follow up"},
    "launching": {"cancel", "clone", "test", "follow up"},
    "running": {"results", "export", "pause", "cancel", "clone", "test", "follow up"},
    "paused": {"results", "export", "resume", "cancel", "clone", "test", "follow up"},
    "completed": {"results", "export", "clone", "test", "follow up"},
    "cancelled": {"results", "export", "clone"},
    "cancelled draft": {"clone"},
    "cancelled when scheduled": {"clone"},
}


@pytest.mark.parametrize("state", list(EXPECTED))
def test_a_campaigns_page_offers_what_its_state_allows_and_results_only_once_it_has_rows(
    client, mark, people, alpha, state
):
    campaign = _in_state(state, people, alpha)
    client.force_login(mark)

    page = client.get(change_path(campaign)).content.decode()

    offered = {name for name, shown in _offers(page).items() if shown}
    assert offered == EXPECTED[state], (campaign.status, campaign.results.count())


def _crumbs(page: str) -> str:
    found = re.search(r'<div class="breadcrumbs">(.*?)</div>', page, re.S)
    assert found, "no breadcrumbs"
    return " ".join(found.group(1).split())


def _a_b_test_waiting_for_its_winner(people, alpha) -> Campaign:
    campaign = make_campaign(
        "Spring",
        [people],
        [alpha],
        variants=["Hello B {{ first_name }}"],
        split={"A": 20, "B": 20, "hold": 60},
    )
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)
    return campaign


# Every page of one campaign beside its change page: how it is opened (by its button or its link,
# or by the changelist's action with this campaign alone ticked).
PAGES = {
    "launch summary": ("get", "launch/"),
    "launch summary (action)": ("action", "launch_selected"),
    "cancel confirmation": ("post", "do/cancel/"),
    "cancel confirmation (action)": ("action", "cancel_selected"),
    "resend unknown confirmation": ("post", "do/resend_unknown/"),
    "resend unknown confirmation (action)": ("action", "resend_unknown_selected"),
    "retry": ("get", "retry/"),
    "retry (action)": ("action", "retry_failed_selected"),
    "winner": ("get", "winner/"),
    "follow-up": ("get", "follow-up/"),
    "test send": ("get", "test-send/"),
}


@pytest.mark.parametrize("page_name", list(PAGES))
def test_every_page_of_a_campaign_has_a_breadcrumb_naming_it_and_linking_back(
    client, mark, people, alpha, page_name
):
    from campaigns.models import MessageResult, ResultStatus

    how, where = PAGES[page_name]
    campaign = _a_b_test_waiting_for_its_winner(people, alpha)
    if page_name.startswith("launch"):
        campaign = make_campaign("Spring", [people], [alpha])
    MessageResult.objects.create(
        campaign=campaign, key="@gone", dedupe_key="@gone", status=ResultStatus.UNKNOWN
    )
    MessageResult.objects.create(
        campaign=campaign, key="@fail", dedupe_key="@fail", status=ResultStatus.FAILED, error_code="TIMEOUT"
    )
    client.force_login(mark)
    base = change_path(campaign).removesuffix("change/")
    if how == "get":
        response = client.get(base + where)
    elif how == "post":
        response = client.post(base + where)
    else:
        response = client.post(
            "/admin/campaigns/campaign/", {"action": where, "_selected_action": [campaign.pk]}
        )

    assert response.status_code == 200, response
    crumbs = _crumbs(response.content.decode())
    assert f'<a href="{change_path(campaign)}">Spring</a>' in crumbs, crumbs


def test_the_pages_words_per_session_and_locked_fields_cost_no_query_per_session(client, mark, people):
    """The progress table's words ("412 of 1,000 sent"), the locks and the file's name are drawn
    from what the page reads anyway: two sessions or ten, the same queries."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.conftest import make_session

    client.force_login(mark)
    counted = []
    for n in (2, 10):
        campaign = make_campaign(f"{n} sessions", [people], [make_session(f"s{n}.{i}") for i in range(n)])
        engine.launch(campaign, enqueue=False)
        assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
        client.get(change_path(campaign))  # the first page of a test warms Django's own caches
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            page = client.get(change_path(campaign)).content.decode()
        assert "Fixed at launch" in page and " of " in page
        counted.append(len(queries))
    assert counted[0] == counted[1], counted


def test_a_view_only_user_sees_the_campaign_without_lock_labels(client, mark, rita, people, alpha):
    """ "Fixed at launch" tells an editor what no longer changes; to a reviewer, who may change
    nothing, every field would carry it (the name, the delay: fields an editor may change)."""
    from django.urls import reverse

    campaign = make_campaign("Watched", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    page = reverse("admin:campaigns_campaign_change", args=[campaign.pk])

    client.force_login(rita)
    viewed = client.get(page).content.decode()
    client.force_login(mark)
    edited = client.get(page).content.decode()

    assert "Fixed at launch" not in viewed and "tgc-locked" not in viewed and "Watched" in viewed
    locked_rows = re.findall(r'class="form-row[^"]*tgc-locked', edited)
    assert locked_rows and 'class="form-row field-name"' in edited  # the name stays editable, unmarked


def test_each_locked_field_of_a_shared_line_says_it_is_fixed(client, mark, people, alpha):
    """Fields drawn on one line (the quiet-hours window, the A/B shares) are each boxed when
    locked: each carries its own label, not only the line's last one (a boxed "Send window start"
    with no word beside it reads as a display fault, or as editable)."""
    campaign = make_campaign("Shared lines", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    client.force_login(mark)
    page = client.get(change_path(campaign)).content.decode()

    boxes = dict(
        re.findall(r'class="flex-container fieldBox field-(\w+)[^"]*">(.*?)</div>\s*</div>', page, re.S)
    )
    shared = [
        "send_window_start",
        "send_window_end",
        "share_a",
        "share_b",
        "share_c",
        "share_d",
        "share_hold",
    ]
    assert set(shared) <= set(boxes), sorted(boxes)
    unlabelled = [name for name in shared if 'class="tgc-lock"' not in boxes[name]]
    assert not unlabelled, unlabelled


def test_the_progress_metrics_count_one_request_in_the_singular(client, mark, people, alpha):
    """ "1 requests to Telegram · 0 retries": a count of one reads in the singular."""
    from campaigns.models import Recipient

    Recipient.objects.filter(recipient_list=people).exclude(
        pk=Recipient.objects.filter(recipient_list=people, status="valid").order_by("pk").values("pk")[:1]
    ).delete()
    campaign = make_campaign("One", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    assert engine.run_until_done(campaign, max_seconds=20) == CampaignStatus.COMPLETED
    client.force_login(mark)
    page = client.get(change_path(campaign)).content.decode()

    metrics = " ".join(re.search(r'<p class="tgc-muted tgc-metrics">(.*?)</p>', page, re.S).group(1).split())
    assert metrics.startswith("1 request to Telegram"), metrics
    assert "0 retries" in metrics and "0 FloodWaits" in metrics, metrics
