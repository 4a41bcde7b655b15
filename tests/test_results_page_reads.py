"""What a results changelist page reads: the same statements for a few rows or a hundred (no
query per row), only the columns it shows, and the navigation sidebar drawn once per user, page
and language while ``TGC_PAGE_CACHE_SECONDS`` holds (issue 22: the changelist's throughput)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns import engine
from campaigns.models import ResultStatus

from .conftest import make_campaign, make_list

pytestmark = pytest.mark.django_db
RESULTS = reverse("admin:campaigns_messageresult_changelist")
USERS = reverse("admin:auth_user_changelist")


def sent_campaign(name: str, size: int, sessions):
    """A campaign of ``size`` rows and one invalid line, sent, with a row of every look: failed
    with a code, read, replied."""
    rows = [(f"@{name}_{i:03d}", {"first_name": f"N{i}"}) for i in range(size)] + [("not a recipient", {})]
    campaign = make_campaign(name, [make_list(f"{name} list", rows)], sessions)
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=30)
    results = campaign.results.exclude(key="").order_by("pk")
    now = timezone.now()
    results.filter(pk=results[0].pk).update(status=ResultStatus.FAILED, error_code="USER_IS_BLOCKED")
    results.filter(pk=results[1].pk).update(read_at=now, replied_at=now, reply_count=2)
    return campaign


def statements(client, query: dict) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(RESULTS, query)
    assert response.status_code == 200
    return [q["sql"] for q in queries.captured_queries]


@pytest.fixture
def campaigns(client, olga, alpha, beta):
    client.force_login(olga)
    return sent_campaign("few", 3, [alpha]), sent_campaign("many", 60, [alpha, beta])


@pytest.mark.parametrize("filtered", [True, False], ids=["one campaign", "every campaign"])
def test_a_page_reads_as_many_statements_for_a_few_rows_as_for_many(client, campaigns, filtered):
    few, many = campaigns
    counts = []
    for campaign in (few, many):
        query = (
            {"campaign__id__exact": campaign.pk}
            if filtered
            else {"status__exact": "sent", "q": campaign.name}
        )
        page = client.get(RESULTS, query).content.decode()
        assert "USER_IS_BLOCKED" in page or not filtered  # every kind of row is on the page
        counts.append(len(statements(client, query)))

    assert counts[0] == counts[1]


def test_a_page_reads_only_the_columns_it_shows(client, campaigns):
    few, _ = campaigns
    page = " ".join(statements(client, {"campaign__id__exact": few.pk}))

    for column in (
        '"campaigns_messageresult"."fields"',
        '"campaigns_messageresult"."error_text"',
        '"campaigns_recipient"."fields"',
        '"campaigns_recipientlist"."report"',
        '"campaigns_recipientlist"."mapping"',
        '"sessions_app_telegramsession"."session_string_encrypted"',
        '"sessions_app_telegramsession"."simulator_config"',
        '"campaigns_campaign"."message"',
    ):
        assert column not in page
    for column in ('"campaigns_recipient"."raw_value"', '"campaigns_recipientlist"."name"'):
        assert column in page


def test_the_campaign_filter_lists_names_without_reading_whole_campaigns(client, campaigns):
    few, many = campaigns
    page = client.get(RESULTS, {"campaign__id__exact": few.pk}).content.decode()
    sql = statements(client, {"campaign__id__exact": few.pk})

    assert f"?campaign__id__exact={many.pk}" in page and ">many</a>" in page
    assert not any('"campaigns_campaign"."message"' in s for s in sql)


@pytest.fixture
def app_lists(monkeypatch):
    """How many times a request built the admin's app list (the sidebar's model links)."""
    built = []
    build = AdminSite._build_app_dict

    def counted(site, request, label=None):
        built.append(request.user.username)
        return build(site, request, label)

    monkeypatch.setattr(AdminSite, "_build_app_dict", counted)
    return built


def test_the_sidebar_is_drawn_once_per_user_and_page_while_the_cache_holds(client, campaigns, app_lists):
    few, _ = campaigns
    first = client.get(RESULTS, {"campaign__id__exact": few.pk}).content.decode()
    again = client.get(RESULTS, {"status__exact": "sent"}).content.decode()  # same path, other filters

    assert app_lists == ["olga"]
    assert 'id="nav-sidebar"' in first and 'id="nav-sidebar"' in again
    sidebar = first[first.index('id="nav-sidebar"') :].split("</nav>")[0]
    assert sidebar in again and 'href="/admin/campaigns/messageresult/"' in sidebar


def test_without_the_cache_the_sidebar_is_drawn_each_time(client, campaigns, app_lists, settings):
    settings.TGC_PAGE_CACHE_SECONDS = 0
    client.get(RESULTS)
    client.get(RESULTS)

    assert app_lists == ["olga", "olga"]


def test_each_user_sees_their_own_sidebar_and_a_permission_shows_at_once(client, campaigns, rita):
    assert USERS in client.get(RESULTS).content.decode()  # the superuser's sidebar, now cached

    client.force_login(rita)
    assert USERS not in client.get(RESULTS).content.decode()

    rita.user_permissions.add(Permission.objects.get(codename="view_user"))
    assert USERS in client.get(RESULTS).content.decode()


def test_the_admin_site_builds_its_app_list_when_read(rf, olga):
    request = rf.get("/admin/")
    request.user = olga

    apps = admin.site.get_app_list(request)

    assert isinstance(admin.site, AdminSite) and len(apps) > 0
    assert any(model["object_name"] == "MessageResult" for app in apps for model in app["models"])
    assert admin.site.get_app_list(request, "no_such_app") == [] or not admin.site.get_app_list(
        request, "no_such_app"
    )
