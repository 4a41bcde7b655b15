"""Marketing deletes its recipient lists with their recipients, as the README's table says
(issue 17 item 12: it was 403, for want of the permission to delete the recipients)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import Recipient, RecipientIdentity, RecipientList


@pytest.mark.django_db
def test_marketing_deletes_a_list_with_its_recipients_and_their_other_identities(client, mark, people):
    first = people.recipients.order_by("row_number").first()
    RecipientIdentity.objects.create(recipient=first, key="+4915123456701", kind="phone")
    client.force_login(mark)
    url = reverse("admin:campaigns_recipientlist_delete", args=[people.pk])

    confirm = client.get(url)
    assert confirm.status_code == 200 and "Are you sure" in confirm.content.decode()
    response = client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not RecipientList.objects.filter(pk=people.pk).exists()
    assert not Recipient.objects.exists() and not RecipientIdentity.objects.exists()


@pytest.mark.django_db
def test_marketing_deletes_lists_with_rows_by_the_changelist_action(client, mark, people):
    client.force_login(mark)
    url = reverse("admin:campaigns_recipientlist_changelist")
    data = {"action": "delete_selected", "_selected_action": [people.pk]}

    assert client.post(url, data).status_code == 200  # the confirmation page, not a 403
    client.post(url, data | {"post": "yes"})

    assert not RecipientList.objects.exists() and not Recipient.objects.exists()
