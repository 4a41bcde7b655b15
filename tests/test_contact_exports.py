"""Contact exports from where people keep them (shared/cases/recipients, section "contact exports"
of EXPECTED.md): each file imported as staff would, its recipients and reasons as EXPECTED.md says.

Issue 17 asks for these outcomes; until it lands each is a strict expected failure, so a case that
starts passing is noticed (and its mark removed)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from campaigns.lists.importing import ImportRefused, import_recipient_list
from campaigns.models import Recipient, RecipientList

RECIPIENTS = Path(__file__).resolve().parent / "data" / "cases" / "recipients"
ISSUE_17 = pytest.mark.xfail(strict=True, reason="issue 17: contacts from real exports")


def _import(name: str, **kwargs) -> RecipientList:
    recipient_list = RecipientList.objects.create(name=name, consent_basis="opt_in")
    try:
        import_recipient_list(recipient_list, RECIPIENTS / name, **kwargs)
    except ImportRefused as exc:  # the outcome below names what should have been read
        pytest.fail(f"{name} was refused: {exc}")
    return recipient_list


def _valid_keys(recipient_list: RecipientList) -> list[str]:
    return sorted(
        recipient_list.recipients.filter(status=Recipient.Status.VALID).values_list("key", flat=True)
    )


EXPECTED_KEYS = {
    "google_export.csv": (
        {},
        [
            "+4915123456701",
            "+4915123456702",
            "+447400123456",
            "+14155550132",
            "+4915123456704",
            "+33612345681",
            "+493012345671",
            "+393123456701",
            "+34612345671",
            "+79123456701",
        ],
    ),
    "outlook_export.csv": (
        {},
        [
            "+4915123456711",
            "+14155550141",
            "+34612345672",
            "+33612345682",
            "+493012345672",
            "+46701234567",
            "+436641234568",
            "+4520123456",
            "+33612345683",
        ],
    ),
    "phone_contacts.vcf": (
        {"default_region": "DE"},
        [
            "+4915123456721",
            "+14155550151",
            "+4915123456722",
            "+79123456702",
            "+447400123471",
            "+14155550152",
            "+4915123456723",
            "+34612345673",
            "+393123456702",
        ],
    ),
    "telegram_export.json": (
        {},
        [
            "+4915123456731",
            "+447400123481",
            "+436641234570",
            "+79123456703",
            "+14155550161",
            "+4915123456732",
            "+4915123456733",
            "+34612345674",
        ],
    ),
    "crm_countries.csv": (
        {},
        [
            "+4915123456741",
            "+493012345673",
            "+491712345674",
            "+447400123459",
            "+442079460457",
            "+14155550171",
            "+33612345684",
            "+33123456780",
            "+5511961234569",
            "+918123456791",
            "+918123456793",
            "+5521961234570",
        ],
    ),
    "workbook_cover_sheet.xlsx": (
        {},
        [
            "@max_example",
            "+4915123456752",
            "@joe_bloggs_example",
            "+14155550181",
            "@john_doe_example",
            "@lieschen_example",
            "+33612345691",
            "+5511961234591",
            "@anna_beispiel",
        ],
    ),
    "german_headers.csv": (
        {},
        [
            "+4915123456761",
            "+436641234569",
            "+4915123456762",
            "+436761234560",
            "+4915123456763",
            "+4915123456764",
            "+4369912345678",
        ],
    ),
    "shop_customers.csv": (
        {},
        [
            "+16175550191",
            "+16175550192",
            "+447400123501",
            "+447400123502",
            "+4915123456771",
            "+491712345677",
            "+447400123504",
            "+491712345678",
        ],
    ),
}


# Read right since the formats and workbooks of issue 17 landed; the others wait for the rows'
# own countries, consent and several phone columns.
READ_RIGHT = {"phone_contacts.vcf", "telegram_export.json", "workbook_cover_sheet.xlsx"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=() if n in READ_RIGHT else ISSUE_17) for n in sorted(EXPECTED_KEYS)]
)
def test_each_contact_export_gives_exactly_its_recipients(name):
    options, keys = EXPECTED_KEYS[name]
    recipient_list = _import(name, **options)
    assert _valid_keys(recipient_list) == sorted(keys)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name, keys",
    [
        (
            "same_header_cp1252.csv",
            [
                "+420601123456",
                "+420601123457",
                "+4915123456781",
                "+33612345692",
                "+34612345675",
                "+4520123457",
                "+33612345693",
                "+351912345678",
            ],
        ),
        (
            "same_header_utf8.csv",
            [
                "+4915123456782",
                "+447400123511",
                "+14155550194",
                "+46701234568",
                "+3546111234",
                "+34612345676",
                "+33612345694",
                "+905012345678",
            ],
        ),
    ],
)
def test_each_same_header_file_alone_gives_its_recipients(name, keys):
    assert _valid_keys(_import(name)) == sorted(keys)


@pytest.mark.django_db
def test_a_utf8_file_after_a_windows_1252_file_with_the_same_header_is_still_read_as_utf8(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    for name in ("same_header_cp1252.csv", "same_header_utf8.csv"):
        call_command(
            "importrecipients",
            str(RECIPIENTS / name),
            "--name",
            name,
            "--consent-basis",
            "opt_in",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    recipient_list = RecipientList.objects.get(name="same_header_utf8.csv")
    names = set(recipient_list.recipients.values_list("fields__name", flat=True))
    assert {"Müller, Anna", "Çağla Öztürk", "Ólafur Þórsson"} <= names
