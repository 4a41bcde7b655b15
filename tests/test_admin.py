"""The staff side in the admin: upload, compose, preview, control, results, export, suppressions.

Engine calls are mocked (with autospec) where a test is about what the admin does with the answer;
the flows that end in a download run the real engine against the simulator.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from unittest import mock
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns import engine
from campaigns.models import (
    Campaign,
    CampaignStatus,
    MessageResult,
    Recipient,
    RecipientList,
    ResultStatus,
    Suppression,
)
from sessions_app.models import SessionKind
from tests.conftest import make_campaign, make_session

pytestmark = pytest.mark.django_db


def upload(client, cases_dir: Path, name: str, **fields):
    """POST a case file to the recipient list upload page (the admin's add page)."""
    data = {"name": name, "consent_basis": "opt_in", "consent_note": "", "default_region": ""}
    data |= {"recipient_column": "", "encoding": ""} | fields
    with (cases_dir / "recipients" / name).open("rb") as fh:
        data["file"] = SimpleUploadedFile(name, fh.read())
    return client.post(reverse("admin:campaigns_recipientlist_add"), data, follow=True)


def csv_rows(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body[1:])))


def operate(client, campaign: Campaign, operation: str, **data):
    url = reverse("admin:campaigns_campaign_operation", args=[campaign.pk, operation])
    return client.post(url, data, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def client(client, mark):
    """Marketing staff are logged in for every test in this module that uses the client."""
    client.force_login(mark)
    return client


@pytest.fixture
def users_alpha_beta(db):
    """Two simulated user accounts (they can reach phones, unlike bots), no latency, no failures."""
    return [make_session("ua", kind=SessionKind.USER), make_session("ub", kind=SessionKind.USER)]


# Pages ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url_name",
    [
        "admin:index",
        "admin:campaigns_recipientlist_changelist",
        "admin:campaigns_recipientlist_add",
        "admin:campaigns_recipient_changelist",
        "admin:campaigns_campaign_changelist",
        "admin:campaigns_campaign_add",
        "admin:campaigns_messageresult_changelist",
        "admin:campaigns_suppression_changelist",
        "admin:campaigns_suppression_add",
        "admin:campaigns_suppression_bulk_add",
    ],
)
def test_every_campaigns_admin_page_renders_for_marketing_staff(client, url_name):
    assert client.get(reverse(url_name)).status_code == 200


def test_a_campaign_with_results_renders_every_page(client, mark, people, alpha, beta):
    campaign = make_campaign("Spring", [people], [alpha, beta])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=10)
    result = campaign.results.first()
    for url in [
        reverse("admin:campaigns_campaign_change", args=[campaign.pk]),
        reverse("admin:campaigns_messageresult_change", args=[result.pk]),
        reverse("admin:campaigns_recipientlist_change", args=[people.pk]),
        reverse("admin:campaigns_messageresult_changelist") + f"?campaign__id__exact={campaign.pk}",
    ]:
        assert client.get(url).status_code == 200, url


# Recipient list upload ---------------------------------------------------------------------------
def test_uploading_basic_csv_creates_the_list_and_shows_the_validation_report(client, mark, cases_dir):
    response = upload(client, cases_dir, "basic.csv")

    recipient_list = RecipientList.objects.get()
    assert recipient_list.created_by == mark or recipient_list.created_by is None
    counts = recipient_list.valid_count, recipient_list.invalid_count, recipient_list.duplicate_count
    assert counts == (7, 0, 0)
    assert "7 valid, 0 invalid, 0 duplicate" in " ".join(messages_of(response))
    assert response.request["PATH_INFO"] == reverse(
        "admin:campaigns_recipientlist_change", args=[recipient_list.pk]
    )
    assert "Every row is valid." in response.content.decode()
    keys = set(Recipient.objects.filter(status="valid").values_list("key", flat=True))
    assert {"@alice_w", "@dave_k2", "+12125550123", "123456789"} <= keys


def test_the_report_lists_each_invalid_row_with_its_reason(client, cases_dir):
    response = upload(client, cases_dir, "messy_excel.csv", default_region="DE")

    page = response.content.decode()
    recipient_list = RecipientList.objects.get()
    assert recipient_list.invalid_count == 10
    assert recipient_list.duplicate_count == 4
    for bad in ["@abc", "@1digitfirst", "@bad-dash", "-1001234567890"]:
        assert f"<code>{bad}</code>" in page
    for row in Recipient.objects.filter(status="invalid"):
        assert row.error and row.error in page.replace("&#x27;", "'").replace("&quot;", '"')


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty.csv", "the file is empty"),
        ("header_only.csv", "no recipient rows"),
        ("binary_named.csv", "not a text/CSV file"),
    ],
)
def test_a_refused_file_shows_a_form_error_and_creates_nothing(client, cases_dir, name, reason):
    response = upload(client, cases_dir, name)

    assert response.status_code == 200
    assert reason in response.context["form"].errors["file"][0]
    assert "Please correct the error below." in response.content.decode()
    assert not RecipientList.objects.exists()
    assert not Recipient.objects.exists()


@pytest.mark.parametrize("name", ["empty.csv", "header_only.csv", "binary_named.csv"])
def test_a_refused_file_leaves_no_file_in_the_media_folder(client, cases_dir, settings, tmp_path, name):
    settings.MEDIA_ROOT = str(tmp_path)

    response = upload(client, cases_dir, name)

    assert response.context["form"].errors["file"]
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_an_upload_without_a_consent_basis_is_refused(client, cases_dir):
    response = upload(client, cases_dir, "basic.csv", consent_basis="")

    assert "consent_basis" in response.context["form"].errors
    assert not RecipientList.objects.exists()


def test_recipients_are_read_only_and_filterable_by_list_and_status(client, cases_dir):
    upload(client, cases_dir, "messy_excel.csv", default_region="DE")
    recipient_list = RecipientList.objects.get()
    url = reverse("admin:campaigns_recipient_changelist")

    response = client.get(url, {"recipient_list__id__exact": recipient_list.pk, "status__exact": "invalid"})

    assert response.context["cl"].result_count == 10
    row = Recipient.objects.first()
    page = client.get(reverse("admin:campaigns_recipient_change", args=[row.pk])).content.decode()
    assert 'name="_save"' not in page


# Campaign composition ----------------------------------------------------------------------------
def campaign_form(**fields) -> dict:
    data = {
        "name": "Opening",
        "parse_mode": "plain",
        "message": "Hi {{ first_name|default:'there' }}, our {{ city }} store opens on Friday.",
        "media_type": "",
        "strategy": "round_robin",
        "delay_seconds": "0",
        "max_attempts": "3",
        "priority": "5",
        "scheduled_at_0": "",
        "scheduled_at_1": "",
        "_continue": "1",
    }
    return data | fields


def media_upload(cases_dir: Path, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (cases_dir / "media" / name).read_bytes())


def test_creating_a_campaign_records_the_author_and_shows_the_preview_for_the_first_recipient(
    client, mark, cases_dir, users_alpha_beta
):
    upload(client, cases_dir, "basic.csv")
    data = campaign_form(lists=[RecipientList.objects.get().pk], sessions=[s.pk for s in users_alpha_beta])

    response = client.post(reverse("admin:campaigns_campaign_add"), data, follow=True)

    campaign = Campaign.objects.get()
    assert campaign.created_by == mark
    assert campaign.status == CampaignStatus.DRAFT
    page = response.content.decode()
    assert "Hi Alice, our Berlin store opens on Friday." in page
    assert "SIMULATOR — no real messages" in page
    assert ">Launch</button>" in page


def test_media_type_is_taken_from_the_content_and_its_info_stored(client, cases_dir):
    data = campaign_form(media=media_upload(cases_dir, "png_named.jpg"))

    response = client.post(reverse("admin:campaigns_campaign_add"), data, follow=True)

    assert response.status_code == 200
    campaign = Campaign.objects.get()
    assert campaign.media_type == "photo"
    assert campaign.media_info["mime_type"] == "image/png"
    assert campaign.media_info["file_name"] == "png_named.jpg"


def test_a_refused_media_file_is_a_form_error_and_saves_nothing(client, cases_dir):
    data = campaign_form(media=media_upload(cases_dir, "program_named.mp4"))

    response = client.post(reverse("admin:campaigns_campaign_add"), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["media"]
    assert not Campaign.objects.exists()


def test_a_wide_image_forced_as_photo_is_refused_but_accepted_as_a_document(client, cases_dir):
    url = reverse("admin:campaigns_campaign_add")
    refused = client.post(
        url, campaign_form(media=media_upload(cases_dir, "too_wide_ratio_40.png"), media_type="photo")
    )
    assert "media" in refused.context["adminform"].form.errors

    client.post(
        url, campaign_form(media=media_upload(cases_dir, "too_wide_ratio_40.png"), media_type="document")
    )
    assert Campaign.objects.get().media_type == "document"


@pytest.mark.parametrize(
    ("info", "shown"),
    [
        (
            {"media_type": "video", "mime_type": "video/mp4", "width": 320, "height": 240,
             "duration": 2.03755, "size": 12712, "supports_streaming": True},
            "video · video/mp4 · 320×240 · 2.0 s · 12.4 KiB · streaming: yes",
        ),
        ({"media_type": "document", "mime_type": "application/pdf", "size": 193}, "document · application/pdf · 193 bytes"),
        ({"media_type": "photo", "mime_type": "image/jpeg", "size": 3 * 1024 * 1024}, "photo · image/jpeg · 3.0 MiB"),
    ],
)  # fmt: skip
def test_media_details_are_rounded_for_people(client, people, alpha, info, shown):
    campaign = make_campaign("Media", [people], [alpha], media_info=info)

    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()

    assert f'<div class="readonly">{shown}</div>' in page


def test_an_image_sent_as_a_document_says_why_it_is_no_photo(client, cases_dir, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    client.post(
        reverse("admin:campaigns_campaign_add"),
        campaign_form(media=media_upload(cases_dir, "too_wide_ratio_40.png")),
    )
    campaign = Campaign.objects.get()

    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()

    assert campaign.media_type == "document"
    assert "sent as a document: the aspect ratio is 40; a photo may be at most 20:1" in page


def test_a_header_with_spaces_personalises_as_its_alias_and_the_page_lists_the_variables(
    client, cases_dir, users_alpha_beta
):
    upload(client, cases_dir, "leads.xlsx")
    data = campaign_form(
        message="Hi {{ first_name }}!",
        lists=[RecipientList.objects.get().pk],
        sessions=[users_alpha_beta[0].pk],
    )

    page = client.post(reverse("admin:campaigns_campaign_add"), data, follow=True).content.decode()

    assert '<div class="tgc-bubble" id="tgc-bubble">Hi Sam!</div>' in page
    assert "Columns you can use: <code>{{ first_name }}</code>, <code>{{ signed_up }}</code>" in page


def test_a_variable_that_is_no_column_is_reported_when_the_campaign_is_saved(
    client, cases_dir, users_alpha_beta
):
    upload(client, cases_dir, "leads.xlsx")
    data = campaign_form(
        message="Hi {{ frist_name }}!",
        lists=[RecipientList.objects.get().pk],
        sessions=[users_alpha_beta[0].pk],
    )

    response = client.post(reverse("admin:campaigns_campaign_add"), data, follow=True)

    assert (
        "Before launch: {{ frist_name }} is not a column of the chosen lists (columns: first_name, signed_up)"
        in messages_of(response)
    )


def test_without_recorded_columns_the_lists_first_rows_name_them(client, people, alpha):
    people.report = {}  # a list imported before the report recorded its columns
    people.save()
    campaign = make_campaign("Old list", [people], [alpha], message="Hi {{ frist_name }}")

    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()

    assert "{{ frist_name }} is not a column of the chosen lists (columns: first_name)" in page


def test_message_problems_are_shown_before_launch(client, mark, cases_dir, people, alpha):
    campaign = make_campaign("Too long", [people], [alpha])
    campaign.message = (cases_dir / "messages" / "too_long_4097.txt").read_text(encoding="utf-8")
    campaign.save()

    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()

    assert "4097" in page and "4096" in page


def test_broken_html_is_reported_on_the_campaign_page_before_launch(client, cases_dir, people, alpha):
    campaign = make_campaign("Broken", [people], [alpha], parse_mode="html")
    campaign.message = (cases_dir / "messages" / "html_unclosed.html").read_text(encoding="utf-8")
    campaign.save()

    response = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    assert response.context["preview"].problems
    assert 'class="errorlist tgc-problems-list"' in response.content.decode()


def test_the_preview_shows_the_entities_that_will_be_sent(client, cases_dir, people, alpha):
    campaign = make_campaign("Markdown", [people], [alpha], parse_mode="markdown")
    campaign.message = (cases_dir / "messages" / "markdown_links.md").read_text(encoding="utf-8")
    campaign.save()

    response = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    entities = response.context["preview"].entities
    kinds = {str(e["type"]).lower() for e in entities}
    assert any("bold" in k for k in kinds) and any("code" in k for k in kinds)
    assert any(e.get("url") for e in entities)
    assert "<a href=" in str(response.context["preview"].html)


def test_content_fields_are_locked_once_the_campaign_left_draft(client, people, alpha):
    campaign = make_campaign("Locked", [people], [alpha], status=CampaignStatus.RUNNING)

    response = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    form_fields = response.context["adminform"].form.fields
    assert "message" not in form_fields and "lists" not in form_fields and "sessions" not in form_fields


# Campaign control: buttons and actions -----------------------------------------------------------
def test_the_launch_button_launches_through_the_engine_and_reports(
    client, people, alpha, django_capture_on_commit_callbacks
):
    campaign = make_campaign("Go", [people], [alpha])

    with mock.patch("campaigns.engine.queue.enqueue_drive", autospec=True) as enqueue:
        with django_capture_on_commit_callbacks(execute=True):
            response = operate(client, campaign, "launch")

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING
    assert campaign.results.count() == 5
    assert any("launched: 5 recipients (5 pending)" in m for m in messages_of(response))
    enqueue.assert_called_once_with(campaign.pk)


def test_a_refused_launch_is_reported_as_an_error_and_changes_nothing(client, people):
    campaign = make_campaign("No sessions", [people], [])

    response = operate(client, campaign, "launch")

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert any("was not launched" in m and "session" in m for m in messages_of(response))


@pytest.mark.parametrize(
    ("operation", "engine_function", "answer", "reported"),
    [
        ("pause", "pause", True, "paused"),
        ("pause", "pause", False, "not running"),
        ("resume", "resume", True, "resumed"),
        ("retry_failed", "retry_failed", 3, "3 failed messages queued"),
    ],
)
def test_each_button_calls_its_engine_function_and_reports_the_answer(
    client, people, alpha, operation, engine_function, answer, reported
):
    campaign = make_campaign("Ops", [people], [alpha])

    with mock.patch(f"campaigns.engine.{engine_function}", autospec=True, return_value=answer) as call:
        response = operate(client, campaign, operation)

    assert call.call_count == 1 and call.call_args.args[0] == campaign
    assert any(reported in m for m in messages_of(response))


def with_unknown_row(campaign: Campaign) -> Campaign:
    """``campaign`` with one row whose request may have reached Telegram from a session now gone."""
    MessageResult.objects.create(campaign=campaign, key="@alice_user", status=ResultStatus.UNKNOWN)
    return campaign


@pytest.mark.parametrize("operation", ["cancel", "resend_unknown"])
def test_cancel_and_resend_unknown_ask_for_confirmation_first(client, people, alpha, operation):
    campaign = with_unknown_row(make_campaign("Careful", [people], [alpha], status=CampaignStatus.PAUSED))

    with mock.patch(f"campaigns.engine.{operation}", autospec=True, return_value=2) as call:
        asked = operate(client, campaign, operation)
        assert call.call_count == 0
        assert "are you sure?" in asked.content.decode()
        done = operate(client, campaign, operation, confirmed="yes")

    call.assert_called_once()
    assert any("2" in m for m in messages_of(done))


def test_the_resend_unknown_action_needs_confirmation_and_then_calls_the_engine(client, people, alpha):
    campaign = with_unknown_row(make_campaign("Unknowns", [people], [alpha], status=CampaignStatus.PAUSED))
    url = reverse("admin:campaigns_campaign_changelist")
    data = {"action": "resend_unknown_selected", "_selected_action": [campaign.pk]}

    with mock.patch("campaigns.engine.resend_unknown", autospec=True, return_value=1) as call:
        asked = client.post(url, data)
        assert call.call_count == 0 and "may already have arrived" in asked.content.decode()
        done = client.post(url, data | {"confirmed": "yes"}, follow=True)

    call.assert_called_once()
    assert any("1 messages of unknown outcome queued" in m for m in messages_of(done))


def test_resend_unknown_without_unknown_rows_says_there_are_none_instead_of_asking(client, people, alpha):
    campaign = make_campaign("All known", [people], [alpha], status=CampaignStatus.PAUSED)
    url = reverse("admin:campaigns_campaign_changelist")
    data = {"action": "resend_unknown_selected", "_selected_action": [campaign.pk]}

    with mock.patch("campaigns.engine.resend_unknown", autospec=True) as call:
        by_action = client.post(url, data, follow=True)
        by_button = operate(client, campaign, "resend_unknown")

    assert call.call_count == 0
    for response in (by_action, by_button):
        assert "are you sure" not in response.content.decode()
        assert any("nothing to resend" in m for m in messages_of(response))


def test_the_pause_action_pauses_every_selected_running_campaign(client, people, alpha):
    running = [make_campaign(f"R{i}", [people], [alpha], status=CampaignStatus.RUNNING) for i in range(2)]
    url = reverse("admin:campaigns_campaign_changelist")

    response = client.post(
        url, {"action": "pause_selected", "_selected_action": [c.pk for c in running]}, follow=True
    )

    assert set(Campaign.objects.values_list("status", flat=True)) == {CampaignStatus.PAUSED}
    assert sum("paused" in m for m in messages_of(response)) == 2
    assert Campaign.objects.first().status_reason == "Paused by mark"


def test_viewers_cannot_operate_campaigns(client, rita, people, alpha):
    campaign = make_campaign("View only", [people], [alpha])
    client.force_login(rita)

    response = client.post(reverse("admin:campaigns_campaign_operation", args=[campaign.pk, "launch"]))

    assert response.status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


# Progress ----------------------------------------------------------------------------------------
@pytest.fixture
def finished(people, alpha, beta):
    """A campaign sent to ``people`` from alpha and beta, with one suppressed recipient."""
    Suppression.objects.create(key="@erin_user")
    campaign = make_campaign("Finished", [people], [alpha, beta])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=10)
    return campaign


def test_the_changelist_shows_progress_from_annotations_in_a_fixed_number_of_queries(
    client, finished, people, alpha, django_assert_max_num_queries
):
    for i in range(5):
        make_campaign(f"Extra {i}", [people], [alpha])
    with django_assert_max_num_queries(12):
        response = client.get(reverse("admin:campaigns_campaign_changelist"))

    assert "4 sent · 1 skipped of 5" in response.content.decode()


def test_progress_json_counts_add_up_to_the_total_per_status_and_per_session(client, finished):
    data = client.get(reverse("campaigns:progress", args=[finished.pk])).json()

    assert data["status"] == "completed" and data["active"] is False
    assert data["counts"]["sent"] == 4 and data["counts"]["skipped"] == 1
    assert sum(data["counts"].values()) == data["total"] == 5
    assert sum(row["total"] for row in data["sessions"]) == 5
    assert {row["name"] for row in data["sessions"]} >= {"alpha", "beta"}
    assert 'class="tgc-bar"' in data["html"]


def test_each_session_row_adds_up_with_skipped_and_cancelled_rows(client, people, alpha):
    campaign = make_campaign("Cut short", [people], [alpha], status=CampaignStatus.CANCELLED)
    for key, status in [("@a", "sent"), ("@b", "skipped"), ("@c", "cancelled"), ("@d", "cancelled")]:
        MessageResult.objects.create(campaign=campaign, key=key, status=status, session=alpha)

    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()

    assert "<th>Skipped</th><th>Cancelled</th>" in page
    # Sent, failed, unknown, skipped, cancelled, to send, total.
    assert "<td>1</td><td>0</td><td>0</td><td>1</td><td>2</td>\n        <td>0</td><td>4</td>" in page


def test_percent_done_counts_settled_messages_of_the_deliverable_ones(client, people, alpha):
    campaign = make_campaign("Half way", [people], [alpha], status=CampaignStatus.RUNNING)
    for key, status in [("@a", "sent"), ("@b", "failed"), ("@c", "pending"), ("@d", "skipped")]:
        MessageResult.objects.create(campaign=campaign, key=key, status=status, session=alpha)

    data = client.get(reverse("campaigns:progress", args=[campaign.pk])).json()

    assert (data["done"], data["deliverable"], data["percent_done"]) == (2, 3, 66.7)
    assert "2 of 3 deliverable messages sent or settled" in data["html"]


def test_a_draft_shows_how_many_recipients_its_lists_hold(client, people, alpha):
    campaign = make_campaign("Not yet", [people], [alpha])

    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()

    assert "<strong>5</strong> recipients in the chosen lists" in page
    assert "% done" not in page and "= <strong>" not in page


def test_progress_json_is_for_staff_only(client, finished):
    client.logout()

    response = client.get(reverse("campaigns:progress", args=[finished.pk]))

    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_status_reason_is_shown_prominently(client, people, alpha):
    campaign = make_campaign("Flooded", [people], [alpha], status=CampaignStatus.PAUSED)
    campaign.status_reason = "Paused: session alpha spam-limited (PEER_FLOOD)"
    campaign.save()

    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()

    assert "<strong>Paused: session alpha spam-limited (PEER_FLOOD)</strong>" in page
    assert ">Resume</button>" in page and ">Launch</button>" not in page


# Results -----------------------------------------------------------------------------------------
def test_results_filter_by_campaign_status_session_and_error_code(client, finished, alpha):
    url = reverse("admin:campaigns_messageresult_changelist")
    base = {"campaign__id__exact": finished.pk}

    assert client.get(url, base).context["cl"].result_count == 5
    assert client.get(url, base | {"status__exact": "sent"}).context["cl"].result_count == 4
    by_session = client.get(url, base | {"session__id__exact": alpha.pk}).context["cl"].result_count
    assert by_session == finished.results.filter(session=alpha).count()
    skipped = client.get(url, base | {"error_code": "SUPPRESSED"})
    assert [r.key for r in skipped.context["cl"].result_list] == ["@erin_user"]


def test_the_error_code_filter_lists_only_codes_present(client, finished):
    MessageResult.objects.filter(key="@alice_user").update(
        status=ResultStatus.FAILED, error_code="USER_PRIVACY_RESTRICTED"
    )

    response = client.get(
        reverse("admin:campaigns_messageresult_changelist"), {"campaign__id__exact": finished.pk}
    )

    spec = next(
        f for f in response.context["cl"].filter_specs if getattr(f, "parameter_name", "") == "error_code"
    )
    codes = [code for code, _label in spec.lookup_choices]
    assert codes == sorted(
        set(MessageResult.objects.exclude(error_code="").values_list("error_code", flat=True))
    )
    assert "USER_PRIVACY_RESTRICTED" in codes and "FLOOD_WAIT" not in codes


def test_results_are_read_only_with_their_delivery_attempts_inline(client, finished):
    result = finished.results.filter(status="sent").first()

    response = client.get(reverse("admin:campaigns_messageresult_change", args=[result.pk]))

    page = response.content.decode()
    assert 'name="_save"' not in page
    assert "Delivery attempts" in page
    assert "DeliveryAttempt object" not in page
    assert '<td class="field-outcome">Sent</td>' in page and result.session.name in page


@pytest.fixture
def messy(client, cases_dir, users_alpha_beta) -> Campaign:
    """messy_excel.csv sent: its invalid and duplicate rows are skipped results without a key."""
    upload(client, cases_dir, "messy_excel.csv", default_region="DE")
    campaign = make_campaign("Messy", [RecipientList.objects.get()], users_alpha_beta)
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=10)
    return campaign


def test_a_skipped_invalid_recipient_shows_as_written_with_its_list_and_row(
    client, messy, django_assert_max_num_queries
):
    invalid = Recipient.objects.get(raw_value="@bad-dash")
    result = messy.results.get(recipient=invalid)
    url = reverse("admin:campaigns_messageresult_changelist")

    with django_assert_max_num_queries(12):  # whatever the number of rows
        listed = client.get(url).content.decode()
    found = client.get(url, {"q": "@bad-dash"})
    detail = client.get(reverse("admin:campaigns_messageresult_change", args=[result.pk])).content.decode()

    assert result.key == ""
    assert "“@bad-dash”" in listed and f">messy_excel.csv</a>, row {invalid.row_number}" in listed
    assert [r.pk for r in found.context["cl"].result_list] == [result.pk]
    assert "@bad-dash" in detail and f"row {invalid.row_number}" in detail


def test_the_results_export_follows_the_changelists_filters(client, finished, alpha):
    url = reverse("admin:campaigns_messageresult_changelist")
    filters = {"campaign__id__exact": finished.pk, "session__id__exact": alpha.pk}
    expected = finished.results.filter(session=alpha).count()

    page = client.get(url, filters).content.decode()
    link = reverse("admin:campaigns_messageresult_export") + "?" + urlencode(filters)
    rows = csv_rows(client.get(link))

    assert f'href="{link.replace("&", "&amp;")}"' in page
    assert f"Export these {expected} results as CSV" in page
    assert len(rows) == expected and {r["session"] for r in rows} == {"alpha"}


def test_the_results_export_follows_the_search_and_names_each_rows_campaign(client, finished, people, alpha):
    other = make_campaign("Other", [people], [alpha])
    MessageResult.objects.create(campaign=other, key="@alice_user", status=ResultStatus.PENDING)

    rows = csv_rows(client.get(reverse("admin:campaigns_messageresult_export"), {"q": "@alice_user"}))

    assert sorted(r["campaign"] for r in rows) == ["Finished", "Other"]


def test_the_campaign_page_exports_all_its_results(client, finished):
    page = client.get(reverse("admin:campaigns_campaign_change", args=[finished.pk])).content.decode()

    assert (
        f'<a href="{reverse("campaigns:export", args=[finished.pk])}">Export all results as CSV</a>' in page
    )


def test_the_export_action_downloads_the_selected_results(client, finished):
    chosen = list(finished.results.filter(status="sent").values_list("pk", flat=True)[:2])

    response = client.post(
        reverse("admin:campaigns_messageresult_changelist"),
        {"action": "export_selected", "_selected_action": chosen},
    )

    assert len(csv_rows(response)) == 2


def test_export_escapes_formula_cells_from_messy_excel(client, cases_dir, users_alpha_beta):
    upload(client, cases_dir, "messy_excel.csv", default_region="DE")
    campaign = make_campaign("Messy", [RecipientList.objects.get()], users_alpha_beta)
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=10)

    rows = csv_rows(client.get(reverse("campaigns:export", args=[campaign.pk])))

    # Keys starting with @ or + are escaped too: Excel would evaluate them.
    leo = next(r for r in rows if r["key"] == "'@leo_p")
    name_column = next(k for k in leo if k.lower() == "name")
    assert leo[name_column] == """'=HYPERLINK("http://example.invalid","x")"""
    assert all(not v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values() if v)
    assert sum(r["status"] == "sent" for r in rows) == 8


def test_exporting_several_selected_campaigns_gives_one_csv_with_a_campaign_column(
    client, finished, people, alpha
):
    other = make_campaign("Other", [people], [alpha])
    MessageResult.objects.create(campaign=other, key="@bob_user", status=ResultStatus.SENT, session=alpha)

    response = client.post(
        reverse("admin:campaigns_campaign_changelist"),
        {"action": "export_selected", "_selected_action": [finished.pk, other.pk]},
    )

    rows = csv_rows(response)
    assert [r["campaign"] for r in rows] == ["Finished"] * 5 + ["Other"]
    assert rows[-1]["key"] == "'@bob_user"


def test_viewers_may_export_but_anonymous_users_may_not(client, rita, finished):
    client.force_login(rita)
    assert len(csv_rows(client.get(reverse("campaigns:export", args=[finished.pk])))) == 5
    client.logout()
    assert client.get(reverse("campaigns:export", args=[finished.pk])).status_code == 302


# Suppressions ------------------------------------------------------------------------------------
def test_a_manual_suppression_is_stored_under_the_normalised_key(client):
    response = client.post(
        reverse("admin:campaigns_suppression_add"),
        {"key": "https://t.me/Alice_W", "source": "manual", "note": ""},
    )

    assert response.status_code == 302
    assert Suppression.objects.get().key == "@alice_w"


def test_an_unrecognised_suppression_key_is_a_form_error(client):
    response = client.post(reverse("admin:campaigns_suppression_add"), {"key": "@abc", "source": "manual"})

    assert "key" in response.context["adminform"].form.errors
    assert not Suppression.objects.exists()


def test_bulk_suppression_adds_the_valid_keys_and_lists_the_rest(client):
    Suppression.objects.create(key="@bob_marketing")
    text = "@Alice_W\nbob_marketing\n+1 212 555 0123; @abc\n\n"

    response = client.post(
        reverse("admin:campaigns_suppression_bulk_add"), {"keys": text, "note": "STOP by phone"}, follow=True
    )

    assert set(Suppression.objects.values_list("key", flat=True)) == {
        "@alice_w",
        "@bob_marketing",
        "+12125550123",
    }
    shown = " ".join(messages_of(response))
    assert "2 added, 1 already suppressed" in shown and "@abc" in shown


def test_a_result_page_shows_the_message_as_rendered_for_that_recipient(client, olga, people, alpha):
    client.force_login(olga)
    campaign = make_campaign("Rendered", [people], [alpha], message="Hi {{ first_name }}, <b>hello</b>")
    engine.launch(campaign, enqueue=False)
    row = campaign.results.get(key="@carol_user")

    response = client.get(reverse("admin:campaigns_messageresult_change", args=[row.pk]))

    assert "Hi Carol, &lt;b&gt;hello&lt;/b&gt;" in response.content.decode()
