"""Issue 9, the home page for staff: campaigns running, scheduled and recently finished with their
figures, and the sessions that need attention (FloodWait, quarantined, not logged in), each shown
to the roles that may see it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import engine
from campaigns.models import CampaignStatus
from sessions_app.models import SessionStatus
from tests.conftest import make_campaign, make_session

pytestmark = pytest.mark.django_db


def section(html: str, name: str) -> str:
    marker = f'id="tgc-home-{name}"'
    return html.split(marker, 1)[1].split("</section>", 1)[0] if marker in html else ""


@pytest.fixture
def home_world(people, alpha):
    done = make_campaign("Done one", [people], [alpha])
    engine.launch(done, enqueue=False)
    engine.run_until_done(done, max_seconds=10)
    going = make_campaign("Going one", [people], [alpha])
    engine.launch(going, enqueue=False)
    make_campaign("Later one", [people], [alpha], status=CampaignStatus.SCHEDULED,
                  scheduled_at=timezone.now() + timedelta(hours=3))  # fmt: skip
    make_session("flooded", flood_wait_until=timezone.now() + timedelta(minutes=6, seconds=20))
    make_session("spam", status=SessionStatus.QUARANTINED)
    make_session("fresh", status=SessionStatus.NEW, backend="telethon")
    return done


def test_the_home_page_shows_running_scheduled_and_finished_campaigns_with_their_figures(
    client, mark, home_world
):
    client.force_login(mark)

    html = client.get(reverse("admin:index")).content.decode()

    assert "Going one" in section(html, "running") and "<td>5</td>" in section(html, "running")  # 5 waiting
    assert "Later one" in section(html, "scheduled") and "(in 3 h)" in section(html, "scheduled")
    finished = section(html, "finished")
    assert "Done one" in finished and "<td>5</td>" in finished  # 5 sent


def test_the_home_page_lists_sessions_that_need_attention(client, otto, home_world):
    client.force_login(otto)

    attention = section(client.get(reverse("admin:index")).content.decode(), "attention")

    assert "flooded</a>" in attention and "FloodWait for 6 min" in attention
    assert "spam</a>" in attention and "quarantined" in attention
    assert "fresh</a>" in attention and "not logged in" in attention
    assert "alpha" not in attention


def test_marketing_sees_which_sessions_wait_without_links_to_session_pages(client, mark, home_world):
    client.force_login(mark)

    attention = section(client.get(reverse("admin:index")).content.decode(), "attention")

    assert "<strong>spam</strong>" in attention and "/sessions_app/" not in attention


def test_a_reviewer_sees_the_campaigns_but_not_the_sessions(client, rita, home_world):
    client.force_login(rita)

    html = client.get(reverse("admin:index")).content.decode()

    assert section(html, "running") and not section(html, "attention")


def test_the_home_page_reads_no_result_row(client, olga, home_world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(olga)
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("admin:index"))

    assert not any('FROM "campaigns_messageresult"' in q["sql"] for q in queries.captured_queries)


def test_the_home_page_lists_drafts_to_take_a_new_marketer_to_them(client, mark, people, alpha):
    """Found trying the demo as a new marketer: the home page led nowhere near its draft."""
    draft = make_campaign("Demo draft", [people], [alpha])
    client.force_login(mark)

    drafts = section(client.get(reverse("admin:index")).content.decode(), "drafts")

    assert (
        f'/admin/campaigns/campaign/{draft.pk}/change/">Demo draft</a>' in drafts and "<td>5</td>" in drafts
    )


def test_a_campaign_paused_for_its_winner_is_listed_as_needing_you_with_its_held_rows(client, mark, alpha):
    # Found trying the product: it was under "Sending now" with its held rows counted as waiting.
    from tests.conftest import make_list

    crowd = make_list("crowd", [(f"@member_{i:04d}", {}) for i in range(20)])
    ab = make_campaign("AB one", [crowd], [alpha], variants=["B"], split={"A": 10, "B": 10, "hold": 80})
    engine.launch(ab, enqueue=False)
    assert engine.run_until_done(ab, max_seconds=10) == CampaignStatus.PAUSED
    held = ab.results.filter(status="held").count()
    client.force_login(mark)

    html = client.get(reverse("admin:index")).content.decode()

    assert "AB one" not in section(html, "running")
    paused = section(html, "paused")
    assert "AB one" in paused and "choose the winner" in paused and "needs you" in paused
    assert f'<td class="tgc-held">{held}</td>' in paused and '<td class="tgc-waiting">0</td>' in paused


def test_a_draft_to_a_segment_says_so_instead_of_only_zero_recipients_in_its_lists(client, mark, alpha):
    # Issue (newuser): a follow-up's draft has a segment and no list; the home page said "0".
    from campaigns.models import Segment

    draft = make_campaign("Follow-up draft", [], [alpha])
    draft.segments.add(Segment.objects.create(name="did not read", definition={}))
    client.force_login(mark)

    drafts = section(client.get(reverse("admin:index")).content.decode(), "drafts")

    assert "Follow-up draft" in drafts
    assert "0 + 1 segment (counted at launch)" in drafts
