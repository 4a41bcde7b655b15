"""Time zones placed in bulk at launch (and in the launch summary's census) are exactly
:func:`campaigns.engine.window.zone_for`'s, row by row, on lists mixing every kind of recipient."""

from __future__ import annotations

from collections import Counter
from datetime import time

import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from phonenumbers.timezone import time_zones_for_number

from campaigns.engine import numberzones, window, zones
from campaigns.engine.launcher import materialise
from campaigns.models import MessageResult, Recipient, ResultStatus

from .conftest import make_campaign, make_list

REGIONS = ("DE", "FR", "GB", "JP", "IN", "AR", "ES", "CN", "US", "CA", "RU", "KZ", "AU", "BR", "MX", "ID")
TYPES = (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE, PhoneNumberType.VOIP)


def example_numbers(regions=REGIONS, types=TYPES) -> list[str]:
    """Valid E.164 numbers: each region's example of each type, and the same with other last digits."""
    found = []
    for region in regions:
        for kind in types:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is None:
                continue
            e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
            for ending in ("", "07", "93"):
                key = e164[: len(e164) - len(ending)] + ending
                if phonenumbers.is_valid_number(phonenumbers.parse(key, None)):
                    found.append(key)
    return list(dict.fromkeys(found))


def rows_of(tag: str, phones: list[str], column: str | None) -> list[tuple[str, dict]]:
    """Usernames, user ids and ``phones``; with ``column``, every row has a ``timezone`` cell in
    turn valid, naming no zone, and empty."""
    keys = [f"@{tag}_user_{i}" for i in range(6)] + [f"{tag_digits(tag)}{i:04d}" for i in range(6)] + phones
    cells = ("America/Chicago", "Mars/Olympus", "", "UTC+3", "Asia/Tokyo", " ")
    return [
        (key, {"first_name": "Ann"} | ({column: cells[i % len(cells)]} if column else {}))
        for i, key in enumerate(keys)
    ]


def tag_digits(tag: str) -> str:
    return str(5_000_000 + sum(map(ord, tag)) * 7)


def expected(recipient: Recipient) -> tuple[str, str]:
    return window.zone_for(
        recipient.key, recipient.kind, recipient.fields, recipient.recipient_list.default_time_zone
    )


LISTS = [  # (column, default zone)
    (None, "Europe/Madrid"),
    (None, ""),
    ("timezone", "Europe/Madrid"),
    ("Time Zone", ""),
]


@pytest.mark.django_db
@pytest.mark.parametrize("column,default", LISTS)
def test_the_zones_placed_at_launch_are_zone_for_s_row_by_row(alpha, column, default):
    phones = example_numbers()
    rl = make_list("mixed", rows_of("m", phones, column), default_time_zone=default)
    campaign = make_campaign("quiet", [rl], [alpha], send_window_start=time(9), send_window_end=time(20))
    materialise(campaign)  # as the launch does, past the launch check that refuses what nothing places
    assert_placed_as_zone_for(campaign)


@pytest.mark.django_db
@pytest.mark.parametrize("column,default", LISTS)
def test_a_window_set_after_the_launch_places_the_rows_as_zone_for_does(alpha, column, default):
    phones = example_numbers()
    rl = make_list("mixed", rows_of("w", phones, column), default_time_zone=default)
    campaign = make_campaign("quiet", [rl], [alpha])
    materialise(campaign)  # no window: no zones
    assert not MessageResult.objects.filter(campaign=campaign).exclude(time_zone="").exists()
    campaign.send_window_start, campaign.send_window_end = time(9), time(20)
    campaign.save()
    zones.assign_zones(campaign)  # as a resume does (its UPDATEs, not the launch's INSERT)
    assert_placed_as_zone_for(campaign)


@pytest.mark.django_db
def test_lists_with_and_without_a_zone_column_in_one_campaign_each_keep_their_own_rules(alpha):
    phones = example_numbers()
    half = len(phones) // 2
    lists = [
        make_list("plain", rows_of("p", phones[:half], None), default_time_zone="Asia/Tokyo"),
        make_list("columned", rows_of("c", phones[half:], "tz"), default_time_zone=""),
        make_list("before reports", rows_of("b", [], "timezone"), default_time_zone="Europe/Madrid"),
    ]
    lists[2].report = {}  # a list from before reports recorded its columns: its fields are read
    lists[2].save()
    campaign = make_campaign("quiet", lists, [alpha], send_window_start=time(9), send_window_end=time(20))
    materialise(campaign)  # as the launch does, past the launch check that refuses what nothing places
    assert_placed_as_zone_for(campaign)
    # The launch summary's census counts the same way as zone_for over every recipient.
    recipients = Recipient.objects.filter(recipient_list__in=lists).select_related("recipient_list")
    by_zone, how = Counter(), Counter()
    for recipient in recipients:
        zone, found = expected(recipient)
        by_zone[zone] += 1
        how[found] += 1
    assert zones.zone_census(campaign) == (by_zone, how)


def assert_placed_as_zone_for(campaign) -> None:
    rows = MessageResult.objects.filter(campaign=campaign).select_related("recipient__recipient_list")
    assert rows.count() > 40
    for row in rows:
        zone, _how = expected(row.recipient)
        if zone:
            assert (row.key, row.status, row.time_zone) == (row.key, ResultStatus.PENDING, zone)
        else:
            assert (row.key, row.status, row.error_code) == (row.key, ResultStatus.SKIPPED, "NO_TIME_ZONE")


@pytest.mark.django_db
def test_the_unplaced_phone_numbers_of_a_list_without_column_or_default_are_those_zone_for_guesses(alpha):
    phones = example_numbers()
    rl = make_list("bare", rows_of("u", phones, None))
    campaign = make_campaign("quiet", [rl], [alpha], send_window_start=time(9), send_window_end=time(20))
    guessed = sum(window.zone_for(key, "phone", None)[1] in (window.GUESS, window.NONE) for key in phones)
    assert guessed > 5
    (counts,) = zones.unplaced(campaign)
    assert (counts.phone, counts.identity) == (guessed, 12)


def test_calling_codes_of_one_zone_or_one_clock_are_sure_and_those_of_several_clocks_are_not():
    sure = window.sure_calling_codes()
    assert sure["49"] == "Europe/Berlin"
    assert sure["44"] == "Europe/London"
    assert sure["54"] == "America/Argentina/Buenos_Aires"  # several zones, one clock
    assert not {"1", "7", "55", "61"} & set(sure)
    assert window.sure_prefix_zone("491") == "Europe/Berlin"
    assert window.sure_prefix_zone("121") == window.sure_prefix_zone("49") == ""


def test_every_region_s_example_numbers_get_their_sure_calling_code_s_zone_from_zone_for():
    keys = example_numbers(sorted(phonenumbers.SUPPORTED_REGIONS), tuple(PhoneNumberType.values()))
    checked = 0
    for key in keys:
        if zone := window.sure_prefix_zone(key[1:4]):
            assert window.zone_for(key, "phone", None, "Europe/Madrid") == (zone, window.PHONE), key
            checked += 1
    assert checked > 500


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    region=st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)),
    kind=st.sampled_from(TYPES),
    ending=st.integers(min_value=0, max_value=9999),
)
def test_a_valid_number_of_a_sure_calling_code_gets_its_zone_from_zone_for(region, kind, ending):
    number = phonenumbers.example_number_for_type(region, kind)
    assume(number is not None)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    key = f"{e164[:-4]}{ending:04d}"
    assume(phonenumbers.is_valid_number(phonenumbers.parse(key, None)))
    zone = window.sure_prefix_zone(key[1:4])
    assume(zone)
    assert window.zone_for(key, "phone", None, "") == (zone, window.PHONE)


def phonenumbers_place(key: str) -> tuple[tuple[str, ...], str | None]:
    number = phonenumbers.parse(key, None)
    return tuple(time_zones_for_number(number)), phonenumbers.region_code_for_number(number)


def test_the_quick_zones_of_every_region_s_example_numbers_are_phonenumbers_own():
    keys = example_numbers(sorted(phonenumbers.SUPPORTED_REGIONS), tuple(PhoneNumberType.values()))
    answered = [(key, numberzones.place(key)) for key in keys]
    assert sum(found is not None for _key, found in answered) > 0.9 * len(keys)
    for key, found in answered:
        if found is not None:
            assert (tuple(found[0]), found[1]) == phonenumbers_place(key), key


@settings(max_examples=500, deadline=None)
@given(
    code=st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)),
    digits=st.text(alphabet="0123456789", min_size=1, max_size=18),
)
def test_the_quick_zones_of_any_number_are_phonenumbers_own_or_it_asks_phonenumbers(code, digits):
    key = f"+{code}{digits}"
    found = numberzones.place(key)
    if found is not None:
        assert (tuple(found[0]), found[1]) == phonenumbers_place(key)
