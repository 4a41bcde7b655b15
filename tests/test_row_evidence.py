"""What a row carries beside its identities (issue 17 items 1, 4, 5, 9): the header languages,
country and consent readings, several numbers in one cell, known exports. No database."""

from __future__ import annotations

import pytest

from campaigns.lists.columns import guess_roles, phone_preference
from campaigns.lists.countries import region_of
from campaigns.lists.evidence import consent_refusal, nothing_reason, opt_out_refusal, split_values
from campaigns.lists.known import KNOWN_EXPORTS, KnownExport, recognise_export, register
from campaigns.lists.vocabulary import HEADERS
from campaigns.models.lists import NO_CONSENT_PREFIXES

# A contact table's header row in each language: first name, last name, mobile, country, consent.
HEADER_ROWS = {
    "en": ["First Name", "Last Name", "Mobile", "Country", "Newsletter"],
    "ru": ["Имя", "Фамилия", "Мобильный", "Страна", "Согласие"],
    "uk": ["Ім'я", "Прізвище", "Мобільний", "Країна", "Згода"],
    "de": ["Vorname", "Nachname", "Handy", "Land", "Einwilligung"],
    "fr": ["Prénom", "Nom", "Portable", "Pays", "Consentement"],
    "es": ["Nombre", "Apellidos", "Móvil", "País", "Consentimiento"],
    "pt": ["Nome", "Sobrenome", "Celular", "País", "Consentimento"],
    "it": ["Nome", "Cognome", "Cellulare", "Paese", "Consenso"],
    "tr": ["Adı", "Soyadı", "Cep Telefonu", "Ülke", "Onay"],
    "fa": ["نام", "نام خانوادگی", "موبایل", "کشور", "رضایت"],
    "ar": ["الاسم الأول", "اسم العائلة", "الجوال", "الدولة", "الموافقة"],
    "id": ["Nama Depan", "Nama Belakang", "Nomor HP", "Negara", "Persetujuan"],
    "hi": ["पहला नाम", "अंतिम नाम", "मोबाइल नंबर", "देश", "सहमति"],
}


def test_the_header_table_covers_the_languages_of_telegrams_largest_audiences():
    assert set(HEADER_ROWS) <= set(HEADERS)


@pytest.mark.parametrize("language", sorted(HEADER_ROWS))
def test_headers_in_each_language_give_names_phone_country_and_consent(language):
    assert guess_roles(HEADER_ROWS[language]) == ["first_name", "last_name", "phone", "country", "consent"]


@pytest.mark.parametrize(
    "value, region",
    [
        ("DE", "DE"),
        ("gb", "GB"),
        ("GBR", "GB"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        ("Deutschland", "DE"),
        ("Österreich", "AT"),
        ("osterreich", "AT"),
        ("Brasil", "BR"),
        ("Allemagne", "DE"),
        ("Германия", "DE"),
        ("Україна", "UA"),
        ("Türkiye", "TR"),
        ("ألمانيا", "DE"),
        ("+44", "GB"),
        ("44", "GB"),
        ("0049", "DE"),
    ],
)
def test_a_country_is_read_from_its_code_its_name_in_many_languages_or_its_dialling_code(value, region):
    assert region_of(value) == region


@pytest.mark.parametrize("value", ["Narnia", "", "  ", "+999", "Europe"])
def test_a_value_that_names_no_country_reads_as_none(value):
    assert region_of(value) is None


@pytest.mark.parametrize(
    "answer", ["yes", "Yes", "TRUE", "1", "ja", "Ja", "oui", "да", "sí", "si", "sim", "evet", "так"]
)
def test_a_consent_column_saying_yes_in_any_common_language_lets_the_row_through(answer):
    assert consent_refusal([answer], [(0, "Newsletter")]) == ""


@pytest.mark.parametrize("answer", ["no", "No", "false", "0", "nein", "non", "нет", "ні", "não", "hayır"])
def test_a_consent_column_saying_no_names_the_column_and_the_answer(answer):
    assert consent_refusal([answer], [(0, "Newsletter")]) == f"no consent (column Newsletter says '{answer}')"


def test_an_empty_or_unclear_consent_is_no_consent_and_says_why():
    assert consent_refusal([""], [(0, "Opt-in")]) == "no consent (column Opt-in is empty)"
    assert consent_refusal(["maybe"], [(0, "Opt-in")]) == (
        "no consent: column Opt-in says 'maybe', neither yes nor no (write yes or no)"
    )


@pytest.mark.parametrize(
    "refusal",
    [
        consent_refusal(["no"], [(0, "Newsletter")]),
        consent_refusal([""], [(0, "Opt-in")]),
        consent_refusal(["maybe"], [(0, "Opt-in")]),
        opt_out_refusal(["yes"], [(0, "Unsubscribed")]),
        opt_out_refusal(["2024-01-05"], [(0, "Unsubscribed")]),
    ],
)
def test_every_refusal_of_a_consent_or_opt_out_column_is_counted_as_no_consent(refusal):
    assert refusal and refusal.startswith(NO_CONSENT_PREFIXES)


@pytest.mark.parametrize("reason", [nothing_reason(["phone"]), nothing_reason(["any"]), "not a phone number"])
def test_no_other_reason_is_counted_as_no_consent(reason):
    assert not reason.startswith(NO_CONSENT_PREFIXES)


@pytest.mark.parametrize(
    "cell, values",
    [
        ("+49 1512 3456702 ::: +49 1512 3456703", ["+49 1512 3456702", "+49 1512 3456703"]),
        ("+49 1512 3456702\n0151 23456703", ["+49 1512 3456702", "0151 23456703"]),
        ("+49 1512 3456702; 0151 23456703", ["+49 1512 3456702", "0151 23456703"]),
        ("alice_w; bob", ["alice_w; bob"]),
        ("+49 1512 3456702", ["+49 1512 3456702"]),
    ],
)
def test_a_cell_of_several_values_is_split_where_unambiguous(cell, values):
    assert split_values(cell) == values


def test_a_mobile_comes_before_a_plain_phone_and_that_before_an_office_or_address_phone():
    mobile, plain, office = (
        phone_preference("Mobile Phone"),
        phone_preference("Phone"),
        phone_preference("Business Phone"),
    )
    assert mobile < plain < office
    assert phone_preference("Default Address Phone") > plain
    assert phone_preference("Phone 2 - Value", "* Mobile") < phone_preference("Phone 1 - Value", "Work")
    assert phone_preference("Phone 1 - Value", "Mobile") < phone_preference("Phone 1 - Value", "Home")


def test_a_row_without_identities_says_what_it_lacks():
    assert nothing_reason(["phone", "phone_international"]) == "no phone number"
    assert nothing_reason(["username", "phone"]) == "no username or phone number"
    assert nothing_reason(["any", "phone"]) == "no username, phone number or user id"


def test_google_labels_are_never_phones_and_fax_numbers_are_ignored():
    roles = guess_roles(
        ["Phone 1 - Label", "Phone 1 - Value", "Phonetic First Name", "Business Fax", "Mobile Phone Number"]
    )
    assert roles == ["phone_label", "phone", "field", "ignore", "phone"]


@pytest.mark.parametrize(
    "headers, name",
    [
        (
            ["First Name", "Last Name", "Labels", "Phone 1 - Label", "Phone 1 - Value"],
            "Google Contacts export",
        ),
        (
            ["Name", "Given Name", "Family Name", "Phone 1 - Type", "Phone 1 - Value"],
            "Google Contacts export (older layout)",
        ),
        (
            ["First Name", "Middle Name", "Last Name", "Home Phone", "Business Phone", "Mobile Phone"],
            "Outlook contacts export",
        ),
        (
            ["Record ID", "First Name", "Last Name", "Phone Number", "Mobile Phone Number"],
            "HubSpot contacts export",
        ),
        (
            ["Customer ID", "First Name", "Accepts Email Marketing", "Default Address Country Code", "Phone"],
            "Shopify customers export",
        ),
        (
            ["Email Address", "First Name", "Phone Number", "MEMBER_RATING", "OPTIN_TIME", "LEID", "CC"],
            "Mailchimp audience export",
        ),
    ],
)
def test_known_exports_are_recognised_by_their_header_row(headers, name):
    assert recognise_export(headers).name == name


def test_a_hubspot_record_id_is_never_a_user_id_and_its_mobile_is_a_phone():
    roles = guess_roles(
        ["Record ID", "First Name", "Last Name", "Phone Number", "Mobile Phone Number", "Country/Region"]
    )
    # Kept only if staff choose to: a known export's other columns start as ignored.
    assert roles == ["ignore", "first_name", "last_name", "phone", "phone", "country"]


def test_a_mailchimp_optin_time_is_not_a_consent_and_its_cc_is_the_country():
    roles = guess_roles(
        ["Email Address", "Phone Number", "MEMBER_RATING", "OPTIN_TIME", "LEID", "CC", "TIMEZONE"]
    )
    assert roles == ["email", "phone", "ignore", "ignore", "ignore", "country", "time_zone"]


def test_a_reader_of_another_format_registers_its_export(monkeypatch):
    monkeypatch.setattr("campaigns.lists.known.KNOWN_EXPORTS", list(KNOWN_EXPORTS))
    register(KnownExport("Telegram Desktop contacts export", frozenset({"firstname", "phonenumber", "date"})))
    assert (
        recognise_export(["first_name", "last_name", "phone_number", "date"]).name
        == "Telegram Desktop contacts export"
    )


def test_a_brazilian_postcode_column_is_no_phone():
    assert guess_roles(["Nome", "Celular", "CEP"]) == ["first_name", "phone", "field"]
