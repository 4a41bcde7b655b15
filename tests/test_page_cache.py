"""A campaign page's computed blocks (progress, preview, the composer's sample) are reused for
``TGC_PAGE_CACHE_SECONDS`` while the campaign stands still, and never once it moved: a message
sent, a status change, an edit or a new list shows at the next request."""

from __future__ import annotations

from unittest import mock

import pytest
from django.test import override_settings
from django.urls import reverse

from campaigns import engine
from campaigns.models import Campaign, ResultStatus
from campaigns.reporting import progress
from tests.conftest import make_campaign, make_list

pytestmark = pytest.mark.django_db


@pytest.fixture
def launched(people, alpha):
    campaign = make_campaign("Watched", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    return campaign


def _progress(client, campaign) -> dict:
    return client.get(reverse("campaigns:progress", args=[campaign.pk])).json()


def test_the_progress_block_is_built_once_while_nothing_changes(client, olga, launched):
    client.force_login(olga)
    with mock.patch.object(progress, "progress_snapshot", wraps=progress.progress_snapshot) as built:
        first, second = _progress(client, launched), _progress(client, launched)
        client.get(reverse("admin:campaigns_campaign_change", args=[launched.pk]))

    assert built.call_count == 1
    assert first["counts"] == second["counts"]


def test_a_message_sent_shows_at_the_next_poll(client, olga, launched):
    client.force_login(olga)
    before = _progress(client, launched)

    launched.results.filter(key="@alice_user").update(status=ResultStatus.SENT)

    after = _progress(client, launched)
    assert after["counts"]["sent"] == before["counts"]["sent"] + 1


def test_a_paused_campaign_says_so_at_the_next_request(client, olga, launched):
    client.force_login(olga)
    assert _progress(client, launched)["status"] == "running"

    Campaign.objects.filter(pk=launched.pk).update(status="paused")

    assert _progress(client, launched)["status"] == "paused"


def test_the_composer_shows_the_saved_message_and_lists_at_once(client, olga, people, alpha):
    client.force_login(olga)
    draft = make_campaign("Draft", [people], [alpha], message="Hi {{ first_name }}")
    page = reverse("admin:campaigns_campaign_change", args=[draft.pk])
    assert "Alice" in client.get(page).context["composer"]["html"]

    Campaign.objects.filter(pk=draft.pk).update(message="Hello {{ first_name }}")
    draft.lists.set([make_list("others", [("@zoe_user", {"first_name": "Zoe"})])])

    composer = client.get(page).context["composer"]
    assert composer["html"].startswith("Hello") and "Zoe" in composer["html"]


@override_settings(TGC_PAGE_CACHE_SECONDS=0)
def test_with_no_page_cache_every_request_builds_its_blocks(client, olga, launched):
    client.force_login(olga)
    with mock.patch.object(progress, "progress_snapshot", wraps=progress.progress_snapshot) as built:
        _progress(client, launched)
        _progress(client, launched)

    assert built.call_count == 2


def test_the_reused_progress_block_shows_each_viewers_own_time_zone(client, olga, launched):
    """The snapshot's clock and ETA are written in the zone of whoever asked: a snapshot built
    for one zone is never shown to a viewer in another."""
    from django.contrib.auth.models import User

    from campaigns.models import StaffPreference

    tokyo = User.objects.create_superuser("tokyo", "tokyo@example.com", "tokyo-password-1")
    StaffPreference.objects.create(user=tokyo, time_zone="Asia/Tokyo")
    StaffPreference.objects.create(user=olga, time_zone="America/New_York")
    client.force_login(olga)
    new_york = _progress(client, launched)["updated_display"]

    client.force_login(tokyo)
    in_tokyo = _progress(client, launched)["updated_display"]

    assert new_york != in_tokyo


def test_the_progress_block_drawn_for_one_viewer_keeps_its_links_to_those_allowed(client, mark, rita, alpha):
    """The block's HTML is reused per snapshot and per viewer's permission: a reviewer, who may
    not change lists, is never shown the link drawn for a marketer, nor the reverse."""
    from datetime import time

    rows = [("+79123456789", {})] + [(f"+4915112345{i:03d}", {"timezone": "Europe/Berlin"}) for i in range(3)]
    campaign = make_campaign(
        "Quiet", [make_list("Export", rows)], [alpha], send_window_start=time(9), send_window_end=time(17)
    )
    page = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    fix_link = 'class="tgc-fix-list"'

    for first, then in ((mark, rita), (rita, mark)):
        client.force_login(first)
        seen_first = client.get(page).content.decode()
        client.force_login(then)
        seen_then = client.get(page).content.decode()
        allowed = {user: user.has_perm("campaigns.change_recipientlist") for user in (first, then)}
        assert (fix_link in seen_first) == allowed[first] and (fix_link in seen_then) == allowed[then]
        assert "several time zones" in seen_first and "several time zones" in seen_then
