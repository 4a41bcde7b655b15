"""Tags from an import column (issue 20): ``tags``, ``labels``, Google's ``Group Membership`` and
``Labels`` (`` ::: ``, system groups dropped), Shopify's ``Tags`` (commas), several per cell, in the
languages of the vocabulary; written as RecipientTag rows, a batch at a time."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.urls import reverse

from campaigns.lists.columns import TAGS, guess_roles
from campaigns.lists.importing import import_recipient_list
from campaigns.lists.tag_cells import split_tags
from campaigns.models import RecipientList, Tag

RECIPIENTS = Path(__file__).resolve().parent / "data" / "cases" / "recipients"


def _import(source, **kwargs) -> RecipientList:
    recipient_list = RecipientList(name="tagged", consent_basis="opt_in")
    if isinstance(source, str):
        source = io.BytesIO(source.encode("utf-8"))
    import_recipient_list(recipient_list, source, **kwargs)
    return recipient_list


def _tags_by_key(recipient_list: RecipientList) -> dict[str, list[str]]:
    return {
        r.key: sorted(t.name for t in r.tags.all())
        for r in recipient_list.recipients.prefetch_related("tags").exclude(key="")
    }


@pytest.mark.parametrize(
    ("cell", "tags"),
    [
        ("VIP, Berlin", ["VIP", "Berlin"]),
        ("vip;berlin|  Newsletter ", ["vip", "berlin", "Newsletter"]),
        ("* myContacts ::: VIP ::: Berlin", ["VIP", "Berlin"]),
        ("* starred ::: Kunden", ["Kunden"]),
        ("VIP, vip, VIP", ["VIP"]),
        ("", []),
        (" , ;", []),
    ],
)
def test_a_tags_cell_splits_on_commas_semicolons_bars_and_googles_triple_colons(cell, tags):
    assert list(split_tags(cell)) == tags


@pytest.mark.parametrize(
    "header",
    ["tags", "Tags", "labels", "Group Membership", "Метки", "Etiquetas", "Schlagwörter", "étiquettes"],
)
def test_a_tags_column_is_guessed_from_its_header_in_several_languages(header):
    assert guess_roles(["Username", header]) == ["username", TAGS]


@pytest.mark.django_db
def test_the_import_writes_each_rows_tags_case_folded_into_shared_tags():
    recipient_list = _import(
        'username,tags,city\n@ann_user,"VIP, Berlin",Berlin\n@bob_user,vip,Paris\n@x,,\n'
    )

    assert _tags_by_key(recipient_list) == {"@ann_user": ["Berlin", "VIP"], "@bob_user": ["VIP"]}
    assert Tag.objects.count() == 2
    ann = recipient_list.recipients.get(key="@ann_user")
    assert "tags" not in ann.fields and ann.fields["city"] == "Berlin"
    assert recipient_list.report["tags"] == {"VIP": 1, "Berlin": 1, "vip": 1}


def test_the_lists_page_names_the_tags_the_import_found(client, mark):
    recipient_list = _import("username,labels\n@ann_user,VIP ::: Berlin\n@bob_user,VIP\n")
    client.force_login(mark)

    page = client.get(
        reverse("admin:campaigns_recipientlist_change", args=[recipient_list.pk])
    ).content.decode()

    assert "VIP (2), Berlin (1)" in page


@pytest.mark.django_db
def test_an_invalid_row_gets_no_tags():
    recipient_list = _import("username,tags\nnot a name!,VIP\n@ann_user,VIP\n")

    assert recipient_list.invalid_count == 1
    assert _tags_by_key(recipient_list) == {"@ann_user": ["VIP"]}
    assert recipient_list.recipients.get(status="invalid").tags.count() == 0


@pytest.mark.django_db
def test_googles_labels_column_becomes_tags_without_its_system_groups():
    recipient_list = _import(RECIPIENTS / "google_export.csv")

    erika = recipient_list.recipients.get(row_number=2)
    assert [t.name for t in erika.tags.all()] == ["Kunden"]
    assert "labels" not in erika.fields
    assert not Tag.objects.filter(key__contains="mycontacts").exists()


@pytest.mark.django_db
def test_googles_older_group_membership_column_becomes_tags():
    csv = (
        "Name,Given Name,Family Name,Group Membership,Phone 1 - Type,Phone 1 - Value\n"
        "Ann Lee,Ann,Lee,* My Contacts ::: VIP ::: Berlin,Mobile,+49 1512 3456701\n"
    )
    recipient_list = _import(csv)

    assert _tags_by_key(recipient_list) == {"+4915123456701": ["Berlin", "VIP"]}


@pytest.mark.django_db
def test_shopifys_comma_separated_tags_column_becomes_tags():
    recipient_list = _import(RECIPIENTS / "shop_customers.csv")

    tagged = _tags_by_key(recipient_list)
    assert tagged["+16175550191"] == ["vip"]
    assert recipient_list.report["recognised"] == "Shopify customers export"


@pytest.mark.django_db
def test_a_duplicate_row_keeps_its_own_tags():
    recipient_list = _import("username,tags\n@ann_user,VIP\n@ann_user,Berlin\n")

    rows = recipient_list.recipients.order_by("row_number")
    assert [sorted(t.name for t in r.tags.all()) for r in rows] == [["VIP"], ["Berlin"]]


@pytest.mark.django_db
def test_a_vcards_categories_become_tags():
    vcf = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee;Ann;;;\r\nFN:Ann Lee\r\nTEL;TYPE=CELL:+49 1512 3456701\r\n"
        "CATEGORIES:VIP,Berlin\r\nCATEGORIES:Customers\r\nEND:VCARD\r\n"
    )
    recipient_list = _import(vcf)

    assert _tags_by_key(recipient_list) == {"+4915123456701": ["Berlin", "Customers", "VIP"]}


@pytest.mark.django_db
def test_tags_cost_the_import_a_few_queries_a_batch_never_one_a_row():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from campaigns.lists.importing import BATCH_SIZE

    def queries(rows: int, tags: bool) -> int:
        body = "".join(f"@user_{i:05d}{',VIP; Berlin' if tags else ''}\n" for i in range(rows))
        with CaptureQueriesContext(connection) as captured:
            _import(("username,tags\n" if tags else "username\n") + body)
        return len(captured)

    rows = 2 * BATCH_SIZE + 10  # three batches
    extra = queries(rows, tags=True) - queries(rows, tags=False)

    assert extra <= 3 * 4  # per batch: the tags' insert and select, the links' insert (and its reserve)
