"""Marketing builds a segment in the browser with the form, no JSON typed: a list chosen in the
filter box, a tag, a field condition with a proposed field name, an engagement row; saved, the
segment's page shows its count and, re-opened, the same choices."""

from __future__ import annotations

import os

import pytest

from campaigns.models import Segment, Tag
from tests.conftest import make_campaign, make_list

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop runs in this thread (see test_browser)
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_marketing_builds_a_segment_with_the_form_and_sees_it_again(browser, mark):
    berlin = make_list(
        "berlin",
        [("@anna_user", {"city": "Berlin", "total_spent": "150"}), ("@ben_user", {"city": "Hamburg"})],
    )
    Tag.objects.named(["VIP"])
    spring = make_campaign("spring", [berlin], [], status="completed")
    page = browser.page
    browser.login("mark")
    browser.go("/admin/campaigns/segment/add/")
    page.fill("#id_name", "Berlin big spenders")
    page.select_option("#id_lists_from", label="berlin")
    page.click("#id_lists_add")
    page.check("input[name=lists_match][value=all]")
    page.fill("#id_field_1_name", "total_spent")
    assert page.locator("#id_field_1_name-names option[value=total_spent]").count() == 1
    page.select_option("#id_field_1_op", "gte")
    page.fill("#id_field_1_value", "100")
    page.select_option("#id_engagement_1_event", "not_replied")
    page.select_option("#id_engagement_1_campaign", label="spring")
    page.evaluate("document.querySelector('#id_field_1_name').closest('fieldset').scrollIntoView()")
    browser.doc_shot("segment-form")
    page.click("input[name=_continue]")
    page.wait_for_selector("#tgc-segment-count")

    segment = Segment.objects.get(name="Berlin big spenders")
    assert segment.definition == {
        "lists": {"ids": [berlin.pk], "match": "all"},
        "fields": [{"field": "total_spent", "op": "gte", "value": 100}],
        "engagement": [{"event": "not_replied", "campaign": spring.pk}],
    }
    assert page.inner_text("#tgc-segment-count") == "0"  # nobody was sent spring: nobody "did not reply"
    assert page.locator("#id_lists_to option").all_inner_texts() == ["berlin"]
    assert page.input_value("#id_field_1_value") == "100"
    assert page.input_value("#id_engagement_1_campaign") == str(spring.pk)
    page.click("text=Advanced: the definition as JSON")
    assert '"total_spent"' in page.inner_text("#tgc-segment-json")
