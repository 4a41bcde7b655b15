"""Issue 19 item 1: a save from a page opened before someone else's save is refused with what
changed since (tgcampaigns.edit_conflicts), on every edit form: campaigns, recipient lists,
sessions, seed lists, suppressions. Two "tabs" are two GETs of the change page; each posts the
form as its page shows it, with the version the page carries."""

from __future__ import annotations

import pytest
from django import forms
from django.urls import reverse

from campaigns.models import Campaign, SeedList, Suppression
from tests.conftest import make_campaign, make_list, make_session
from tgcampaigns.edit_conflicts import VERSION_FIELD

LONG_MESSAGE = "Spring sale: 30 % off everything with code SPRING30 until Sunday. " * 75


def open_page(client, url: str) -> dict:
    """The change form's data as the page shows it (what the browser would submit), with the
    version the page carries."""
    response = client.get(url)
    assert response.status_code == 200
    return page_data(response)


def page_data(response) -> dict:
    """What the page in ``response`` submits as it is shown (a refused page too)."""
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field.widget, forms.MultiWidget):
            parts = value if isinstance(value, list) else field.widget.decompress(value)
            data |= {f"{name}_{i}": "" if part is None else str(part) for i, part in enumerate(parts)}
        elif isinstance(field, forms.FileField):
            continue
        elif isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif isinstance(value, (list, tuple)):
            data[name] = [str(v) for v in value]
        elif value is not None:
            data[name] = value
    data[VERSION_FIELD] = response.context["edit_version"]
    return data


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def saved(response) -> bool:
    return response.status_code == 302


@pytest.fixture
def campaign(people, alpha):
    return make_campaign("Spring teaser", [people], [alpha], message=LONG_MESSAGE)


def test_a_stale_tab_cannot_revert_a_saved_message(client, olga, campaign):
    client.force_login(olga)
    url = change_url(campaign)
    tab_a, tab_b = open_page(client, url), open_page(client, url)

    assert saved(client.post(url, tab_a | {"message": "Spring sale ends today."}))
    refused = client.post(url, tab_b | {"name": "Spring teaser (final)"})

    assert refused.status_code == 200
    campaign.refresh_from_db()
    assert campaign.message == "Spring sale ends today." and campaign.name == "Spring teaser"
    error = str(refused.context["adminform"].form.non_field_errors())
    assert "Not saved" in error and "Changed since: Message" in error
    assert "Spring sale: 30 % off" in error and "Spring sale ends today." in error  # before / after
    assert f"({len(LONG_MESSAGE)} characters)" in error
    assert "saved again (by you, in another tab or window, at " in error
    assert "Reload the saved version" in error


def test_the_refused_page_keeps_ones_own_edits_and_saving_it_again_keeps_them(client, olga, campaign):
    client.force_login(olga)
    url = change_url(campaign)
    tab_a, tab_b = open_page(client, url), open_page(client, url)
    client.post(url, tab_a | {"message": "Spring sale ends today."})

    refused = client.post(url, tab_b | {"name": "Mine", "message": "My own wording."})
    form = refused.context["adminform"].form
    assert form["message"].value() == "My own wording." and form["name"].value() == "Mine"

    again = tab_b | {"name": "Mine", "message": "My own wording."}
    again[VERSION_FIELD] = refused.context["edit_version"]
    assert saved(client.post(url, again))
    campaign.refresh_from_db()
    assert (campaign.name, campaign.message) == ("Mine", "My own wording.")


def test_a_form_error_keeps_the_version_the_page_was_opened_with(client, olga, campaign):
    client.force_login(olga)
    url = change_url(campaign)
    tab_b = open_page(client, url)
    invalid = client.post(url, tab_b | {"name": ""})  # refused for the name alone
    assert invalid.status_code == 200 and "Changed since" not in str(invalid.content)

    client.post(url, open_page(client, url) | {"message": "Spring sale ends today."})  # tab A
    fixed = tab_b | {"name": "Renamed", VERSION_FIELD: invalid.context["edit_version"]}

    assert not saved(client.post(url, fixed))
    campaign.refresh_from_db()
    assert campaign.message == "Spring sale ends today."


def test_a_page_opened_after_the_last_save_saves(client, olga, campaign):
    client.force_login(olga)
    url = change_url(campaign)
    assert saved(client.post(url, open_page(client, url) | {"message": "First."}))
    assert saved(client.post(url, open_page(client, url) | {"name": "Second"}))
    campaign.refresh_from_db()
    assert (campaign.name, campaign.message) == ("Second", "First.")


def test_a_change_the_page_does_not_show_does_not_refuse_the_save(client, olga, campaign):
    """The engine writes a campaign's status and counts while staff edit it: not a conflict."""
    client.force_login(olga)
    url = change_url(campaign)
    tab = open_page(client, url)
    Campaign.objects.filter(pk=campaign.pk).update(status_reason="Set by the engine")

    assert saved(client.post(url, tab | {"name": "Renamed"}))


def test_a_tampered_version_is_not_trusted_and_a_post_without_one_is_not_checked(client, olga, campaign):
    client.force_login(olga)
    url = change_url(campaign)
    tab = open_page(client, url)
    assert saved(client.post(url, tab | {VERSION_FIELD: "forged", "name": "One"}))
    del tab[VERSION_FIELD]
    assert saved(client.post(url, tab | {"name": "Two"}))


# Every edit form: (the object, what tab A saves, what tab B then tries).
def _list():
    return make_list("shop", [("@alice_w", {})])


def _session():
    return make_session("gamma")


def _seeds():
    return SeedList.objects.create(name="Our phones", entries="@alice_w")


def _suppression():
    return Suppression.objects.create(key="@bob_k", note="asked by mail")


EDIT_FORMS = {
    "recipient list": (_list, {"consent_note": "Signed up at the till"}, {"name": "Shop (2026)"}),
    "session": (_session, {"weight": "3"}, {"name": "gamma-2"}),
    "seed list": (_seeds, {"entries": "@alice_w\n@erin_shop"}, {"name": "Team phones"}),
    "suppression": (_suppression, {"note": "asked by phone"}, {"key": "@bob_k2"}),
}


@pytest.mark.parametrize("kind", EDIT_FORMS)
def test_every_edit_form_refuses_a_save_from_a_stale_page(client, olga, kind):
    make, first, second = EDIT_FORMS[kind]
    obj = make()
    client.force_login(olga)
    url = change_url(obj)
    tab_a, tab_b = open_page(client, url), open_page(client, url)

    assert saved(client.post(url, tab_a | first))
    refused = client.post(url, tab_b | second)

    assert refused.status_code == 200, kind
    assert "Not saved" in str(refused.context["adminform"].form.non_field_errors())
    fresh = type(obj).objects.get(pk=obj.pk)
    for name, value in first.items():
        assert str(getattr(fresh, name)) == value, (kind, name)


def test_the_refused_page_shows_their_values_in_the_fields_you_did_not_change(client, olga, campaign):
    client.force_login(olga)
    url = change_url(campaign)
    tab_a, tab_b = open_page(client, url), open_page(client, url)
    client.post(url, tab_a | {"message": "Spring sale ends today."})

    refused = client.post(url, tab_b | {"name": "Spring teaser (final)"})

    form = refused.context["adminform"].form
    assert form["message"].value() == "Spring sale ends today."  # theirs: tab B never touched it
    assert form["name"].value() == "Spring teaser (final)"  # yours
    error = str(form.non_field_errors())
    assert "The fields you did not change now show theirs: Message." in error
    assert "will replace" not in error  # nothing of theirs would be replaced
    assert "save again to keep yours (they replace the changes above)" not in error


def test_saving_the_refused_page_again_keeps_both_edits(client, olga, campaign):
    client.force_login(olga)
    url = change_url(campaign)
    tab_a, tab_b = open_page(client, url), open_page(client, url)
    client.post(url, tab_a | {"message": "Spring sale ends today."})
    refused = client.post(url, tab_b | {"name": "Spring teaser (final)"})

    assert saved(client.post(url, page_data(refused)))
    campaign.refresh_from_db()
    assert (campaign.name, campaign.message) == ("Spring teaser (final)", "Spring sale ends today.")


def test_a_field_both_changed_keeps_yours_and_says_which_of_theirs_it_replaces(client, olga, campaign):
    client.force_login(olga)
    url = change_url(campaign)
    tab_a, tab_b = open_page(client, url), open_page(client, url)
    client.post(url, tab_a | {"message": "Spring sale ends today.", "priority": "7"})

    refused = client.post(url, tab_b | {"message": "My own wording."})

    form = refused.context["adminform"].form
    assert form["message"].value() == "My own wording." and str(form["priority"].value()) == "7"
    error = str(form.non_field_errors())
    assert "If you save again, your Message will replace theirs" in error
    assert "The fields you did not change now show theirs: Priority." in error
    assert "yours: “My own wording.”" in error
    assert saved(client.post(url, page_data(refused)))
    campaign.refresh_from_db()
    assert (campaign.message, campaign.priority) == ("My own wording.", 7)


def test_the_same_edit_made_in_both_tabs_saves(client, olga, campaign):
    client.force_login(olga)
    url = change_url(campaign)
    tab_a, tab_b = open_page(client, url), open_page(client, url)
    client.post(url, tab_a | {"message": "Spring sale ends today."})

    assert saved(client.post(url, tab_b | {"message": "Spring sale ends today.", "name": "Mine"}))
    campaign.refresh_from_db()
    assert (campaign.name, campaign.message) == ("Mine", "Spring sale ends today.")


def test_a_refused_page_has_one_banner_saying_you_saved_it_in_another_tab(client, olga, campaign):
    client.force_login(olga)
    url = change_url(campaign)
    tab_a, tab_b = open_page(client, url), open_page(client, url)
    client.post(url, tab_a | {"message": "Spring sale ends today."})

    page = client.post(url, tab_b | {"name": "Mine"}).content.decode()

    assert page.count("Not saved") == 1
    assert "someone else" not in page
    assert "Not saved: this campaign was saved again (by you, in another tab or window, at " in page
    assert "Please correct the error" not in page


def test_a_refused_page_names_the_other_person_who_saved(client, olga, mark, campaign):
    client.force_login(mark)
    url = change_url(campaign)
    tab_b = open_page(client, url)
    client.force_login(olga)
    client.post(url, open_page(client, url) | {"message": "Spring sale ends today."})
    client.force_login(mark)

    page = client.post(url, tab_b | {"name": "Mine"}).content.decode()

    assert page.count("Not saved") == 1
    assert "Not saved: this campaign was saved again (by olga at " in page


def test_a_refused_page_quotes_yours_only_for_fields_you_changed(client, olga, campaign):
    client.force_login(olga)
    url = change_url(campaign)
    tab_a, tab_b = open_page(client, url), open_page(client, url)
    client.post(url, tab_a | {"message": "Spring sale ends today."})

    refused = client.post(url, tab_b | {"name": "Mine"})

    error = str(refused.context["adminform"].form.non_field_errors())
    assert "Spring sale ends today." in error
    assert "yours" not in error


def test_a_refused_page_heads_with_the_saved_name_not_the_unsaved_one(client, olga, campaign):
    client.force_login(olga)
    url = change_url(campaign)
    tab_a, tab_b = open_page(client, url), open_page(client, url)
    client.post(url, tab_a | {"message": "Spring sale ends today."})

    refused = client.post(url, tab_b | {"name": "Unsaved new name"})

    page = refused.content.decode()
    assert str(refused.context["original"]) == "Spring teaser"
    assert refused.context["subtitle"] == "Spring teaser"
    assert "Unsaved new name" not in page.split('<div id="content"')[0]  # title, breadcrumbs
    assert "<h2>Spring teaser</h2>" in page
    assert refused.context["adminform"].form["name"].value() == "Unsaved new name"  # kept in the box


@pytest.mark.parametrize("kind", EDIT_FORMS)
def test_every_edit_form_keeps_both_edits_when_the_refused_page_is_saved_again(client, olga, kind):
    make, first, second = EDIT_FORMS[kind]
    obj = make()
    client.force_login(olga)
    url = change_url(obj)
    tab_a, tab_b = open_page(client, url), open_page(client, url)
    client.post(url, tab_a | first)
    refused = client.post(url, tab_b | second)
    for name, value in first.items():
        assert str(refused.context["adminform"].form[name].value()) == value, (kind, name)

    assert saved(client.post(url, page_data(refused))), kind
    fresh = type(obj).objects.get(pk=obj.pk)
    for name, value in (first | second).items():
        assert str(getattr(fresh, name)) == value, (kind, name)


def test_a_field_of_the_form_alone_is_guarded_too(client, olga, campaign):
    """Variant B is kept in Campaign.variants, not in a field of its own: a stale page reverted it."""
    client.force_login(olga)
    url = change_url(campaign)
    tab_a, tab_b = open_page(client, url), open_page(client, url)
    both = {"variant_b": "Spring sale, the other wording.", "share_a": "50", "share_b": "50"}
    assert saved(client.post(url, tab_a | both))

    refused = client.post(url, tab_b | {"name": "Mine"})

    assert not saved(refused)
    assert refused.context["adminform"].form["variant_b"].value() == both["variant_b"]
    assert saved(client.post(url, page_data(refused)))
    campaign.refresh_from_db()
    assert (campaign.name, campaign.variants) == ("Mine", [both["variant_b"]])
