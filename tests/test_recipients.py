"""campaigns.lists.normalise: one raw value in, one key or one reason out (tests/data/cases/EXPECTED.md)."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from campaigns.lists.normalise import (
    NO_COUNTRY_CODE,
    PHONE,
    READINGS,
    USER_ID,
    USERNAME,
    Normalised,
    normalise,
)
from campaigns.models import RecipientKind


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("@alice_w", "@alice_w"),
        ("@Alice_W", "@alice_w"),
        ("alice_w", "@alice_w"),
        ("t.me/alice_w", "@alice_w"),
        ("https://t.me/dave_k2", "@dave_k2"),
        ("http://telegram.me/dave_k2?start=promo", "@dave_k2"),
        ("tg://resolve?domain=nina_q", "@nina_q"),
        ("  @henry_l  ", "@henry_l"),
        ("\ufeff@henry_l\u200b", "@henry_l"),
        ("@abcde", "@abcde"),
        ("@" + "a" * 32, "@" + "a" * 32),
    ],
)
def test_it_normalises_every_username_spelling_to_one_lowercase_key(raw, key):
    assert normalise(raw, None) == Normalised(key=key, kind=USERNAME)


@pytest.mark.parametrize(
    ("raw", "region", "key"),
    [
        ("+1 212 555 0123", None, "+12125550123"),
        ("+1 (202) 555-0143", None, "+12025550143"),
        ("+49 (0)30 1234567", None, "+49301234567"),
        ("0049301234567", None, "+49301234567"),
        ("0049301234567", "DE", "+49301234567"),
        ("030 1234567", "DE", "+49301234567"),
        ("030 1234567", "de", "+49301234567"),
        ("t.me/+79161234567", None, "+79161234567"),
    ],
)
def test_it_normalises_phones_to_e164(raw, region, key):
    assert normalise(raw, region) == Normalised(key=key, kind=PHONE)


@pytest.mark.parametrize(("raw", "key"), [("123456789", "123456789"), ("5234567890123", "5234567890123")])
def test_it_reads_bare_digits_as_a_user_id_not_a_phone(raw, key):
    assert normalise(raw, "DE") == Normalised(key=key, kind=USER_ID)


def test_it_reads_bare_digits_in_a_phone_column_as_a_phone_whose_plus_was_dropped():
    assert normalise("13125550111", None, phone_column=True) == Normalised(key="+13125550111", kind=PHONE)


def test_it_falls_back_to_the_default_region_for_national_digits_in_a_phone_column():
    assert normalise("2125550123", "US", phone_column=True) == Normalised(key="+12125550123", kind=PHONE)


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("@abc", None, "username too short: 3 characters, Telegram needs 5–32"),
        ("@1digitfirst", None, "username must start with a letter"),
        ("@bad-dash", None, "username may contain only a–z, 0–9 and _ (found '-')"),
        ("@ends_with_", None, "username cannot end with an underscore"),
        ("@" + "x" * 33, None, "username too long: 33 characters, Telegram allows at most 32"),
        ("030 1234567", None, "no country code: set the list's default region or write +…"),
        ("+999 123", None, "unknown country code"),
        ("+44 7700 900123", None, "not a valid phone number: +447700900123 is not a number in use in GB"),
        ("", None, "empty recipient"),
        ("   ", None, "empty recipient"),
        ("-1001234567890", None, "a channel, not a user"),
        ("-4012345", None, "a group chat, not a user"),
        ("t.me/+AbCdEfGhIjKlMnOp", None, "an invite link, not a user"),
        ("https://t.me/joinchat/AbCdEf", None, "an invite link, not a user"),
        ("https://t.me/some_channel/42", None, "a message link, not a user"),
        ("alice@example.com", None, "an e-mail address, not a Telegram recipient"),
        ("John Smith", None, "not a username, phone number or user id"),
        ("4503599627370496", None, "too large for a Telegram user id (at most 52 bits)"),
    ],
)
def test_it_gives_each_invalid_recipient_its_own_reason(raw, region, reason):
    result = normalise(raw, region)
    assert result == Normalised(error=reason)
    assert not result.is_valid


def test_its_kinds_are_the_models_recipient_kinds():
    assert {USERNAME, PHONE, USER_ID} == set(RecipientKind.values)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("tg://user?id=abc", "a user id is written in digits 0–9 only"),
        ("tg://user?id=１２３", "a user id is written in digits 0–9 only"),
        ("9" * 17, "too long for a user id: 17 digits, a Telegram user id has at most 16"),
        ("9" * 5000, "too long for a user id: 5000 digits, a Telegram user id has at most 16"),
        (
            "tg://user?id=" + "9" * 5000,
            "too long for a user id: 5000 digits, a Telegram user id has at most 16",
        ),
        ("tg://[broken", "not a valid Telegram link"),
    ],
)
def test_it_reports_a_malformed_user_id_or_link_instead_of_raising(raw, reason):
    assert normalise(raw) == Normalised(error=reason)


@pytest.mark.parametrize("raw", ["+1 212 555 0123 ext. 45", "+1 212 555 0123 x45", "+49 30 1234567;ext=9"])
def test_it_refuses_a_phone_with_an_extension_instead_of_dropping_the_extension(raw):
    assert normalise(raw) == Normalised(
        error="phone numbers with an extension cannot be messaged on Telegram"
    )


# Arbitrary text, and arbitrary text behind each spelling's prefix so every parser is reached.
_PREFIXES = [
    "",
    "'",
    '="',
    "8",
    "1",
    "@",
    "+",
    "00",
    "-100",
    "t.me/",
    "t.me/+",
    "https://t.me/",
    "tg://",
    "tg://user?id=",
    "tg://resolve?phone=",
]
_RAW = st.builds(lambda prefix, rest: prefix + rest, st.sampled_from(_PREFIXES), st.text())


@given(
    raw=_RAW, region=st.sampled_from([None, "DE", "US", "RU", "xx", ""]), reading=st.sampled_from(READINGS)
)
@example(raw="9" * 5000, region=None, reading="any")
@example(raw="tg://user?id=abc", region=None, reading="any")
@example(raw='="', region=None, reading="any")
@example(raw="'", region=None, reading="user_id")
@settings(max_examples=500, deadline=None)
def test_normalise_never_raises_and_gives_a_key_or_a_reason(raw, region, reading):
    result = normalise(raw, region, reading=reading)

    assert isinstance(result, Normalised)
    assert bool(result.key) != bool(result.error)


# Phones in a column of phones (issue 8, fault 1) -------------------------------------------------
@pytest.mark.parametrize("reading", ["phone", "any"])
@pytest.mark.parametrize(
    ("raw", "region", "key"),
    [
        ("(646) 555-0140", "US", "+16465550140"),  # was +6465550140, a number in NZ
        ("646-555-0140", "US", "+16465550140"),
        ("89161230001", "RU", "+79161230001"),
        ("030 1234567", "DE", "+49301234567"),
    ],
)
def test_national_digits_are_read_in_the_lists_region_before_anything_else(raw, region, reading, key):
    assert normalise(raw, region, reading=reading).key == key


def test_bare_digits_in_a_phone_column_are_read_in_the_region_before_as_a_dropped_plus():
    assert normalise("6465550140", "US", reading="phone").key == "+16465550140"


@pytest.mark.parametrize(
    ("raw", "region", "key"),
    [
        ("4915112345678", None, "+4915112345678"),
        ("4915112345678", "DE", "+4915112345678"),  # no trunk 0: not a German national number
        ("4915112345678", "US", "+4915112345678"),
        ("13125550111", "DE", "+13125550111"),
    ],
)
def test_a_phone_whose_plus_a_spreadsheet_dropped_is_read_as_international_when_valid_so(raw, region, key):
    assert normalise(raw, region, reading="phone") == Normalised(key=key, kind=PHONE)


def test_a_column_of_international_numbers_tries_the_dropped_plus_first():
    # 6465550140 is valid in the US and, with a +, in New Zealand: the column decides.
    assert normalise("6465550140", "US", reading="phone_international").key == "+6465550140"
    assert normalise("6465550140", "US", reading="phone").key == "+16465550140"


@pytest.mark.parametrize("reading", ["phone", "any"])
@pytest.mark.parametrize("raw", ["(312) 555-0180", "312 555 0180", "030 1234567"])
def test_a_national_number_without_a_region_asks_for_the_region_or_a_plus(raw, reading):
    assert normalise(raw, None, reading=reading) == Normalised(error=NO_COUNTRY_CODE)
    assert NO_COUNTRY_CODE == "no country code: set the list's default region or write +…"


def test_a_phone_written_without_the_trunk_prefix_is_still_a_phone_in_a_phone_column():
    assert normalise("9161230001", "RU", reading="phone").key == "+79161230001"


# National digits are not user ids (fault 6) ------------------------------------------------------
def test_national_digits_without_a_region_are_not_taken_as_a_user_id():
    result = normalise("89161230001", None)

    assert not result.is_valid
    assert "RU" in result.error and "+79161230001" in result.error and "default region" in result.error


def test_digits_that_are_a_phone_in_the_region_are_a_phone_and_marked_ambiguous():
    assert normalise("5123456789", "US") == Normalised(key="+15123456789", kind=PHONE, ambiguous=True)
    assert normalise("5123456789", "US", reading="user_id") == Normalised(key="5123456789", kind=USER_ID)


@pytest.mark.parametrize(
    ("raw", "region"), [("5234567890123", "DE"), ("123456789", "US"), ("85291234567", None)]
)
def test_digits_that_are_no_national_phone_stay_a_user_id(raw, region):
    assert normalise(raw, region) == Normalised(key=raw, kind=USER_ID)


# Spreadsheet damage (fault 5) --------------------------------------------------------------------
SCIENTIFIC = "is a number in scientific notation: the spreadsheet kept only 6 significant digits"


@pytest.mark.parametrize(
    ("raw", "reading", "key"),
    [
        ("4915112345678.0", "phone", "+4915112345678"),
        ("+49 1511 2345671.0", "phone", "+4915112345671"),
        ("'+4915112345679", "phone", "+4915112345679"),
        ('="+4915112345670"', "phone", "+4915112345670"),
        ("'@alice_w", "any", "@alice_w"),
        ("123456789.0", "user_id", "123456789"),
        ("123456789.0", "any", "123456789"),
        ("1,234,567", "user_id", "1234567"),
        ("1.234.567", "user_id", "1234567"),
        ("1 234 567", "user_id", "1234567"),
        ("1,234,567", "any", "1234567"),
        ('="123456789"', "user_id", "123456789"),
    ],
)
def test_spreadsheet_damage_that_kept_the_digits_is_undone(raw, reading, key):
    assert normalise(raw, None, reading=reading).key == key


@pytest.mark.parametrize(
    ("raw", "reading"), [("4.91511E+12", "phone"), ("1.23457E+11", "user_id"), ("4,91511E+12", "any")]
)
def test_scientific_notation_is_refused_saying_digits_were_lost_and_how_to_fix_the_sheet(raw, reading):
    result = normalise(raw, None, reading=reading)

    assert result.error.startswith(f"{raw} {SCIENTIFIC}")
    assert "Format the column as text" in result.error


def test_a_float_suffix_never_adds_a_digit():
    assert normalise("4915112345678.0", None, reading="phone").key != "+49151123456780"
    assert normalise("4915112345678.0", None, reading="any").key == "4915112345678"


# Reasons name what is wrong (fault 7) ------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "reading", "reason"),
    [
        ("0", "any", "0 is not a user id or a phone number"),
        ("0", "user_id", "0 is not a user id"),
        ("0", "phone", "0 is not a user id or a phone number"),
        (
            "1e9",
            "any",
            "1e9 is a number in scientific notation: the spreadsheet kept only 1 significant digit",
        ),
        ("012", "any", "too short for a phone number: 3 digits"),
        ("12345", "username", "digits only: a username starts with a letter"),
        ("alice_w", "phone", "not a phone number (the column holds phone numbers)"),
        ("alice_w", "user_id", "not a user id: a user id is a number (the column holds user ids)"),
        ("030 1234567", "user_id", "not a user id: a user id is digits only"),
        ("0123", "user_id", "a user id does not start with 0"),
    ],
)
def test_each_reason_names_what_is_actually_wrong(raw, reading, reason):
    assert normalise(raw, None, reading=reading).error.startswith(reason)


@given(
    digits=st.text(alphabet="0123456789", min_size=1, max_size=15),
    prefix=st.sampled_from(["", "0", "1", "8", "49", "7", "011", "810", "00"]),
    region=st.sampled_from(["US", "CA", "DE", "FR", "RU", "IN", "NL", "GB", "BR", "IT"]),
)
@settings(max_examples=3000, deadline=None)
def test_the_quick_national_number_reading_agrees_with_phonenumbers(digits, prefix, region):
    import phonenumbers

    from campaigns.lists.phones import quick_national

    compact = prefix + digits
    quick = quick_national(compact, region)
    if quick is None:
        return  # the shortcut does not apply: phonenumbers parses it
    try:
        number = phonenumbers.parse(compact, region)
        expected = phonenumbers.format_number(number, 0) if phonenumbers.is_valid_number(number) else ""
    except phonenumbers.NumberParseException:
        expected = ""
    assert quick == expected


@given(
    national=st.integers(min_value=1, max_value=10**12),
    code=st.sampled_from([1, 7, 44, 49, 33, 39, 55, 61, 81, 91, 262, 590]),
    region=st.sampled_from([None, "US", "CA", "RU", "GB", "DE"]),
)
@settings(max_examples=3000, deadline=None)
def test_the_phone_validity_check_agrees_with_phonenumbers(national, code, region):
    import phonenumbers

    from campaigns.lists.phones import _is_valid

    number = phonenumbers.PhoneNumber(country_code=code, national_number=national)
    assert _is_valid(number, region) == phonenumbers.is_valid_number(number)


def test_the_phone_validity_check_agrees_with_phonenumbers_on_every_regions_example_numbers():
    import phonenumbers

    from campaigns.lists.phones import _is_valid

    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            for delta in (0, 1, 7, 10**4):
                number = phonenumbers.PhoneNumber(
                    country_code=example.country_code, national_number=example.national_number + delta
                )
                for hint in (None, region, "US"):
                    assert _is_valid(number, hint) == phonenumbers.is_valid_number(number), (
                        region,
                        number,
                        hint,
                    )
                    checked += 1
    assert checked > 2000


@pytest.mark.parametrize(
    ("raw", "region", "reading", "key"),
    [
        # Windows' contact cards and Outlook wrap numbers in bidi embedding marks (U+202A … U+202C).
        ("\u202a+4915123456702\u202c", None, "any", "+4915123456702"),
        ("\u2066+49 151 23456703\u2069", None, "phone", "+4915123456703"),
        ("\u202b0151 23456704\u202c", "DE", "phone", "+4915123456704"),
        # Full-width digits and plus, as a Japanese or Chinese input method writes them.
        ("＋４９１５１２３４５６７０５", None, "any", "+4915123456705"),
        ("０９０−１２３４−５６７８", "JP", "phone", "+819012345678"),
        ("０９０（１２３４）５６７８", "JP", "phone", "+819012345678"),
        # Arabic-Indic and Persian digits without a plus, national and international.
        ("٠١٥١٢٣٤٥٦٧٠٦", "DE", "phone", "+4915123456706"),
        ("۰۹۱۲ ۳۴۵ ۶۷۸۹", "IR", "phone", "+989123456789"),
        ("٠٠٤٩١٥١٢٣٤٥٦٧٠٧", None, "any", "+4915123456707"),
        ("٤٩١٥١٢٣٤٥٦٧٠٨", None, "phone", "+4915123456708"),
        ("१२३४५६७८९", None, "user_id", "123456789"),
    ],
)
def test_a_phone_or_id_in_other_scripts_digits_or_wrapped_in_bidi_marks_is_read_as_it_shows(
    raw, region, reading, key
):
    assert normalise(raw, region, reading=reading).key == key


@pytest.mark.parametrize(
    ("raw", "region", "reading", "found"),
    [
        ("Tel: +4915123456702", None, "phone", "+4915123456702"),
        ("Mob. +49 151 23456703", None, "any", "+4915123456703"),
        ("+49 151 23456701 (mobile)", None, "phone", "+4915123456701"),
        ("fax +49 30 1234567", None, "phone", "+49301234567"),
        ("call 0151 23456705 after 5", "DE", "phone", "+4915123456705"),
        ("+49 151 23456708 or +49 151 23456709", None, "phone", "+4915123456708"),
    ],
)
def test_a_phone_number_with_words_around_it_is_refused_naming_the_number_and_the_fix(
    raw, region, reading, found
):
    result = normalise(raw, region, reading=reading)

    assert not result.is_valid
    assert found in result.error and "keep only the number" in result.error
