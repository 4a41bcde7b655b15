"""``manage.py loaddemo`` (issue 19 item 8): the demo gives a Marketing login beside the
administrator's, so someone trying it as a marketer sees the marketer's pages, not the superuser's
(AXES, DJANGO Q2, resolved peers)."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from campaigns.people.roles import MARKETING


def _load_demo() -> str:
    out = io.StringIO()
    call_command("loaddemo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_demo_prints_a_marketing_login_that_sees_only_the_marketers_pages():
    output = _load_demo()
    found = re.search(r"^Marketing login: (\S+) / (\S+)$", output, re.M)
    assert found, output
    username, password = found.groups()
    marketer = User.objects.get(username=username)
    assert not marketer.is_superuser and marketer.is_staff
    assert list(marketer.groups.values_list("name", flat=True)) == [MARKETING]

    client = Client()
    assert client.login(username=username, password=password)
    home = client.get("/admin/").content.decode()
    assert "Campaigns" in home and "Recipient lists" in home
    for hidden in ("Axes", "Django Q", "Resolved peers", "Telegram sessions"):
        assert hidden.lower() not in home.lower(), hidden


@pytest.mark.django_db
def test_loading_the_demo_again_keeps_the_marketers_password_and_says_so():
    first = re.search(r"^Marketing login: (\S+) / (\S+)$", _load_demo(), re.M)
    again = _load_demo()
    assert "Marketing login: marketer (existing password kept" in again
    assert Client().login(username=first.group(1), password=first.group(2))


@pytest.mark.django_db
def test_the_demo_lists_consent_note_names_a_file_of_the_checkout():
    # Issue (newuser): the note named shared/cases/recipients/basic.csv, a path no checkout has.
    from pathlib import Path

    from campaigns.models import RecipientList

    _load_demo()
    note = RecipientList.objects.get(name="Demo: basic.csv").consent_note
    named = re.search(r"from (\S+\.csv)", note)
    assert named, note
    assert (Path(__file__).resolve().parent.parent / named.group(1)).is_file(), note


@pytest.mark.django_db
def test_loading_the_demo_again_after_its_launch_says_how_to_send_it_again():
    from campaigns.models import Campaign, CampaignStatus

    assert "launched before" not in _load_demo()  # a fresh demo's campaign is a draft
    Campaign.objects.filter(status=CampaignStatus.DRAFT).update(status=CampaignStatus.COMPLETED)

    again = _load_demo()

    assert "completed" in again and "Clone selected campaigns (as new drafts)" in again
