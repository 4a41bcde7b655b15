"""A phone typed without its country code where no recipient list reads it (a person's lookup,
erasure, the suppressions' *Add many*) is refused with what to do there, never with "set the
list's default region": there is no list (found walking the product as a new user)."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

NATIONAL = "0151 23456761"


def test_the_persons_api_asks_for_the_country_code_not_a_lists_region(api_for, olga):
    refused = api_for(olga).get("/api/v1/persons/0151%2023456761/")

    assert refused.status_code == 400
    assert "the list's" not in refused.json()["detail"]
    assert "+ and its country code" in refused.json()["detail"]


def test_erasing_a_person_asks_for_the_country_code_not_a_lists_region(client, otto):
    client.force_login(otto)

    page = client.post(reverse("admin:campaigns_suppression_erase"), {"identity": NATIONAL, "confirm": "on"})

    html = page.content.decode()
    assert "no country code" in html and "the list&#x27;s" not in html and "the list's" not in html


def test_add_many_points_at_its_own_default_region_field(client, otto):
    client.force_login(otto)

    page = client.post(reverse("admin:campaigns_suppression_bulk_add"), {"keys": NATIONAL, "reading": "any"})

    html = page.content.decode()
    assert "no country code: choose the default region above" in html
    assert "the list&#x27;s" not in html and "the list's" not in html
