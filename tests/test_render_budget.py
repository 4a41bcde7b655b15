"""The render budget (issue 19.12): a message template may take only so much work and produce only
so much text per recipient. Over it, the launch check refuses the template with the reason, the
preview shows the reason, a send fails that one row, and an export writes the reason in its cell:
never a page or a worker that spends seconds of CPU per message.

Behaviour only: which templates are refused and what is said; no timing assertions (the budget is
counted in characters handled, so the same template is judged the same way on any machine)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns import engine
from campaigns.content import template
from campaigns.content.outgoing import recipient_text
from campaigns.models import CampaignStatus
from campaigns.reporting.exports import campaign_csv_response
from tests.conftest import CASES_DIR, make_campaign, make_list

# The issue's example: 64,845 characters that pass every size check, then |title 10,800 times
# over a 16,384-character value (9.7 s per render before the budget).
TITLES = '{{ first_name|ljust:"16384"' + "|title" * 10_800 + " }}"
# The same work driven by one recipient's data: cheap for a width of 3, over budget for 16384.
DATA_TITLES = "Hi {{ first_name|ljust:width" + "|title" * 200 + " }}"
OVER_BUDGET = "takes too much work to personalise"
BOMBS = {
    "the issue's |title chain": TITLES,
    "the same chain in a filter tag": "{% filter title"
    + "|title" * 2000
    + ' %}{{ first_name|ljust:"16384" }}{% endfilter %}',
    "the chain hidden in a condition": '{% if first_name|ljust:"16384"' + "|title" * 2000 + " %}x{% endif %}",
    "a join that multiplies": '{{ first_name|ljust:"16384"|join:"' + "y" * 16000 + '" }}',
    "urlize over and over": '{{ first_name|ljust:"16384"' + "|urlize" * 300 + " }}",
}


@pytest.mark.parametrize("text", BOMBS.values(), ids=BOMBS.keys())
def test_a_template_over_the_work_budget_is_a_launch_problem_with_the_reason(text):
    problems = template.check_message(text, "plain", has_media=False, sample_fields={"first_name": "Ann"})

    assert any(OVER_BUDGET in p for p in problems), problems


@pytest.mark.parametrize("text", BOMBS.values(), ids=BOMBS.keys())
def test_rendering_a_template_over_budget_raises_the_reason_instead_of_returning_part(text):
    with pytest.raises(template.RenderOverBudget, match=OVER_BUDGET):
        template.render(text, {"first_name": "Ann"}, "plain")


def test_ordinary_filters_on_a_long_message_stay_within_the_budget():
    text = (
        "{% filter upper %}" + "Spring sale! " * 300 + "{% endfilter %} {{ first_name|title|lower|capfirst }}"
        " {{ city|default:'your town'|upper }} {{ note|truncatechars:50|urlize }} {{ price|floatformat:2 }}"
    )
    fields = {"first_name": "ann", "note": "see https://shop.example/spring " * 100, "price": "9.5"}

    assert template.check_message(text, "html", has_media=False, sample_fields=fields) == []
    assert template.render(text, fields, "html").endswith("9.50")


def test_the_filter_bomb_case_is_refused_before_launch_with_the_reason(people, alpha):
    bomb = (CASES_DIR / "messages" / "filter_bomb.txt").read_text(encoding="utf-8")
    campaign = make_campaign("Bomb", [people], [alpha], message=bomb)

    with pytest.raises(engine.LaunchError, match="grows past"):
        engine.launch(campaign, enqueue=False)


def test_the_issues_template_fails_the_launch_check_and_nothing_is_sent(people, alpha):
    campaign = make_campaign("Titles", [people], [alpha], message=TITLES)

    check = engine.check_launch(campaign)

    assert any(OVER_BUDGET in p for p in check.problems), check.problems
    with pytest.raises(engine.LaunchError, match=OVER_BUDGET):
        engine.launch(campaign, enqueue=False)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT and not campaign.results.exists()


def test_the_campaign_page_and_the_composer_preview_say_why(client, mark, people, alpha):
    campaign = make_campaign("Titles", [people], [alpha], message=TITLES)
    client.force_login(mark)

    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    preview = client.post(
        reverse("admin:campaigns_campaign_composer_preview"),
        {"message": TITLES, "parse_mode": "plain", "lists": [people.pk]},
    ).json()

    assert page.status_code == 200 and OVER_BUDGET in page.content.decode()
    assert any(OVER_BUDGET in p for p in preview["problems"]), preview["problems"]


@pytest.fixture
def widths(db):
    return make_list(
        "widths",
        [("@wide_user", {"first_name": "W", "width": "16384"})]
        + [(f"@ok_{i:03d}", {"first_name": "ok", "width": "3"}) for i in range(3)],
    )


def test_a_recipient_whose_data_breaks_the_budget_fails_alone_with_the_reason(widths, alpha):
    campaign = make_campaign("Widths", [widths], [alpha], message=DATA_TITLES)

    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)

    wide = campaign.results.get(key="@wide_user")
    assert (wide.status, wide.error_code) == ("failed", "MESSAGE_RENDER_BUDGET")
    assert campaign.results.filter(status="sent").count() == 3
    assert OVER_BUDGET in recipient_text(campaign, {"first_name": "W", "width": "16384"})


def test_the_export_writes_the_reason_in_the_message_cell_of_a_row_over_budget(widths, alpha):
    campaign = make_campaign("Widths", [widths], [alpha], message=DATA_TITLES)
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)

    body = b"".join(campaign_csv_response(campaign, "csv").streaming_content).decode("utf-8-sig")

    wide = next(line for line in body.splitlines() if "@wide_user" in line)
    assert OVER_BUDGET in wide
