"""The Replies page (campaigns.admin.reply_admin): read-only list, filters, search, CSV export, and the
replies on a result's page."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import engine
from campaigns.models import Reply
from tests.conftest import make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def replies(people, alpha):
    campaign = make_campaign("Spring", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=10)
    first, second = campaign.results.filter(status="sent").order_by("pk")[:2]
    made = []
    for result, text, opt_out in ((first, "=HYPERLINK(1)", False), (second, "STOP", True)):
        made.append(
            Reply.objects.create(
                campaign=campaign,
                result=result,
                session=alpha,
                peer_id=result.peer_id,
                message_id=result.telegram_message_id + 1,
                text=text,
                received_at=timezone.now(),
                is_opt_out=opt_out,
            )
        )
        result.reply_count = 1
        result.save(update_fields=["reply_count"])
    return made


def test_the_replies_page_lists_filters_and_searches(client, mark, replies):
    client.force_login(mark)
    url = reverse("admin:campaigns_reply_changelist")

    assert "=HYPERLINK(1)" in client.get(url).content.decode()
    opted_out = client.get(url + "?is_opt_out__exact=1").context["cl"].result_list
    assert [r.text for r in opted_out] == ["STOP"]
    found = client.get(url + "?q=HYPERLINK").context["cl"].result_list
    assert [r.pk for r in found] == [replies[0].pk]
    assert client.get(reverse("admin:campaigns_reply_add")).status_code == 403


def test_the_replies_csv_neutralises_formulas(client, mark, replies):
    client.force_login(mark)

    response = client.post(
        reverse("admin:campaigns_reply_changelist"),
        {"action": "export_selected", "_selected_action": [r.pk for r in replies]},
    )

    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in body and ",STOP," in body
    assert body.splitlines()[0].startswith("campaign,key,peer_id")


def test_exporting_replies_is_audited_like_exporting_results(client, mark, replies):
    from tgcampaigns.audit.models import AuditEvent

    client.force_login(mark)
    client.post(
        reverse("admin:campaigns_reply_changelist"),
        {"action": "export_selected", "_selected_action": [r.pk for r in replies]},
    )

    event = AuditEvent.objects.get(action="results.export")
    assert event.user == mark and f"Replies exported as CSV ({len(replies)} replies)" in event.message


def test_a_results_page_shows_its_replies_and_links_to_them(client, mark, replies):
    client.force_login(mark)
    result = replies[0].result

    page = client.get(reverse("admin:campaigns_messageresult_change", args=[result.pk])).content.decode()
    linked = client.get(reverse("admin:campaigns_reply_changelist") + f"?result__id__exact={result.pk}")

    assert "=HYPERLINK(1)" in page and f"?result__id__exact={result.pk}" in page
    assert [r.pk for r in linked.context["cl"].result_list] == [replies[0].pk]


def test_operators_choose_whether_replies_mark_the_chat_read(client, otto, alpha):
    client.force_login(otto)

    form = client.get(reverse("admin:sessions_app_telegramsession_change", args=[alpha.pk])).context[
        "adminform"
    ]

    assert "mark_replies_read" in form.form.fields
