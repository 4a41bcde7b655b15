"""Follow-ups (campaigns.audience.followups, the *Follow up…* page): who, how many now, the new
draft with its segment and the same sessions; the bot rule said on the page; scheduled follow-ups
armed when the first campaign completes and evaluated when they fire (the reaper)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import engine
from campaigns.audience.followups import FollowUpRefused, create_follow_up, follow_up_counts
from campaigns.models import Campaign, DeliveryAttempt, MessageResult
from sessions_app.models import SessionKind
from tests.conftest import make_campaign, make_list, make_session
from tgcampaigns.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def spring(db):
    """A completed campaign: anna read it at once, ben read it after 3 h and replied, cleo did not
    read it, dora got it from a bot (no read can be known), erin's failed after its retries."""
    people = make_list(
        "people", [(f"@{n}_user", {"first_name": n}) for n in ("anna", "ben", "cleo", "dora", "erin")]
    )
    user = make_session("user-account", kind=SessionKind.USER)
    bot = make_session("bot-account", kind=SessionKind.BOT)
    campaign = make_campaign("spring", [people], [user, bot], status="completed", delay_seconds=2.0)
    campaign.finished_at = timezone.now()
    campaign.save()
    sent = timezone.now() - timedelta(days=1)

    def row(key, session, status="sent", **fields):
        return MessageResult.objects.create(
            campaign=campaign,
            key=key,
            dedupe_key=key,
            status=status,
            session=session,
            sent_at=sent if status == "sent" else None,
            **fields,
        )

    row("@anna_user", user, read_at=sent + timedelta(minutes=5))
    row("@ben_user", user, read_at=sent + timedelta(hours=3), replied_at=sent + timedelta(hours=3))
    row("@cleo_user", user)
    row("@dora_user", bot)
    erin = row("@erin_user", user, status="failed", error_code="TIMEOUT")
    for outcome in ("retry", "retry", "failed"):
        DeliveryAttempt.objects.create(
            result=erin,
            session=user,
            started_at=sent,
            finished_at=sent,
            outcome=outcome,
            error_code="TIMEOUT",
        )
    return campaign


def keys(campaign: Campaign) -> list[str]:
    return sorted(campaign.segments.get().recipients().values_list("key", flat=True))


def test_each_kind_counts_its_people_and_did_not_read_leaves_out_bots(spring):
    assert follow_up_counts(spring) == {"not_read": 1, "read_not_replied": 1, "replied": 1, "failed": 1}
    assert follow_up_counts(spring, within_hours=1)["not_read"] == 2  # ben read it after 3 h


@pytest.mark.parametrize(
    ("kind", "within", "expected"),
    [
        ("not_read", 1, ["@ben_user", "@cleo_user"]),
        ("read_not_replied", None, ["@anna_user"]),
        ("replied", None, ["@ben_user"]),
        ("failed", None, ["@erin_user"]),
    ],
)
def test_a_follow_up_is_a_draft_to_its_people_with_the_same_sessions(spring, mark, kind, within, expected):
    follow_up = create_follow_up(spring, kind, within_hours=within, by=mark)

    assert follow_up.status == "draft" and follow_up.message == ""
    assert set(follow_up.sessions.all()) == set(spring.sessions.all())
    assert follow_up.delay_seconds == 2.0
    assert keys(follow_up) == expected
    assert follow_up.segments.get().follow_up_of == spring


def test_the_page_shows_the_counts_and_says_what_cannot_be_known(client, mark, spring):
    client.force_login(mark)
    page = client.get(reverse("admin:campaigns_campaign_follow_up", args=[spring.pk]) + "?within=1")

    text = page.content.decode()
    assert page.status_code == 200
    assert 'id="tgc-count-not_read">2<' in text
    assert 'id="tgc-left-out-count">1<' in text
    assert "looks unread for ever" in text


def test_posting_creates_the_draft_audited_and_opens_it(client, mark, spring):
    client.force_login(mark)
    response = client.post(
        reverse("admin:campaigns_campaign_follow_up", args=[spring.pk]),
        {"kind": "not_read", "within": "1", "when": "now"},
    )

    follow_up = Campaign.objects.exclude(pk=spring.pk).get()
    assert response.url == reverse("admin:campaigns_campaign_change", args=[follow_up.pk])
    assert AuditEvent.objects.filter(action="campaign.follow_up", object_id=str(follow_up.pk)).exists()
    page = client.get(reverse("admin:campaigns_campaign_change", args=[spring.pk])).content.decode()
    assert follow_up.name in page and 'id="tgc-follow-up"' in page


def test_a_reviewer_may_not_create_a_follow_up(client, rita, spring):
    client.force_login(rita)
    url = reverse("admin:campaigns_campaign_follow_up", args=[spring.pk])
    assert client.post(url, {"kind": "replied", "when": "now"}).status_code == 403
    assert Campaign.objects.count() == 1


def test_an_unknown_kind_is_refused(spring):
    with pytest.raises(FollowUpRefused):
        create_follow_up(spring, "opened")


def test_a_scheduled_follow_up_waits_for_the_first_campaign_then_fires_with_whoever_has_not_read_then(spring):
    spring.status = "running"
    spring.finished_at = None
    spring.save()
    follow_up = create_follow_up(spring, "not_read", after_hours=2)
    follow_up.message = "Did you see our spring offer?"
    follow_up.save()

    engine.launch(follow_up, enqueue=False)  # scheduled: the first campaign has not ended
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.scheduled_at) == ("scheduled", None)
    assert "2 h after it ends" in follow_up.status_reason

    engine.reap(dispatch=False)
    follow_up.refresh_from_db()
    assert follow_up.scheduled_at is None  # still running: nothing to arm

    Campaign.objects.filter(pk=spring.pk).update(
        status="completed", finished_at=timezone.now() - timedelta(minutes=30)
    )
    engine.reap(dispatch=False)
    follow_up.refresh_from_db()
    assert follow_up.status == "scheduled"
    assert follow_up.scheduled_at == Campaign.objects.get(pk=spring.pk).finished_at + timedelta(hours=2)

    # Meanwhile cleo reads it: when the follow-up fires she is no longer among "did not read".
    MessageResult.objects.filter(key="@cleo_user").update(read_at=timezone.now())
    MessageResult.objects.filter(key="@ben_user").update(read_at=None)
    Campaign.objects.filter(pk=follow_up.pk).update(scheduled_at=timezone.now() - timedelta(seconds=1))
    engine.reap(dispatch=False)

    follow_up.refresh_from_db()
    assert follow_up.status == "running"
    assert list(follow_up.results.values_list("key", flat=True)) == ["@ben_user"]


def test_a_scheduled_follow_up_of_a_cancelled_campaign_is_paused_for_a_human(spring):
    spring.status = "running"
    spring.save()
    follow_up = create_follow_up(spring, "not_read", after_hours=1)
    follow_up.message = "Hello again"
    follow_up.save()
    engine.launch(follow_up, enqueue=False)
    Campaign.objects.filter(pk=spring.pk).update(status="cancelled", finished_at=timezone.now())

    engine.reap(dispatch=False)

    follow_up.refresh_from_db()
    assert follow_up.status == "paused" and "was cancelled" in follow_up.status_reason


def test_both_pages_show_the_scheduled_follow_up(client, mark, spring):
    follow_up = create_follow_up(spring, "not_read", after_hours=48)
    client.force_login(mark)

    first = client.get(reverse("admin:campaigns_campaign_change", args=[spring.pk])).content.decode()
    second = client.get(reverse("admin:campaigns_campaign_change", args=[follow_up.pk])).content.decode()

    assert "48 h after this one ends" in first
    assert 'id="tgc-follows-up"' in second and "spring" in second


def test_a_scheduled_follow_up_can_be_made_with_a_draft_campaign(client, mark, alpha, people):
    draft = make_campaign("autumn", [people], [alpha])
    client.force_login(mark)

    page = client.get(reverse("admin:campaigns_campaign_follow_up", args=[draft.pk])).content.decode()
    client.post(
        reverse("admin:campaigns_campaign_follow_up", args=[draft.pk]),
        {"kind": "not_read", "when": "after", "after": "48"},
    )

    assert 'id="tgc-follow-up-unsent"' in page
    follow_up = Campaign.objects.get(follow_up_of=draft)
    assert follow_up.follow_up_hours == 48 and follow_up.status == "draft"


def test_a_follow_up_drafts_page_counts_the_people_of_its_segment_not_zero(client, mark, spring):
    follow_up = create_follow_up(spring, "read_not_replied")  # anna: one person, no list
    client.force_login(mark)

    data = client.get(reverse("campaigns:progress", args=[follow_up.pk])).json()

    assert "<strong>1</strong> person in its segments now" in data["html"]
    assert "Estimate" in data["html"]  # the pace is forecast for that person, not for nobody


@pytest.mark.parametrize("hours", ["0", "8761", "99999999999", "1e3"])
def test_hours_out_of_a_year_are_refused_on_the_page_with_the_range(client, mark, spring, hours):
    client.force_login(mark)
    url = reverse("admin:campaigns_campaign_follow_up", args=[spring.pk])

    counted = client.get(url, {"within": hours})
    made = client.post(url, {"kind": "not_read", "when": "after", "after": hours})

    assert counted.status_code == 200 and "from 1 to 8760" in counted.content.decode()
    assert made.status_code == 200 and "from 1 to 8760" in made.content.decode()
    assert not Campaign.objects.filter(follow_up_of=spring).exists()
