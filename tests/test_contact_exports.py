"""Contact exports from where people keep them (shared/cases/recipients, section "contact exports"
of EXPECTED.md): each file imported as staff would, its recipients and reasons as EXPECTED.md says.

Each file is read by its own format's reader and each row by its own evidence (country, consent,
several numbers, headers in the user's language) — issue 17."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from campaigns.lists.importing import ImportRefused, import_recipient_list
from campaigns.models import Recipient, RecipientList

RECIPIENTS = Path(__file__).resolve().parent / "data" / "cases" / "recipients"


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


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(EXPECTED_KEYS))
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


def _rows(recipient_list: RecipientList) -> dict[int, Recipient]:
    return {r.row_number: r for r in recipient_list.recipients.all()}


def _by_key(recipient_list: RecipientList) -> dict[str, Recipient]:
    return {r.key: r for r in recipient_list.recipients.filter(status=Recipient.Status.VALID)}


@pytest.mark.django_db
def test_a_google_export_reads_each_row_by_its_own_country_and_its_mobile_first():
    recipient_list = _import("google_export.csv")
    people = _by_key(recipient_list)

    assert people["+447400123456"].fields["first_name"] == "Joe"
    assert people["+14155550132"].fields["last_name"] == "Doe"
    assert people["+447400123456"].fields["city"] == "London"
    assert people["+79123456701"].fields["first_name"] == "Иван"
    assert people["+493012345671"].fields["first_name"] == ""
    # Otto's "* Mobile" (Phone 2) is his key; his work number (Phone 1) his other identity.
    otto = people["+4915123456704"]
    assert list(otto.other_identities.values_list("key", flat=True)) == ["+493012345670"]
    # Max's one cell of two numbers: the first is his key, the second his other number.
    assert list(people["+4915123456702"].other_identities.values_list("key", flat=True)) == ["+4915123456703"]
    fred = recipient_list.recipients.get(fields__first_name="Fred")
    assert (fred.status, fred.error) == (Recipient.Status.INVALID, "no phone number")
    assert recipient_list.report["recognised"] == "Google Contacts export"


@pytest.mark.django_db
def test_an_outlook_export_uses_the_business_phone_of_a_contact_without_a_mobile():
    recipient_list = _import("outlook_export.csv")
    people = _by_key(recipient_list)

    assert [
        people[k].fields["first_name"] + " " + people[k].fields["last_name"]
        for k in ("+493012345672", "+46701234567")
    ] == [
        "Jürgen Groß",
        "Björn Ångström",
    ]
    assert list(people["+46701234567"].other_identities.values_list("key", flat=True)) == ["+46812345678"]
    renee = recipient_list.recipients.get(fields__first_name="Renée")
    assert (renee.status, renee.error) == (Recipient.Status.INVALID, "no phone number")
    assert recipient_list.report["recognised"] == "Outlook contacts export"


@pytest.mark.django_db
def test_german_headers_give_names_phone_country_and_consent():
    recipient_list = _import("german_headers.csv")
    refused = {
        r.fields["first_name"] + " " + r.fields["last_name"]: r.error
        for r in recipient_list.recipients.filter(status=Recipient.Status.INVALID)
    }

    assert refused == {
        "Erika Mustermann": "no consent (column Newsletter says 'nein')",
        "Anna Beispiel": "no consent (column Newsletter says 'nein')",
        "Fritz Fröhlich": "no consent (column Newsletter says 'nein')",
    }
    juergen = _by_key(recipient_list)["+436641234569"]
    assert (juergen.fields["first_name"], juergen.fields["last_name"], juergen.fields["country"]) == (
        "Jürgen",
        "Groß",
        "Österreich",
    )
    assert recipient_list.mapping["roles"] == ["first_name", "last_name", "phone", "country", "consent"]


@pytest.mark.django_db
def test_a_shopify_export_without_its_consent_column_imports_every_row_with_a_phone():
    from campaigns.lists.mapping import Mapping

    headers = (RECIPIENTS / "shop_customers.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    roles = ["field"] * len(headers)
    roles[headers.index("Phone")] = roles[headers.index("Default Address Phone")] = "phone"
    roles[headers.index("Default Address Country Code")] = "country"
    recipient_list = _import("shop_customers.csv", mapping=Mapping(roles=tuple(roles)))

    assert _valid_keys(recipient_list) == sorted(
        [*EXPECTED_KEYS["shop_customers.csv"][1], "+447400123503", "+4915123456772", "+14155550193"]
    )
    richard = recipient_list.recipients.get(row_number=9)
    assert (richard.status, richard.error) == (Recipient.Status.INVALID, "no phone number")


@pytest.mark.django_db
def test_a_shopify_export_skips_rows_without_sms_consent_and_keeps_zip_codes_as_text():
    from campaigns.lists.columns import guess_roles
    from campaigns.lists.mapping import Mapping

    headers = _headers("shop_customers.csv")
    roles = guess_roles(headers)
    roles[headers.index("Default Address Zip")] = "field"  # chosen by staff: a known export ignores it
    recipient_list = _import("shop_customers.csv", mapping=Mapping(roles=tuple(roles)))
    refused = {
        r.fields["first_name"]: r.error
        for r in recipient_list.recipients.filter(status=Recipient.Status.INVALID)
    }

    assert refused == dict.fromkeys(
        ["Fred", "Erika", "Richard", "Mary"], "no consent (column Accepts SMS Marketing says 'no')"
    )
    people = _by_key(recipient_list)
    assert people["+16175550191"].fields["default_address_zip"] == "02108"
    assert people["+16175550191"].fields["city"] == "Boston"
    # Jill's address phone is no number, but it is not her key: a note on her valid row.
    assert "Default Address Phone" in people["+447400123502"].error
    # Customer IDs are never Telegram user ids.
    assert not recipient_list.recipients.filter(key__startswith="7012345").exists()
    assert recipient_list.report["recognised"] == "Shopify customers export"


@pytest.mark.django_db
def test_a_country_the_app_cannot_read_is_reported_on_its_row_not_replaced_by_the_default(tmp_path):
    path = tmp_path / "countries.csv"
    path.write_text(
        "Name,Phone,Country\nJoe,07400 123459,United Kingdom\nAnn,0151 23456741,Narnia\nBea,0151 23456742,\n"
    )
    recipient_list = RecipientList.objects.create(name="c", consent_basis="opt_in")
    import_recipient_list(recipient_list, path, default_region="DE")
    rows = _rows(recipient_list)

    assert rows[2].key == "+447400123459"
    assert (rows[3].status, rows[3].error) == (
        Recipient.Status.INVALID,
        "country “Narnia” in column Country is not one the app can read: write its ISO code (such as GB) "
        "or its name",
    )
    assert rows[4].key == "+4915123456742"  # no country on the row: the list's default region


@pytest.mark.django_db
def test_a_uk_national_number_in_a_us_list_says_it_was_read_with_the_wrong_country(tmp_path):
    path = tmp_path / "uk.csv"
    path.write_text("phone,country\n07700 900123,\n07700 900124,US\n")
    recipient_list = RecipientList.objects.create(name="c", consent_basis="opt_in")
    import_recipient_list(recipient_list, path, default_region="US")
    rows = _rows(recipient_list)

    assert rows[2].error == (
        "written without a country code and not a number of the United States (the list's default region): "
        "check the number or write it with +…"
    )
    assert rows[3].error == (
        "written without a country code and not a number of the United States (the row's country): "
        "check the number or write it with +…"
    )
    assert "+1077" not in rows[2].error + rows[3].error


@pytest.mark.django_db
def test_a_time_zone_column_in_any_language_is_kept_as_the_rows_time_zone(tmp_path):
    path = tmp_path / "zones.csv"
    path.write_text(
        "Vorname;Handy;Zeitzone\nMax;+49 1512 3456701;Europe/Berlin\nEva;+49 1512 3456702;Mars/Olympus\n"
    )
    recipient_list = RecipientList.objects.create(name="z", consent_basis="opt_in")
    import_recipient_list(recipient_list, path)
    rows = _rows(recipient_list)

    assert rows[2].fields == {"first_name": "Max", "time_zone": "Europe/Berlin"}
    assert rows[3].error == (
        "unknown time zone “Mars/Olympus” in column “Zeitzone” (use an IANA name such as Europe/Berlin)"
    )


def _headers(name: str) -> list[str]:
    import csv

    with open(RECIPIENTS / name, encoding="utf-8-sig", newline="") as f:
        return next(csv.reader(f))


def test_a_google_export_keeps_by_default_only_identities_evidence_canonical_fields_and_tags():
    from campaigns.lists.columns import guess_roles

    headers = _headers("google_export.csv")
    roles = dict(zip(headers, guess_roles(headers), strict=True))

    assert [h for h, role in roles.items() if role == "field"] == []
    for header in ("Phonetic Middle Name", "Photo", "Birthday", "Nickname", "Address 1 - PO Box"):
        assert roles[header] == "ignore", header
    assert roles["Labels"] == "tags"  # Google's groups (issue 20), its system groups dropped on import
    assert (roles["First Name"], roles["Last Name"], roles["E-mail 1 - Value"]) == (
        "first_name",
        "last_name",
        "email",
    )
    assert (roles["Phone 1 - Value"], roles["Phone 1 - Label"]) == ("phone", "phone_label")
    assert (roles["Address 1 - Country"], roles["Address 1 - City"]) == ("country", "city")


def test_a_file_no_export_names_still_keeps_every_other_column_as_a_field():
    from campaigns.lists.columns import guess_roles

    assert guess_roles(["Telegram", "Nickname", "Total Spent"]) == ["any", "field", "field"]


@pytest.mark.django_db
def test_fields_staff_keep_from_a_known_export_are_named_in_lower_snake_case_like_the_canonical_ones():
    from campaigns.lists.columns import guess_roles
    from campaigns.lists.mapping import Mapping

    headers = _headers("google_export.csv")
    roles = guess_roles(headers)
    for header in ("Nickname", "Address 1 - PO Box", "Organization Title", "Labels"):
        roles[headers.index(header)] = "field"
    recipient_list = _import("google_export.csv", mapping=Mapping(roles=tuple(roles)))

    columns = recipient_list.report["columns"]
    assert {"nickname", "address_1_po_box", "organization_title", "labels", "first_name"} <= set(columns)
    assert all(name == name.lower() and " " not in name and "-" not in name for name in columns), columns
    erika = recipient_list.recipients.get(row_number=2)
    assert erika.fields["labels"] == "* myContacts ::: Kunden"
    assert "Nickname" not in erika.fields and "Photo" not in erika.fields and "photo" not in erika.fields
