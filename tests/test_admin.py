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
from campaigns.lists.reading import NOT_TEXT
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


def upload(client, cases_dir: Path, case: str, **fields):
    """Upload a case file as staff do: the add page, then the mapping step's "Import" with its
    choices as shown, changed by ``fields`` (``default_region``, ``encoding``, ``role_0`` …). A file
    refused at the first step returns the add page."""
    data = {"name": case, "consent_basis": "opt_in", "consent_note": ""}
    data |= {k: v for k, v in fields.items() if k in data}
    with (cases_dir / "recipients" / case).open("rb") as fh:
        data["file"] = SimpleUploadedFile(case, fh.read())
    response = client.post(reverse("admin:campaigns_recipientlist_add"), data, follow=True)
    if "preview" not in (response.context or {}):
        return response
    mapping = mapping_data(response) | {k: v for k, v in fields.items() if k not in data}
    return client.post(response.request["PATH_INFO"], mapping | {"_import": "1"}, follow=True)


def mapping_data(response) -> dict:
    """The mapping form's values as the page shows them."""
    form = response.context["form"]
    data = {name: form[name].value() for name in form.fields}
    return {
        k: ("on" if v is True else "" if v in (None, False) else v) for k, v in data.items() if v is not False
    }


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
    ],
)
def test_every_campaigns_admin_page_renders_for_marketing_staff(client, url_name):
    assert client.get(reverse(url_name)).status_code == 200


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:campaigns_suppression_changelist",
        "admin:campaigns_suppression_add",
        "admin:campaigns_suppression_bulk_add",
    ],
)
def test_every_suppression_page_renders_for_the_operator(client, otto, url_name):
    client.force_login(otto)
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


def test_the_report_counts_rows_without_consent_apart_from_invalid_ones(client, cases_dir):
    response = upload(client, cases_dir, "german_headers.csv")  # 3 of 10 say "nein"

    page = " ".join(response.content.decode().split())
    recipient_list = RecipientList.objects.get()
    assert (recipient_list.valid_count, recipient_list.invalid_count) == (7, 3)  # stored as before
    assert "7 valid, 0 invalid, 3 no consent, 0 duplicate of 10 rows" in " ".join(messages_of(response))
    assert "<strong>0</strong> invalid</li>" in page
    assert '<li class="tgc-no-consent"><strong>3</strong> no consent</li>' in page


def test_the_reports_rows_name_a_row_without_consent_as_such_not_invalid(client, cases_dir):
    """The counts say "0 invalid, 3 no consent": each of those rows' outcome must agree."""
    import re

    response = upload(client, cases_dir, "german_headers.csv")  # 3 of 10 say "nein"

    table = re.search(r'<table class="tgc-problems">.*?</table>', response.content.decode(), re.S).group(0)
    outcomes = re.findall(r"<tr[^>]*><td>\d+</td><td><code>[^<]*</code></td><td>([^<]*)</td>", table)
    assert outcomes == ["No consent"] * 3, outcomes


def test_a_one_row_lists_report_counts_its_row_in_the_singular(client, tmp_path):
    """ "1 rows read", "of 1 rows": a list of one row reads in the singular."""
    (tmp_path / "recipients").mkdir()
    (tmp_path / "recipients" / "one.csv").write_text("username\n@only_one\n")

    response = upload(client, tmp_path, "one.csv")

    page = " ".join(response.content.decode().split())
    assert "<li><strong>1</strong> row read</li>" in page
    assert "0 duplicate of 1 row." in " ".join(messages_of(response))


def test_a_list_with_no_consent_column_says_nothing_of_consent(client, cases_dir):
    response = upload(client, cases_dir, "basic.csv")

    assert "no consent" not in response.content.decode()
    assert "7 valid, 0 invalid, 0 duplicate of 7 rows" in " ".join(messages_of(response))


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty.csv", "the file is empty"),
        ("header_only.csv", "no recipient rows"),
        ("binary_named.csv", NOT_TEXT),
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


# The mapping step -------------------------------------------------------------------------------
def start_upload(client, cases_dir: Path, case: str, **fields):
    """The add page only: returns the mapping page it leads to."""
    data = {"name": case, "consent_basis": "opt_in", "consent_note": ""} | fields
    data["file"] = SimpleUploadedFile(case, (cases_dir / "recipients" / case).read_bytes())
    return client.post(reverse("admin:campaigns_recipientlist_add"), data, follow=True)


def test_an_upload_shows_the_decoded_first_rows_with_the_encoding_named_before_anything_is_stored(
    client, cases_dir
):
    response = start_upload(client, cases_dir, "western_cp1252.csv")

    page = response.content.decode()
    recipient_list = RecipientList.objects.get()
    assert response.request["PATH_INFO"] == reverse(
        "admin:campaigns_recipientlist_mapping", args=[recipient_list.pk]
    )
    for name in ["Carmen Muñoz", "João Sá", "Bjørn Østergaard", "Zoë Çelik", "São Paulo", "voucher € 5"]:
        assert name in page
    assert '<code id="tgc-encoding">cp1252</code>' in page
    assert response.context["form"]["encoding"].value() == "cp1252"
    assert (recipient_list.import_status, recipient_list.recipients.count()) == ("mapping", 0)


def test_choosing_another_encoding_shows_the_rows_decoded_with_it(client, cases_dir):
    response = start_upload(client, cases_dir, "western_cp1252.csv")

    again = client.post(
        response.request["PATH_INFO"], mapping_data(response) | {"encoding": "cp1250", "_preview": "1"}
    )

    assert "Carmen Muńoz" in again.content.decode()
    assert not Recipient.objects.exists()
    imported = client.post(
        response.request["PATH_INFO"],
        mapping_data(again) | {"encoding": "cp1252", "_import": "1"},
        follow=True,
    )
    assert sorted(r.fields["name"] for r in Recipient.objects.all()) == [
        "Bjørn Østergaard",
        "Carmen Muñoz",
        "João Sá",
        "Zoë Çelik",
    ]
    assert "4 valid, 0 invalid, 0 duplicate" in " ".join(messages_of(imported))


def test_the_mapping_step_offers_one_role_per_column_guessed_from_the_headers(client, cases_dir):
    response = start_upload(client, cases_dir, "two_id_columns.csv")

    form = response.context["form"]
    assert [form[f"role_{i}"].value() for i in range(3)] == ["username", "phone", "field"]
    assert [label for _value, label in form.fields["role_0"].choices] == [
        "Any identity (@username, phone or user id)",
        "Username",
        "Phone",
        "Phone, international (+ may be missing)",
        "User id",
        "Country of the row (its phone numbers' region)",
        "Consent (yes / no)",
        "Opted out (yes, or a date: never a recipient)",
        "Time zone",
        "Label of a phone (Mobile, Work…)",
        "Tags (several per cell: VIP, Berlin)",
        "Field: first_name",
        "Field: last_name",
        "Field: full_name",
        "Field: email",
        "Field: city",
        "Field: company",
        "Personalisation field",
        "Ignore",
    ]
    assert form["identity_order"].value() == "username,phone,user_id"


def test_the_identity_order_chosen_in_the_mapping_step_decides_the_key_and_is_kept_on_the_list(
    client, cases_dir
):
    upload(client, cases_dir, "two_id_columns.csv", identity_order="phone,username,user_id")

    recipient_list = RecipientList.objects.get()
    assert recipient_list.recipients.get(row_number=2).key == "+13125550131"
    assert recipient_list.recipients.get(row_number=5).error == "duplicate of row 2"
    assert recipient_list.mapping["identity_order"] == ["phone", "username", "user_id"]
    page = client.get(
        reverse("admin:campaigns_recipientlist_change", args=[recipient_list.pk])
    ).content.decode()
    assert "Identity order: <code>phone, then username, then user id</code>" in page


def test_the_mapping_step_offers_the_lists_default_time_zone_and_says_what_a_timezone_column_does(
    client, cases_dir
):
    response = start_upload(client, cases_dir, "basic.csv")
    page = response.content.decode()
    assert 'name="default_time_zone"' in page and '<option value="Europe/Berlin">' in page
    assert "a column named <code>timezone</code>" in page
    refused = client.post(
        response.request["PATH_INFO"],
        mapping_data(response) | {"default_time_zone": "Mars/Olympus", "_import": "1"},
    )
    assert refused.status_code == 200 and "not a time zone" in refused.content.decode()
    assert RecipientList.objects.get().import_status == "mapping"
    client.post(
        response.request["PATH_INFO"],
        mapping_data(response) | {"default_time_zone": " Asia/Tokyo ", "_import": "1"},
    )
    recipient_list = RecipientList.objects.get()
    assert (recipient_list.import_status, recipient_list.default_time_zone) == ("done", "Asia/Tokyo")


def test_the_lists_default_time_zone_is_changed_on_its_page_and_checked(client, people):
    url = reverse("admin:campaigns_recipientlist_change", args=[people.pk])
    page = client.get(url).content.decode()
    assert 'name="default_time_zone"' in page and 'list="tgc-time-zones"' in page
    data = {"name": "people", "consent_note": "", "default_time_zone": "UTC+3"}
    response = client.post(url, data)
    assert response.status_code == 200 and "not a time zone" in response.content.decode()
    client.post(url, data | {"default_time_zone": "Europe/Berlin"})
    people.refresh_from_db()
    assert people.default_time_zone == "Europe/Berlin"
    client.post(url, data | {"default_time_zone": ""})
    people.refresh_from_db()
    assert people.default_time_zone == ""


def test_a_column_chosen_as_ignored_is_neither_an_identity_nor_a_field(client, cases_dir):
    upload(client, cases_dir, "two_id_columns.csv", role_1="ignore")

    quinn = Recipient.objects.get(row_number=3)
    assert (quinn.status, quinn.error, quinn.fields) == ("invalid", "no username", {"Name": "Quinn"})


def test_the_next_upload_with_the_same_columns_starts_from_the_last_lists_mapping(client, cases_dir):
    upload(
        client, cases_dir, "two_id_columns.csv", identity_order="phone,username,user_id", default_region="US"
    )

    response = start_upload(client, cases_dir, "two_id_columns.csv", name="Again")

    form = response.context["form"]
    assert (form["identity_order"].value(), form["default_region"].value()) == (
        "phone,username,user_id",
        "US",
    )


def test_the_mapping_step_asks_for_the_region_when_digits_could_be_a_phone_or_a_user_id(client, cases_dir):
    response = start_upload(client, cases_dir, "digits_no_region.csv")

    notes = " ".join(response.context["preview"].notes)
    assert "choose the default region" in notes and "89161230001" in notes and "User id" in notes

    imported = upload(client, cases_dir, "digits_no_region.csv", name="RU", default_region="RU")
    ru = RecipientList.objects.get(name="RU")
    assert list(ru.recipients.values_list("key", "status")) == [
        ("+79161230001", "valid"),
        ("+79161230001", "duplicate"),
        ("@olga_t", "valid"),
    ]
    assert imported.status_code == 200


def test_a_mapping_without_an_identity_column_is_refused_with_the_reason(client, cases_dir):
    response = start_upload(client, cases_dir, "basic.csv")

    again = client.post(
        response.request["PATH_INFO"], mapping_data(response) | {"role_0": "field", "_import": "1"}
    )

    assert "no identity column" in again.content.decode()
    assert RecipientList.objects.get().import_status == "mapping"
    assert not Recipient.objects.exists()


def test_cancelling_the_mapping_step_deletes_the_list_and_its_file(client, cases_dir, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    response = start_upload(client, cases_dir, "basic.csv")

    client.post(response.request["PATH_INFO"], {"_cancel": "1"})

    assert not RecipientList.objects.exists()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_an_upload_over_the_size_limit_is_refused_with_the_limit_and_nothing_is_stored(
    client, cases_dir, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.TGC_IMPORT_MAX_BYTES = 100

    response = start_upload(client, cases_dir, "basic.csv")

    error = response.context["form"].errors["file"][0]
    assert "a recipient file may be at most 100 bytes (TGC_IMPORT_MAX_BYTES)" in error
    assert 'data-max-bytes="100"' in response.content.decode()
    assert not RecipientList.objects.exists()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_an_upload_over_the_row_limit_is_refused_at_the_first_step(client, cases_dir, settings):
    settings.TGC_IMPORT_MAX_ROWS = 3

    response = start_upload(client, cases_dir, "basic.csv")

    assert (
        "the file has about 7 rows; one list may hold at most 3" in response.context["form"].errors["file"][0]
    )
    assert not RecipientList.objects.exists()


def test_a_list_still_being_imported_cannot_be_chosen_for_a_campaign(client, people):
    RecipientList.objects.create(name="Half way", consent_basis="opt_in", import_status="running")

    response = client.get(reverse("admin:campaigns_campaign_add"))

    assert list(response.context["adminform"].form.fields["lists"].queryset) == [people]


# Large files: the import runs in a worker ----------------------------------------------------------
@pytest.fixture
def queued_import(client, cases_dir, settings):
    """basic.csv uploaded with a 10-byte inline limit: its import is enqueued (captured)."""
    settings.TGC_IMPORT_INLINE_MAX_BYTES = 10
    with mock.patch("campaigns.lists.jobs.async_task", autospec=True) as enqueue:
        with django_capture_on_commit():
            response = upload(client, cases_dir, "basic.csv")
    return response, enqueue


def django_capture_on_commit():
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks(execute=True)


def test_a_large_file_is_imported_in_a_worker_and_its_page_shows_the_progress(client, queued_import):
    response, enqueue = queued_import

    recipient_list = RecipientList.objects.get()
    enqueue.assert_called_once_with(
        "campaigns.tasks.import_recipient_list", recipient_list.pk, group=f"import-{recipient_list.pk}"
    )
    assert (recipient_list.import_status, recipient_list.recipients.count()) == ("queued", 0)
    page = response.content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page
    assert "is being imported in the background" in " ".join(messages_of(response))

    RecipientList.objects.filter(pk=recipient_list.pk).update(import_status="running", import_progress=3)
    running = client.get(
        reverse("admin:campaigns_recipientlist_change", args=[recipient_list.pk])
    ).content.decode()
    assert "3 of about 7 rows (43%)" in running


def test_the_worker_imports_the_queued_list_recording_progress(queued_import, monkeypatch):
    from campaigns import tasks
    from campaigns.lists import importing, writing

    monkeypatch.setattr(importing, "BATCH_SIZE", 3)
    recipient_list = RecipientList.objects.get()
    progress_seen = []
    real_flush = writing.RowWriter.flush

    def flush(writer):
        progress_seen.append(
            RecipientList.objects.values_list("import_progress", flat=True).get(pk=recipient_list.pk)
        )
        real_flush(writer)

    monkeypatch.setattr(writing.RowWriter, "flush", flush)

    assert tasks.import_recipient_list(recipient_list.pk) == "7 rows"

    assert progress_seen == [0, 3, 6]
    recipient_list.refresh_from_db()
    assert (recipient_list.import_status, recipient_list.import_progress, recipient_list.valid_count) == (
        "done",
        7,
        7,
    )
    assert tasks.import_recipient_list(recipient_list.pk) == "not queued: nothing to do"
    assert recipient_list.recipients.count() == 7


def test_a_worker_import_the_file_fails_leaves_the_reason_and_no_rows_and_can_be_queued_again(
    client, queued_import, settings
):
    from campaigns import tasks

    recipient_list = RecipientList.objects.get()
    settings.TGC_IMPORT_MAX_ROWS = 3

    assert tasks.import_recipient_list(recipient_list.pk).startswith("refused: the file has more than 3 rows")

    recipient_list.refresh_from_db()
    assert recipient_list.import_status == "failed" and "TGC_IMPORT_MAX_ROWS" in recipient_list.import_error
    assert not recipient_list.recipients.exists()
    page = client.get(
        reverse("admin:campaigns_recipientlist_change", args=[recipient_list.pk])
    ).content.decode()
    assert "The import failed: the file has more than 3 rows" in page and "Import again" in page

    settings.TGC_IMPORT_MAX_ROWS = 100
    with mock.patch("campaigns.lists.jobs.async_task", autospec=True) as enqueue, django_capture_on_commit():
        client.post(reverse("admin:campaigns_recipientlist_retry", args=[recipient_list.pk]))
    enqueue.assert_called_once()
    assert tasks.import_recipient_list(recipient_list.pk) == "7 rows"


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
    assert ">Launch…</button>" in page


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
        ({"media_type": "photo", "mime_type": "image/jpeg", "size": 3 * 1024 * 1024}, "photo · image/jpeg · 3 MiB"),
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
def test_the_launch_button_launches_through_the_summary_and_reports(
    client, people, alpha, django_capture_on_commit_callbacks
):
    campaign = make_campaign("Go", [people], [alpha])

    asked = operate(client, campaign, "launch")  # the button: the summary, nothing launched
    assert asked.request["PATH_INFO"] == reverse("admin:campaigns_campaign_launch", args=[campaign.pk])
    assert "Launch now: send 5 messages" in asked.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    with mock.patch("campaigns.engine.queue.enqueue_drive", autospec=True) as enqueue:
        with django_capture_on_commit_callbacks(execute=True):
            response = confirm_launch(client, campaign)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING
    assert campaign.results.count() == 5
    assert any("launched: 5 recipients (5 pending)" in m for m in messages_of(response))
    enqueue.assert_called_once_with(campaign.pk)


def confirm_launch(client, campaign, fingerprint: str | None = None):
    """The summary's confirmation: what the summary showed (its fingerprint) is launched."""
    url = reverse("admin:campaigns_campaign_launch", args=[campaign.pk])
    return client.post(url, {"confirmed": fingerprint or campaign.fingerprint()}, follow=True)


def test_a_refused_launch_shows_the_problem_in_the_summary_and_changes_nothing(client, people):
    campaign = make_campaign("No sessions", [people], [])

    summary = client.get(reverse("admin:campaigns_campaign_launch", args=[campaign.pk]))
    response = confirm_launch(client, campaign)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert "No usable session" in summary.content.decode()
    assert 'id="tgc-confirm-launch"' not in summary.content.decode()
    assert any("was not launched" in m and "session" in m for m in messages_of(response))


@pytest.mark.parametrize(
    ("operation", "engine_function", "answer", "reported"),
    [
        ("pause", "pause", True, "paused"),
        ("pause", "pause", False, "not running"),
        ("resume", "resume", True, "resumed"),
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
    assert any("1 message of unknown outcome queued" in m for m in messages_of(done))


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


def test_messy_excel_exports_as_stored_in_csv_and_as_inert_text_in_xlsx(client, cases_dir, users_alpha_beta):
    from openpyxl import load_workbook

    upload(client, cases_dir, "messy_excel.csv", default_region="DE")
    campaign = make_campaign("Messy", [RecipientList.objects.get()], users_alpha_beta)
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=10)

    rows = csv_rows(client.get(reverse("campaigns:export", args=[campaign.pk])))

    # Machines get the keys as stored, to match them back into a CRM: no leading '.
    leo = next(r for r in rows if r["key"] == "@leo_p")
    name_column = next(k for k in leo if k.lower() == "name")
    assert leo[name_column] == """=HYPERLINK("http://example.invalid","x")"""
    assert {r["key"] for r in rows if r["status"] == "sent"} >= {"@alice_w", "+49301234567", "5234567890123"}
    assert sum(r["status"] == "sent" for r in rows) == 8

    # People get the same values as text cells: the formula is text, never run.
    response = client.get(reverse("campaigns:export", args=[campaign.pk]), {"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)))["Results"]
    header = [c.value for c in sheet[1]]
    leo_row = next(row for row in sheet.iter_rows(min_row=2) if row[0].value == "@leo_p")
    formula = leo_row[header.index(name_column)]
    assert (formula.value, formula.data_type) == ("""=HYPERLINK("http://example.invalid","x")""", "s")


def test_the_results_changelist_offers_the_excel_export_of_the_same_results(client, finished, alpha):
    url = reverse("admin:campaigns_messageresult_changelist")
    filters = {"campaign__id__exact": finished.pk, "session__id__exact": alpha.pk}

    page = client.get(url, filters).content.decode()
    link = reverse("admin:campaigns_messageresult_export") + "?" + urlencode(filters) + "&format=xlsx"
    response = client.get(link)

    assert f'href="{link.replace("&", "&amp;")}"' in page
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
    assert rows[-1]["key"] == "@bob_user"


def test_viewers_may_export_but_anonymous_users_may_not(client, rita, finished):
    client.force_login(rita)
    assert len(csv_rows(client.get(reverse("campaigns:export", args=[finished.pk])))) == 5
    client.logout()
    assert client.get(reverse("campaigns:export", args=[finished.pk])).status_code == 302


# Suppressions ------------------------------------------------------------------------------------
@pytest.fixture
def operator_client(client, otto):
    """Suppressions are the operator's (docs/using.md "Roles and permissions")."""
    client.force_login(otto)
    return client


def test_a_manual_suppression_is_stored_under_the_normalised_key(operator_client):
    client = operator_client
    response = client.post(
        reverse("admin:campaigns_suppression_add"),
        {"key": "https://t.me/Alice_W", "source": "manual", "note": ""},
    )

    assert response.status_code == 302
    assert Suppression.objects.get().key == "@alice_w"


def test_an_unrecognised_suppression_key_is_a_form_error(operator_client):
    client = operator_client
    response = client.post(reverse("admin:campaigns_suppression_add"), {"key": "@abc", "source": "manual"})

    assert "key" in response.context["adminform"].form.errors
    assert not Suppression.objects.exists()


def test_a_manual_suppression_of_bare_digits_that_are_also_a_phone_number_is_a_form_error(operator_client):
    response = operator_client.post(
        reverse("admin:campaigns_suppression_add"), {"key": "4915123456701", "source": "manual"}
    )

    errors = " ".join(response.context["adminform"].form.errors["key"])
    assert "+4915123456701" in errors and "tg://user?id=4915123456701" in errors
    assert not Suppression.objects.exists()


def test_bulk_suppression_adds_the_valid_keys_and_lists_the_rest(operator_client):
    client = operator_client
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


def test_bulk_suppression_reads_national_digits_in_the_region_like_the_list_that_keys_them(
    client, cases_dir, otto
):
    upload(client, cases_dir, "basic.csv")  # +1 212 555 0123 is keyed +12125550123
    listed = Recipient.objects.get(row_number=4).key
    client.force_login(otto)  # suppressions are the operator's

    client.post(
        reverse("admin:campaigns_suppression_bulk_add"),
        {"keys": "2125550123\n(202) 555-0143", "reading": "any", "default_region": "US"},
    )

    assert set(Suppression.objects.values_list("key", flat=True)) == {listed, "+12025550143"}


def test_bulk_suppression_repairs_spreadsheet_damage_and_reports_every_entry(client, otto):
    client.force_login(otto)
    text = "4915112345678.0\n4.91511E+12\n'+4915112345679\n+4915112345678\n1,234,567"

    response = client.post(
        reverse("admin:campaigns_suppression_bulk_add"),
        {"keys": text, "reading": "phone", "default_region": ""},
    )

    assert set(Suppression.objects.values_list("key", flat=True)) == {"+4915112345678", "+4915112345679"}
    report = response.context["report"]
    assert report["counts"] == {"added": 2, "existing": 0, "invalid": 2, "duplicate": 1}
    assert [(r["number"], r["outcome"]) for r in report["rows"]] == [
        (1, "added"),
        (2, "invalid"),
        (3, "added"),
        (4, "duplicate"),
        (5, "invalid"),
    ]
    page = response.content.decode()
    assert "4.91511E+12 is a number in scientific notation" in page
    assert "duplicate of entry 1" in page


def test_a_result_page_shows_the_message_as_rendered_for_that_recipient(client, olga, people, alpha):
    client.force_login(olga)
    campaign = make_campaign("Rendered", [people], [alpha], message="Hi {{ first_name }}, <b>hello</b>")
    engine.launch(campaign, enqueue=False)
    row = campaign.results.get(key="@carol_user")

    response = client.get(reverse("admin:campaigns_messageresult_change", args=[row.pk]))

    assert "Hi Carol, &lt;b&gt;hello&lt;/b&gt;" in response.content.decode()


@pytest.mark.parametrize("case", ["phone_contacts.vcf", "telegram_export.json"])
def test_the_mapping_step_of_a_format_without_a_header_row_asks_nothing_about_one(client, cases_dir, case):
    with (cases_dir / "recipients" / case).open("rb") as fh:
        data = {"name": case, "consent_basis": "opt_in", "file": SimpleUploadedFile(case, fh.read())}
    page = client.post(reverse("admin:campaigns_recipientlist_add"), data, follow=True)

    assert "header" not in page.context["form"].fields
    assert "first row holds the column names" not in page.content.decode()
    imported = upload(client, cases_dir, case, default_region="DE")
    assert RecipientList.objects.filter(name=case).latest("pk").valid_count > 0, imported.content.decode()[
        :500
    ]
