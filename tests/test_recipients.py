"""campaigns.lists.normalise: one raw value in, one key or one reason out (shared/cases/EXPECTED.md)."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from campaigns.lists.normalise import PHONE, USER_ID, USERNAME, Normalised, normalise
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
        ("030 1234567", None, "no country code: write the phone as +… or set the list's default region"),
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


@given(raw=_RAW, region=st.sampled_from([None, "DE", "US", "xx", ""]), phone_column=st.booleans())
@example(raw="9" * 5000, region=None, phone_column=False)
@example(raw="tg://user?id=abc", region=None, phone_column=False)
@settings(max_examples=500, deadline=None)
def test_normalise_never_raises_and_gives_a_key_or_a_reason(raw, region, phone_column):
    result = normalise(raw, region, phone_column=phone_column)

    assert isinstance(result, Normalised)
    assert bool(result.key) != bool(result.error)
