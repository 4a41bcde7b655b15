"""A campaign page's fieldsets are drawn once and reused for ``TGC_PAGE_CACHE_SECONDS`` while
what they show is unchanged (campaigns/admin/reused_fieldsets.py): the same HTML as drawn fresh,
never another user's view, another zone's times, a stale edit, or a choice among rows that may
have changed since."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns import engine
from campaigns.models import Campaign, CampaignStatus, StaffPreference
from campaigns.reporting import page_cache
from tests.conftest import make_campaign, make_list, make_session

pytestmark = pytest.mark.django_db

VOLATILE = re.compile(r'(csrfmiddlewaretoken|_edit_version)" value="[^"]+"|data-version="[^"]+"')


@pytest.fixture
def launched(people, alpha):
    campaign = make_campaign("Watched", [people], [alpha], message="Hi {{ first_name }}")
    engine.launch(campaign, enqueue=False)
    campaign.refresh_from_db()
    return campaign


def _page(client, campaign) -> str:
    return client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()


def _form_part(html: str) -> str:
    """The page's form, its per-request tokens blanked (what the fieldsets are part of)."""
    start = html.index('id="campaign_form"')
    return VOLATILE.sub("X", html[start : html.index("</form>", start)])


def test_a_launched_campaigns_fieldsets_are_what_a_fresh_drawing_gives(client, olga, launched):
    client.force_login(olga)
    with override_settings(TGC_PAGE_CACHE_SECONDS=0):
        fresh = _form_part(_page(client, launched))

    first, reused = _form_part(_page(client, launched)), _form_part(_page(client, launched))

    assert reused == first == fresh
    assert 'name="name"' in reused and "Watched" in reused


def test_reused_fieldsets_read_no_names_of_lists_or_sessions(client, olga, launched):
    client.force_login(olga)
    _page(client, launched)
    with CaptureQueriesContext(connection) as second:
        _page(client, launched)
    with override_settings(TGC_PAGE_CACHE_SECONDS=0), CaptureQueriesContext(connection) as fresh:
        _page(client, launched)

    names_read = [q["sql"] for q in second.captured_queries if '"campaigns_recipientlist"."name"' in q["sql"]]
    assert names_read == []
    assert len(second.captured_queries) < len(fresh.captured_queries)


def test_an_edit_shows_at_the_next_request(client, olga, launched):
    client.force_login(olga)
    assert "Watched" in _form_part(_page(client, launched))

    Campaign.objects.filter(pk=launched.pk).update(name="Renamed", delay_seconds=7)

    form = _form_part(_page(client, launched))
    assert 'value="Renamed"' in form and "Watched" not in form
    assert re.search(r'name="delay_seconds" value="7(\.0)?"', form)


def test_a_new_list_of_the_campaign_shows_at_the_next_request(client, olga, launched):
    client.force_login(olga)
    assert "Later list" not in _page(client, launched)

    launched.lists.add(make_list("Later list", [("@zoe_user", {})]))

    assert "Later list" in _form_part(_page(client, launched))


def test_a_view_only_user_never_gets_the_editable_form_another_user_was_drawn(client, olga, rita, launched):
    client.force_login(olga)
    assert 'name="name"' in _form_part(_page(client, launched))

    client.force_login(rita)
    html = _page(client, launched)

    assert 'name="name"' not in html and "Watched" in html


def test_each_time_zone_gets_its_own_times(client, olga, launched):
    other = User.objects.create_superuser("tokyo", "tokyo@example.com", "tokyo-password-1")
    StaffPreference.objects.create(user=other, time_zone="Asia/Tokyo")
    Campaign.objects.filter(pk=launched.pk).update(scheduled_at=launched.created_at)
    client.force_login(olga)
    utc = _form_part(_page(client, launched))

    client.force_login(other)
    tokyo = _form_part(_page(client, launched))

    assert utc != tokyo
    assert "Tokyo" in tokyo or "JST" in tokyo or "+09" in tokyo


def test_a_drafts_choice_of_lists_is_drawn_fresh(client, olga, people, alpha):
    draft = make_campaign("Draft", [people], [alpha])
    client.force_login(olga)
    assert "Arrived list" not in _page(client, draft)

    make_list("Arrived list", [("@zoe_user", {})])

    assert "Arrived list" in _form_part(_page(client, draft))


def test_a_paused_campaigns_choice_of_sessions_is_drawn_fresh(client, olga, launched):
    Campaign.objects.filter(pk=launched.pk).update(status=CampaignStatus.PAUSED)
    client.force_login(olga)
    assert "gamma-new" not in _page(client, launched)

    make_session("gamma-new")

    assert "gamma-new" in _form_part(_page(client, launched))


def test_a_form_coming_back_with_errors_is_drawn_from_the_post_and_never_reused(client, olga, launched):
    client.force_login(olga)
    page = reverse("admin:campaigns_campaign_change", args=[launched.pk])
    opened = client.get(page)
    form = opened.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name in form.fields}
    data.update(delay_seconds="soon", _edit_version=opened.context["edit_version"])

    refused = _form_part(client.post(page, data).content.decode())
    after = _form_part(_page(client, launched))

    said = Campaign.BOUNDS["delay_seconds"].message  # "Must be a number of seconds from 0 to 3600."
    assert 'value="soon"' in refused and said in refused
    assert 'value="soon"' not in after and said not in after


def test_the_saved_state_moves_with_segments_too(launched, people):
    from campaigns.models import Segment

    before = page_cache.saved_state(Campaign.objects.get(pk=launched.pk))
    launched.segments.add(Segment.objects.create(name="VIPs"))

    assert page_cache.saved_state(Campaign.objects.get(pk=launched.pk)) != before
