"""A worker's import on PostgreSQL writes its batches on a second connection while it reads on
(campaigns.lists.writing.BackgroundWriter): the same rows as a synchronous import, and a failed
write fails the import with nothing kept."""

from __future__ import annotations

import io

import pytest
from django.db import connection

from campaigns.lists import importing
from campaigns.lists.importing import import_recipient_list
from campaigns.models import Recipient, RecipientList

pytestmark = pytest.mark.django_db(transaction=True)


def _file(rows: int) -> io.BytesIO:
    lines = (
        ["username,first_name"] + [f"@member_{i:05d},Name{i}" for i in range(rows)] + ["@member_00001,Again"]
    )
    return io.BytesIO("\n".join(lines).encode())


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the second connection is used on PostgreSQL only")


def test_a_worker_import_writes_every_batch_on_the_second_connection(postgresql, monkeypatch):
    monkeypatch.setattr(importing, "BATCH_SIZE", 100)
    written = []
    real = importing.BackgroundWriter.send
    monkeypatch.setattr(
        importing.BackgroundWriter, "send", lambda self, w: (written.append(len(w)), real(self, w))
    )
    recipient_list = RecipientList(name="big", consent_basis="opt_in")

    report = import_recipient_list(recipient_list, _file(1000), atomic=False)

    assert sum(written) == 1001 and len(written) == 11
    assert (report.valid_count, report.duplicate_count) == (1000, 1)
    assert Recipient.objects.filter(recipient_list=recipient_list).count() == 1001
    assert Recipient.objects.get(row_number=1002).error == "duplicate of row 3"
    assert Recipient.objects.get(row_number=500).name_key == "name498"


def test_a_failed_write_on_the_second_connection_fails_the_import_and_keeps_nothing(postgresql, monkeypatch):
    monkeypatch.setattr(importing, "BATCH_SIZE", 100)
    calls = []

    def broken(self):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(self)

    real = importing.RowWriter.flush
    monkeypatch.setattr(importing.RowWriter, "flush", broken)
    recipient_list = RecipientList.objects.create(name="big", consent_basis="opt_in")

    with pytest.raises(RuntimeError, match="disk full"):
        import_recipient_list(recipient_list, _file(1000), atomic=False)
    assert not Recipient.objects.filter(recipient_list=recipient_list).exists()
