"""The launch check renders the message with every recipient's real fields (a sample of a huge
list), not only with empty ones: what fails for every recipient refuses the launch, what fails
for some is a warning (those rows fail alone); a filter bomb never reaches a worker's memory."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns import engine
from campaigns.content import preview
from campaigns.content.template import RENDER_MAX
from campaigns.models import CampaignStatus, Recipient
from tests.conftest import CASES_DIR, make_campaign, make_list

pytestmark = pytest.mark.django_db

BOMB = (CASES_DIR / "messages" / "filter_bomb.txt").read_text(encoding="utf-8")


def test_a_message_too_long_for_every_recipient_refuses_the_launch(alpha):
    notes = make_list("notes", [(f"@note_{i:03d}", {"note": "n" * 5000}) for i in range(3)])
    campaign = make_campaign("Long", [notes], [alpha], message="Hello {{ note }}")

    check = engine.check_launch(campaign)

    assert any("every recipient checked (3)" in p and "5006 characters" in p for p in check.problems), check
    with pytest.raises(engine.LaunchError):
        engine.launch(campaign, enqueue=False)


def test_a_message_too_long_for_some_recipients_is_a_warning_and_those_rows_fail_alone(alpha):
    notes = make_list("notes", [("@long_one", {"note": "n" * 5000}), ("@short_one", {"note": "hi"})])
    campaign = make_campaign("Some long", [notes], [alpha], message="Hello {{ note }}")

    check = engine.check_launch(campaign)

    assert not check.problems
    assert check.warnings == [
        "for 1 of 2 recipients checked, the text is 5006 characters after formatting; Telegram allows "
        "at most 4096 (first: row 2 of “notes”)"
    ]


def test_a_width_taken_from_a_recipients_field_is_caught_with_the_real_fields(alpha):
    rows = make_list(
        "widths", [(f"@w_{i:03d}", {"first_name": "Ann", "width": "100000000"}) for i in range(4)]
    )
    campaign = make_campaign("Widths", [rows], [alpha], message="Hi {{ first_name|ljust:width }}!")

    assert engine.check_launch(campaign).problems, "an empty field hides it; the real ones do not"


def test_the_filter_bomb_is_refused_before_launch(people, alpha):
    campaign = make_campaign("Bomb", [people], [alpha], message=BOMB)

    with pytest.raises(engine.LaunchError, match="grows past"):
        engine.launch(campaign, enqueue=False)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT and not campaign.results.exists()


def test_a_bomb_driven_by_one_recipients_data_fails_that_row_alone(alpha):
    rows = make_list(
        "mixed",
        [("@bomb_user", {"first_name": "B", "width": "100000000"})]
        + [(f"@ok_{i:03d}", {"first_name": "Ok", "width": "3"}) for i in range(3)],
    )
    campaign = make_campaign("Mixed", [rows], [alpha], message="Hi {{ first_name|ljust:width }}!")

    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)

    bomb = campaign.results.get(key="@bomb_user")
    assert (bomb.status, bomb.error_code) == ("failed", "MESSAGE_TOO_LONG")
    assert campaign.results.filter(status="sent").count() == 3


def test_the_campaign_page_of_the_filter_bomb_stays_small(client, mark, people, alpha):
    campaign = make_campaign("Bomb", [people], [alpha], message=BOMB)
    client.force_login(mark)

    response = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    assert response.status_code == 200
    assert len(response.content) < 4 * RENDER_MAX + 200_000, f"{len(response.content)} bytes"
    assert "grows past" in response.content.decode()


def test_a_huge_list_is_sampled(alpha):
    rows = make_list("big", [(f"@big_{i:05d}", {"n": str(i)}) for i in range(300)])
    campaign = make_campaign("Big", [rows], [alpha])

    sample = list(preview.recipient_sample(campaign, limit=40))

    assert 30 <= len(sample) <= 40
    assert sample[0][0] == "row 2 of “big”"
    assert any(int(fields["n"]) > 200 for _, fields in sample), "the sample reaches the end of the list"


def test_a_huge_sample_is_the_first_rows_then_every_stepth_id_of_each_list_in_order(alpha):
    first = make_list("first", [(f"@a_{i:05d}", {"n": f"a{i}"}) for i in range(130)])
    second = make_list("second", [(f"@b_{i:05d}", {"n": f"b{i}"}) for i in range(170)])
    campaign = make_campaign("Two", [first, second], [alpha])
    limit = 40

    sample = [fields["n"] for _, fields in preview.recipient_sample(campaign, limit=limit)]

    # The definition, read the slow way: rows in list and file order, the first half, then the
    # rows whose id is a multiple of the step.
    valid = list(
        Recipient.objects.filter(recipient_list__in=[first, second], status=Recipient.Status.VALID).order_by(
            "recipient_list_id", "row_number"
        )
    )
    step = len(valid) // (limit - limit // 2)
    expected = valid[: limit // 2] + [r for r in valid if r.pk % step == 0][: limit - limit // 2]
    assert sample == [r.fields["n"] for r in expected]


# Issue 9: a misspelled variable, a blank field, a list still importing ------------------------
def test_a_misspelled_variable_refuses_the_launch_and_nothing_is_sent(people, alpha):
    campaign = make_campaign("Typo", [people], [alpha], message="Hi {{ frist_name }}, your store opens!")

    check = engine.check_launch(campaign)

    assert check.problems == ["{{ frist_name }} is not a column of the chosen lists (columns: first_name)"]
    with pytest.raises(engine.LaunchError, match="frist_name"):
        engine.launch(campaign, enqueue=False)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT and not campaign.results.exists()


def test_a_misspelled_variable_with_a_default_launches_with_a_warning_naming_the_default(people, alpha):
    campaign = make_campaign("Typo", [people], [alpha], message="Hi {{ frist_name|default:'there' }}!")

    check = engine.check_launch(campaign)

    assert not check.problems
    assert check.warnings == [
        "{{ frist_name }} is not a column of the chosen lists (columns: first_name): every recipient "
        "gets its default “there”"
    ]


def test_recipients_lacking_a_field_the_message_reads_are_counted_in_a_warning(alpha):
    rows = [(f"@vip_{i:03d}", {"first_name": "Ann" if i >= 3 else "  ", "tier": "gold"}) for i in range(12)]
    campaign = make_campaign(
        "Blanks", [make_list("vips", rows)], [alpha], message="Hi {{ first_name }}, as a VIP…"
    )

    check = engine.check_launch(campaign)

    assert not check.problems
    assert check.warnings == ["3 of 12 recipients have no first_name: it renders empty for them"]
    campaign.message = "Hi {{ first_name|default:'there' }}, as a VIP…"
    assert engine.check_launch(campaign).warnings == []


@pytest.mark.parametrize("status", ["mapping", "queued", "running", "failed"])
def test_a_list_whose_import_is_not_finished_refuses_the_launch(people, alpha, status):
    people.import_status = status
    people.save()
    campaign = make_campaign("Too early", [people], [alpha])

    with pytest.raises(engine.LaunchError, match="not imported yet"):
        engine.launch(campaign, enqueue=False)
    assert not campaign.results.exists()


def test_a_media_file_missing_from_the_server_refuses_the_launch_with_a_reason(people, alpha):
    campaign = make_campaign(
        "Lost photo", [people], [alpha], media="media/2026/11/gone.jpg", media_type="photo"
    )

    check = engine.check_launch(campaign)

    assert check.problems == ["Media: the file is missing from the server; upload it again"]
