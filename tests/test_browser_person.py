"""A person from the browser (issue 20): Marketing imports a small list with a tags column, finds
a person by the start of her name in *Persons*, opens her page — her tags from the file, the
message she was sent, read and answered — adds a tag and sees it there."""

from __future__ import annotations

import os

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop, not ours (see test_browser)

from django.utils import timezone  # noqa: E402

from campaigns.models import MessageResult, Recipient, Reply  # noqa: E402
from tests.conftest import make_campaign, make_session  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = (
    "First Name,Last Name,Telegram,Phone,Tags\n"
    'Ann,Lee,@ann_lee,+49 151 23456701,"VIP, Berlin"\n'
    "Bob,Stone,@bob_stone,,Newsletter\n"
)


def test_marketing_imports_tags_finds_a_person_and_tags_her(browser, mark, tmp_path):
    page = browser.page
    source = tmp_path / "tagged.csv"
    source.write_text(CSV, encoding="utf-8")
    browser.login("mark")

    browser.go("/admin/campaigns/recipientlist/add/")
    page.fill("#id_name", "Shop customers")
    page.set_input_files("#id_file", str(source))
    page.select_option("#id_consent_basis", "customer")
    page.click("text=Upload and preview")
    page.wait_for_selector("#tgc-preview")
    assert page.locator("select[name=role_4]").input_value() == "tags"
    page.click("input[name=_import]")
    page.wait_for_selector(".tgc-report")
    assert "2 valid" in browser.messages()

    ann = Recipient.objects.get(key="@ann_lee")
    campaign = make_campaign(
        "Spring sale", [ann.recipient_list], [make_session("Sim one")], status="completed"
    )
    now = timezone.now()
    sent = MessageResult.objects.create(
        campaign=campaign, recipient=ann, key=ann.key, status="sent", session=campaign.sessions.first(),
        sent_at=now, read_at=now, telegram_message_id=7, peer_id=42,
    )  # fmt: skip
    Reply.objects.create(
        campaign=campaign, result=sent, session=sent.session, peer_id=42, message_id=8, text="See you Friday!",
        received_at=now,
    )  # fmt: skip

    browser.go("/admin/campaigns/person/")
    page.fill("#searchbar", "ann l")
    page.click("#tgc-person-search input[type=submit]")
    page.wait_for_selector("#tgc-person-matches")
    browser.shot("person-search")
    page.click("#tgc-person-matches a:has-text('Ann Lee')")
    page.wait_for_selector("#tgc-person-timeline")
    assert page.inner_text("#tgc-person-keys") == "+4915123456701, @ann_lee"
    assert sorted(page.locator("#tgc-person-tags .tgc-tag").all_text_contents()) == ["Berlin", "VIP"]
    timeline = page.inner_text("#tgc-person-timeline")
    assert "See you Friday!" in timeline and "Spring sale" in timeline and "read" in timeline

    page.fill("#tgc-add-tags input[name=add]", "Early bird")
    page.click("#tgc-add-tags input[type=submit]")
    page.wait_for_selector("#tgc-person-tags .tgc-tag:has-text('Early bird')")
    assert "Early bird" in browser.messages()
    assert sorted(page.locator("#tgc-person-tags .tgc-tag").all_text_contents()) == [
        "Berlin",
        "Early bird",
        "VIP",
    ]
    browser.doc_shot("person-page")
