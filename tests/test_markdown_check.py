"""The formatting check renders with the recipients' fields (issue 18.4): ``**{{ first_name }}**``
is valid Markdown for everyone who has a first name; the check used to render it with no fields
(``****``) and refused it as "unpaired Markdown **". Without real recipients it renders with sample
values; a real recipient whose value would break the formatting still refuses the launch."""

from __future__ import annotations

import pytest

from campaigns import engine
from campaigns.content import template
from campaigns.models import CampaignStatus
from tests.conftest import make_campaign, make_list

BOLD_NAME = "**{{ first_name }}**, your spring voucher is inside."


def test_a_bold_variable_is_valid_markdown_as_written():
    assert template.check_message(BOLD_NAME, "markdown", has_media=False) == []
    assert template.check_message("<b>{{ first_name }}</b>", "html", has_media=False) == []


def test_markdown_the_template_itself_leaves_unpaired_is_still_a_problem():
    problems = template.check_message("**Spring sale {{ first_name }}", "markdown", has_media=False)

    assert any("unpaired Markdown **" in p for p in problems), problems


def test_a_bold_first_name_launches_when_every_recipient_has_one(people, alpha):
    campaign = make_campaign("Bold", [people], [alpha], message=BOLD_NAME, parse_mode="markdown")

    assert engine.check_launch(campaign).problems == []
    engine.launch(campaign, enqueue=False)
    campaign.refresh_from_db()
    assert campaign.status != CampaignStatus.DRAFT


def test_a_recipient_whose_empty_value_would_break_the_markdown_refuses_the_launch(alpha):
    rows = [("@ann_user", {"first_name": "Ann"}), ("@nameless_user", {"first_name": ""})]
    campaign = make_campaign(
        "Bold", [make_list("mixed", rows)], [alpha], message=BOLD_NAME, parse_mode="markdown"
    )

    problems = engine.check_launch(campaign).problems

    assert any("unpaired Markdown **" in p and "1 of 2" in p and "row 3" in p for p in problems), problems
    with pytest.raises(engine.LaunchError, match="unpaired Markdown"):
        engine.launch(campaign, enqueue=False)


def test_an_html_message_empty_for_every_recipient_is_still_refused(alpha):
    rows = [("@a_user", {"first_name": ""}), ("@b_user", {"first_name": ""})]
    campaign = make_campaign(
        "Empty", [make_list("blank", rows)], [alpha], message="<b>{{ first_name }}</b>", parse_mode="html"
    )

    assert any("the message is empty" in p for p in engine.check_launch(campaign).problems)


def test_the_preview_without_personal_data_checks_with_sample_values(people, alpha):
    from campaigns.content.preview import campaign_preview

    campaign = make_campaign("Bold", [people], [alpha], message=BOLD_NAME, parse_mode="markdown")

    assert campaign_preview(campaign, personal=False).problems == []
    assert campaign_preview(campaign, personal=True).problems == []
