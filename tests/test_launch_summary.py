"""Issue 9, "a launch that cannot surprise": *Launch* opens a summary (recipients to send and
skipped with reasons, sessions and their pace, duration and finish time, the message) and launches
only when confirmed, exactly what was saved; a page with unsaved edits, or a campaign changed since
its summary, is not launched; the list action confirms too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import engine
from campaigns.models import Campaign, CampaignStatus, Recipient, Suppression
from campaigns.reporting.summary import launch_summary
from tests.conftest import make_campaign, make_list, make_session
from tgcampaigns.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def summary_url(campaign: Campaign) -> str:
    return reverse("admin:campaigns_campaign_launch", args=[campaign.pk])


def change_form_data(client, campaign: Campaign) -> dict:
    """The campaign's change form as the page shows it (what the browser would submit)."""
    form = (
        client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).context["adminform"].form
    )
    data = {}
    for name in form.fields:
        value = form[name].value()
        if name == "scheduled_at":
            data |= {"scheduled_at_0": "", "scheduled_at_1": ""}
        elif isinstance(value, list):
            data[name] = [str(v) for v in value]
        elif value is not None and name != "media":
            data[name] = value
    return data


@pytest.fixture
def client(client, mark):
    client.force_login(mark)
    return client


def test_the_summary_counts_recipients_to_send_and_skipped_by_reason(alpha):
    rows = [
        ("@ann_user", {"first_name": "Ann"}),
        ("@bob_user", {"first_name": "Bob"}),
        ("@ann_user", {"first_name": "Ann again"}),  # duplicate in the list
        ("@opted_out", {"first_name": "Olly"}),
    ]
    one = make_list("one", rows)
    two = make_list("two", [("@bob_user", {"first_name": "Bob"}), ("@cat_user", {"first_name": "Cat"})])
    Suppression.objects.create(key="@opted_out")
    campaign = make_campaign("Counted", [one, two], [alpha])

    summary = launch_summary(campaign)

    assert summary.counts == {
        "to_send": 3,
        "invalid": 0,
        "no_consent": 0,
        "duplicate": 2,
        "suppressed": 1,
        "total": 6,
    }
    assert summary.can_launch and summary.skipped == 3


def test_the_summary_counts_rows_without_consent_apart_from_invalid_lines(client, alpha):
    rows = make_list("newsletter", [("@ann_user", {})])
    refused = [
        "no consent (column Newsletter says 'no')",
        "no consent: column Newsletter says 'maybe', neither yes nor no (write yes or no)",
        "opted out (column Unsubscribed says 'yes'); if it does not mean so, choose another role for the column",
        "not a phone number: too short",
    ]
    for n, error in enumerate(refused, start=3):
        Recipient.objects.create(
            recipient_list=rows, row_number=n, raw_value=f"row {n}", status="invalid", error=error
        )
    campaign = make_campaign("Consent", [rows], [alpha])

    summary = launch_summary(campaign)
    page = " ".join(client.get(summary_url(campaign)).content.decode().split())

    assert (summary.counts["invalid"], summary.counts["no_consent"], summary.skipped) == (1, 3, 4)
    assert (summary.no_consent, summary.invalid_reasons) == (3, [("not a phone number", 1)])
    assert (
        "Skipped, with the reason: 3 no consent (the list's consent or opt-out column), 1 invalid line (1 not a phone number)."
        in page
    )
    engine.launch(campaign, enqueue=False)
    skipped = campaign.results.filter(status="skipped").order_by("recipient__row_number")
    assert list(skipped.values_list("error_text", flat=True)) == refused  # each with its reason, never sent
    codes = ["NO_CONSENT"] * 3 + ["INVALID_RECIPIENT"]
    assert list(skipped.values_list("error_code", flat=True)) == codes  # told apart after the launch


def test_a_large_launch_counts_rows_without_consent_apart_too(alpha, settings):
    settings.TGC_INLINE_LAUNCH_ROWS = 1
    rows = make_list("newsletter", [("@ann_user", {}), ("@bob_user", {})])
    Recipient.objects.create(
        recipient_list=rows, row_number=9, status="invalid", error="no consent (column Newsletter says 'no')"
    )
    rows.invalid_count, rows.total_rows = 1, 3
    rows.save()

    summary = launch_summary(make_campaign("Big", [rows], [alpha]))

    assert summary.approximate and (summary.counts["invalid"], summary.no_consent, summary.skipped) == (
        0,
        1,
        1,
    )


def test_the_summary_shows_each_sessions_pace_expected_split_and_the_finish_time(people):
    slow = make_session("slow", send_delay=30.0, max_per_minute=2, daily_cap=100)
    fast = make_session("fast", send_delay=10.0, max_per_minute=6, daily_cap=0)
    campaign = make_campaign("Paced", [people], [slow, fast], strategy="least_loaded")

    summary = launch_summary(campaign)

    by_name = {p.name: p for p in summary.sessions}
    assert (by_name["slow"].interval, by_name["fast"].interval) == (30.0, 10.0)
    assert by_name["slow"].expected + by_name["fast"].expected == 5
    assert by_name["fast"].expected > by_name["slow"].expected  # least loaded: by allowed rate
    # 2 + 6 requests a minute together: 5 messages take about 37.5 s.
    took = (summary.finish_at - summary.starts_at).total_seconds()
    assert 30 <= took <= 45, took


def test_the_summary_page_shows_the_message_as_saved_and_a_confirmation(client, people, alpha):
    campaign = make_campaign("Shown", [people], [alpha])

    page = client.get(summary_url(campaign)).content.decode()

    assert "Hi Alice!" in page  # the first recipient's message, as saved
    assert "5</strong> to send" in page
    assert "Launch now: send 5 messages" in page
    assert campaign.fingerprint() in page
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT  # looking launches nothing


def test_a_campaign_saved_again_after_its_summary_was_shown_is_not_launched(client, people, alpha):
    campaign = make_campaign("Changed", [people], [alpha])
    shown = campaign.fingerprint()
    campaign.message = "Something else entirely"
    campaign.save()

    response = client.post(summary_url(campaign), {"confirmed": shown}, follow=True)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT and not campaign.results.exists()
    assert "changed since this summary was shown" in response.content.decode()


def test_launch_over_unsaved_edits_is_refused_and_sends_nothing(client, people, alpha):
    """The issue: edit the message of a saved draft, click Launch without saving: the old text
    went out. The button submits the page to the summary, which refuses a page that differs."""
    campaign = make_campaign("Draft", [people], [alpha], message="Old text {{ first_name }}")
    data = change_form_data(client, campaign) | {"message": "New text {{ first_name }}", "_launch_check": "1"}

    response = client.post(summary_url(campaign), data, follow=True)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT and not campaign.results.exists()
    assert campaign.message == "Old text {{ first_name }}"  # nothing saved either
    assert any("unsaved edits" in str(m) and "Message" in str(m) for m in response.context["messages"])


def test_launch_from_a_page_without_edits_shows_the_summary(client, people, alpha):
    campaign = make_campaign("Clean", [people], [alpha])
    data = change_form_data(client, campaign) | {"_launch_check": "1"}

    response = client.post(summary_url(campaign), data, follow=True)

    # Post/Redirect/Get: the summary is a page of its own, which Back loads again.
    assert response.redirect_chain == [(summary_url(campaign), 302)]
    assert "Launch now: send 5 messages" in response.content.decode()
    assert "no-store" in response["Cache-Control"]


def test_the_summary_of_a_campaign_launched_already_says_what_happened_and_offers_no_launch(
    client, mark, people, alpha
):
    campaign = make_campaign("Winter sale", [people], [alpha])
    data = change_form_data(client, campaign) | {"_launch_check": "1"}
    client.post(
        summary_url(campaign),
        {"confirmed": client.get(summary_url(campaign)).context["summaries"][0].fingerprint},
    )
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING
    engine.run_until_done(campaign, max_seconds=30)

    for response in (
        client.get(summary_url(campaign)),
        client.post(summary_url(campaign), data, follow=True),
    ):
        page = response.content.decode()
        assert "“Winter sale” was launched at" in page and "by mark and finished at" in page
        assert ": 5 sent." in page
        assert "cannot be launched" not in page and "to send" not in page
        assert 'id="tgc-confirm-launch"' not in page


def test_the_list_action_shows_every_summary_first_and_launches_only_confirmed_ones(client, people, alpha):
    one = make_campaign("One", [people], [alpha])
    two = make_campaign("Two", [people], [alpha])
    url = reverse("admin:campaigns_campaign_changelist")
    data = {"action": "launch_selected", "_selected_action": [one.pk, two.pk]}

    asked = client.post(url, data)
    assert "Launch 2 campaigns" in asked.content.decode()
    assert set(Campaign.objects.values_list("status", flat=True)) == {CampaignStatus.DRAFT}

    two.message = "Changed after the summary"
    two.save()
    fingerprints = {f"fingerprint_{c.pk}": f for c, f in ((one, asked.context["summaries"][0].fingerprint),)}
    fingerprints[f"fingerprint_{two.pk}"] = asked.context["summaries"][1].fingerprint
    client.post(url, data | fingerprints | {"confirmed": "yes"})

    one.refresh_from_db()
    two.refresh_from_db()
    assert one.status == CampaignStatus.RUNNING
    assert two.status == CampaignStatus.DRAFT
    assert AuditEvent.objects.filter(
        action="campaign.launch", object_id=str(two.pk), message__contains="changed"
    ).exists()


def test_a_scheduled_start_is_shown_in_the_summary_and_the_confirmation_schedules(client, people, alpha):
    start = timezone.now() + timedelta(hours=2)
    campaign = make_campaign("Later", [people], [alpha], scheduled_at=start)

    page = client.get(summary_url(campaign)).content.decode()
    client.post(summary_url(campaign), {"confirmed": campaign.fingerprint()})

    assert "Schedule it: send 5 messages at" in page
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED


def test_a_reviewer_may_not_open_the_summary_nor_launch(client, rita, people, alpha):
    campaign = make_campaign("Not hers", [people], [alpha])
    client.force_login(rita)

    assert client.get(summary_url(campaign)).status_code == 403
    assert client.post(summary_url(campaign), {"confirmed": campaign.fingerprint()}).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_a_large_launch_is_summarised_from_the_import_reports_without_reading_its_rows(alpha, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.TGC_INLINE_LAUNCH_ROWS = 3
    big = make_list("big", [(f"@big_{i:03d}", {}) for i in range(6)])
    campaign = make_campaign("Big", [big], [alpha], message="Hello")

    with CaptureQueriesContext(connection) as queries:
        summary = launch_summary(campaign)

    assert summary.approximate and summary.in_background
    assert summary.counts["to_send"] == 6
    assert not any("ROW_NUMBER()" in q["sql"] for q in queries.captured_queries)


def test_the_summary_of_an_ab_test_shows_every_wording_and_counts_that_add_up(client, alpha):
    # Found trying the product: only variant A's text; "about" counts that did not add up; an ETA
    # that counted the hold-out, which is sent only once staff choose the winner.
    crowd = make_list("crowd", [(f"@member_{i:04d}", {"first_name": f"M{i}"}) for i in range(7)])
    campaign = make_campaign(
        "AB",
        [crowd],
        [make_session("paced", send_delay=60.0)],
        variants=["Hey {{ first_name }}, B here", "C <i>here</i>"],
        split={"A": 15, "B": 15, "C": 15, "hold": 55},
    )

    summary = launch_summary(campaign)

    assert [name for name, *_ in summary.split] == ["A", "B", "C", "hold"]
    assert sum(n for *_, n in summary.split) == 7
    held = dict((name, n) for name, _, n in summary.split)["hold"]
    assert summary.to_send_before_winner == 7 - held
    took = (summary.finish_at - summary.starts_at).total_seconds()
    assert took == pytest.approx(60 * (7 - held - 1), abs=61)
    page = client.get(summary_url(campaign)).content.decode()
    assert "Hi M0!" in page and "Hey M0, B here" in page
    assert "C &lt;i&gt;here&lt;/i&gt;" in page  # plain text: shown as written, escaped
    assert f"not counted: the {held} held for the winner" in page


def test_the_message_shown_is_for_a_recipient_who_will_get_it_not_one_who_opted_out(alpha):
    from campaigns.content.composer import Draft, first_recipient

    rl = make_list("stop first", [("@opted_out", {"first_name": "Olga"}), ("@stays", {"first_name": "Sam"})])
    Suppression.objects.create(key="@opted_out")
    draft = Draft(message="Hi {{ first_name }}", parse_mode="plain", has_media=False, list_ids=[rl.pk])

    assert first_recipient(draft).key == "@stays"
    Suppression.objects.create(key="@stays")
    assert first_recipient(draft).key == "@opted_out"  # everyone opted out: still a preview


# A guessed zone, and where to fix a refusal (issue 19, the A/B walk with quiet hours) -----------
def _google_export(alpha):
    from datetime import time

    user = make_session("user", kind="user")
    export = make_list(
        "Google export",
        [("+79123456789", {})] + [(f"+4915112345{i:03d}", {"timezone": "Europe/Berlin"}) for i in range(3)],
    )
    return make_campaign(
        "Quiet AB", [export], [user], send_window_start=time(9), send_window_end=time(20)
    ), export


def test_a_guessed_zone_is_not_shown_as_a_known_zone_in_the_launch_summary(client, alpha):
    campaign, _export = _google_export(alpha)

    summary = launch_summary(campaign)
    page = client.get(summary_url(campaign)).content.decode()

    assert dict(summary.zones) == {"Europe/Berlin": 3}
    assert dict(summary.guessed_zones) == {"Europe/Moscow": 1}
    row = next(r for r in page.split("<tr>") if "Europe/Moscow" in r)
    assert "guessed" in row, row


def test_a_refusal_every_list_fixes_sends_to_the_lists_page_not_the_campaigns(client, alpha):
    campaign, export = _google_export(alpha)

    page = client.get(summary_url(campaign)).content.decode()

    assert "several time zones" in page
    assert reverse("admin:campaigns_recipientlist_change", args=[export.pk]) in page
    assert "Fix it on the list's page (linked above), then launch again" in page
    assert "Fix it on the campaign's page" not in page


def test_the_campaign_pages_before_you_launch_box_names_a_lists_blocker(client, alpha):
    campaign, export = _google_export(alpha)

    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()

    box = page.split('id="tgc-waits"')[1].split("</div>")[0]
    assert "Before you launch" in box and "several time zones" in box, box
    assert reverse("admin:campaigns_recipientlist_change", args=[export.pk]) in box
