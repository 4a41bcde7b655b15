"""``manage.py importrecipients``: the mapping step's choices as options."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Recipient, RecipientList

pytestmark = pytest.mark.django_db

RECIPIENTS = Path(__file__).resolve().parent / "data" / "cases" / "recipients"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("importrecipients", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def test_it_imports_a_file_as_a_new_list_with_its_report():
    out = run(str(RECIPIENTS / "basic.csv"), "--name", "Spring", "--consent-basis", "opt_in")

    recipient_list = RecipientList.objects.get(name="Spring")
    assert (recipient_list.valid_count, recipient_list.import_status) == (7, "done")
    assert "“Spring” imported: 7 valid, 0 invalid, 0 duplicate of 7 rows." in out
    assert recipient_list.file.name.endswith("basic.csv")


def test_it_takes_column_roles_identity_order_and_region_as_options():
    run(
        str(RECIPIENTS / "two_id_columns.csv"),
        "--name", "CRM", "--consent-basis", "customer",
        "--column", "Username=username", "--column", "2=phone",
        "--identity-order", "phone,username,user_id", "--region", "us",
    )  # fmt: skip

    recipient_list = RecipientList.objects.get()
    assert recipient_list.recipients.get(row_number=2).identities() == ["+13125550131", "@paula_r"]
    assert recipient_list.mapping["roles"] == ["username", "phone", "field"]
    assert recipient_list.default_region == "US"


def test_it_sets_the_lists_default_time_zone_and_refuses_an_unknown_one():
    args = (str(RECIPIENTS / "basic.csv"), "--consent-basis", "opt_in")
    with pytest.raises(CommandError, match="not a time zone"):
        run(*args, "--name", "Nowhere", "--default-time-zone", "Mars/Olympus")
    assert not RecipientList.objects.exists()
    run(*args, "--name", "Tokyo", "--default-time-zone", "Asia/Tokyo")
    assert RecipientList.objects.get(name="Tokyo").default_time_zone == "Asia/Tokyo"


def test_it_reads_the_encoding_it_is_told():
    run(
        str(RECIPIENTS / "western_cp1252.csv"),
        "--name",
        "W",
        "--consent-basis",
        "opt_in",
        "--encoding",
        "cp1250",
    )

    assert Recipient.objects.get(row_number=2).fields["name"] == "Carmen Muńoz"


def test_the_preview_prints_the_first_rows_as_read_and_stores_nothing():
    out = run(str(RECIPIENTS / "digits_no_region.csv"), "--preview")

    assert "row 3: +79161230001  ->  +79161230001" in out
    assert "Note: " in out and "default region" in out
    assert not RecipientList.objects.exists()


def test_the_next_file_with_the_same_columns_is_read_like_the_last_list():
    run(str(RECIPIENTS / "two_id_columns.csv"), "--name", "A", "--consent-basis", "opt_in",
        "--identity-order", "phone,username,user_id")  # fmt: skip

    run(str(RECIPIENTS / "two_id_columns.csv"), "--name", "B", "--consent-basis", "opt_in")

    assert RecipientList.objects.get(name="B").recipients.get(row_number=2).key == "+13125550131"


def test_a_refused_file_is_an_error_and_leaves_nothing(tmp_path):
    with pytest.raises(CommandError, match="The file was refused: no recipient rows"):
        run(str(RECIPIENTS / "header_only.csv"), "--name", "H", "--consent-basis", "opt_in")
    assert not RecipientList.objects.exists()


def test_a_file_over_the_row_limit_is_refused_and_nothing_is_kept(settings):
    settings.TGC_IMPORT_MAX_ROWS = 3

    with pytest.raises(CommandError, match="TGC_IMPORT_MAX_ROWS"):
        run(str(RECIPIENTS / "basic.csv"), "--name", "Long", "--consent-basis", "opt_in")

    assert not RecipientList.objects.exists() and not Recipient.objects.exists()


def test_it_names_the_columns_when_one_asked_for_is_not_there():
    with pytest.raises(
        CommandError, match="No column 'Phone'; the columns are 'recipient', 'first_name', 'city'"
    ):
        run(str(RECIPIENTS / "basic.csv"), "--consent-basis", "opt_in", "--column", "Phone=phone")


def test_it_says_which_known_export_it_recognised():
    out = run(str(RECIPIENTS / "google_export.csv"), "--name", "Google", "--consent-basis", "opt_in")
    assert "Recognised: Google Contacts" in out
