"""The process counters of /metrics (tgcampaigns/counters.py), each counted where the event happens:
FloodWaits answered during a campaign, an import, an export, a lease and a claim taken over; and
the multiprocess mode gunicorn's workers share them through."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from prometheus_client import REGISTRY

from campaigns import engine
from campaigns.engine.reaper import reap
from campaigns.lists.importing import import_recipient_list
from campaigns.models import DeliveryAttempt, MessageResult, RecipientList, ResultStatus
from campaigns.reporting.exports import campaign_csv_response
from sessions_app import leases
from sessions_app.models import TelegramSession
from tests.conftest import make_campaign, make_list, make_session

pytestmark = pytest.mark.django_db
TOKEN = {"HTTP_AUTHORIZATION": "Bearer s3cret-token"}


def counted(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_floodwaits_answered_during_a_campaign_count_their_seconds_by_session():
    before = counted("tgc_floodwait_seconds_total", session="stormy")
    stormy = make_session("stormy", simulator_config={"flood_rate": 0.5, "flood_seconds": [1, 1], "seed": 3})
    campaign = make_campaign("Storm", [make_list("six", [(f"@storm_{i}x", {}) for i in range(6)])], [stormy])

    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=30)

    floods = DeliveryAttempt.objects.filter(session=stormy, error_code__contains="FLOOD").count()
    assert floods >= 1, "the simulator answered no FloodWait: the count would prove nothing"
    assert counted("tgc_floodwait_seconds_total", session="stormy") - before == floods  # 1 s each


def test_an_import_counts_its_rows_and_seconds():
    rows, seconds = counted("tgc_import_rows_total"), counted("tgc_import_seconds_total")
    source = io.BytesIO(b"username,first_name\n@ann_user,Ann\n@bob_user,Bob\nnot a user!,X\n")

    import_recipient_list(RecipientList(name="three", consent_basis="opt_in"), source)

    assert counted("tgc_import_rows_total") - rows == 3
    assert counted("tgc_import_seconds_total") > seconds


@override_settings(TGC_METRICS_TOKEN="s3cret-token")
def test_an_export_counts_its_rows_by_format_whichever_way_it_runs(client, people, alpha, tmp_path):
    campaign = make_campaign("Counted", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    csv_rows, xlsx_rows = (
        counted("tgc_export_rows_total", format="csv"),
        counted("tgc_export_rows_total", format="xlsx"),
    )

    b"".join(campaign_csv_response(campaign).streaming_content)
    call_command("exportresults", campaign.pk, "-o", str(tmp_path / "out.csv"), stderr=io.StringIO())
    campaign_csv_response(campaign, "xlsx")

    assert counted("tgc_export_rows_total", format="csv") - csv_rows == 2 * 5
    assert counted("tgc_export_rows_total", format="xlsx") - xlsx_rows == 5
    assert counted("tgc_export_seconds_total", format="csv") > 0
    text = client.get("/metrics", **TOKEN).content.decode()
    assert 'tgc_export_rows_total{format="csv"}' in text


def test_a_lease_taken_from_a_holder_that_is_gone_counts_as_a_take_over_and_a_free_one_does_not(alpha):
    before = counted("tgc_lease_takeovers_total")
    assert leases.take(alpha, "drive:host:1:a")
    assert counted("tgc_lease_takeovers_total") == before  # it was free
    assert not leases.take(alpha, "drive:host:2:b")  # held, live

    long_ago = timezone.now() - timedelta(minutes=10)
    TelegramSession.objects.filter(pk=alpha.pk).update(lease_expires_at=long_ago)
    assert leases.take(alpha, "drive:host:2:b")

    assert counted("tgc_lease_takeovers_total") - before == 1


def test_rows_left_claimed_by_a_process_that_is_gone_count_as_claim_take_overs(people, alpha):
    campaign = make_campaign("Orphans", [people], [alpha])
    engine.launch(campaign, enqueue=False)
    long_ago = timezone.now() - timedelta(minutes=10)
    campaign.results.filter(key__in=["@alice_user", "@bob_user"]).update(
        status=ResultStatus.CLAIMED, session=alpha, claimed_by="drive:gone:1:x", claim_expires_at=long_ago
    )
    before = counted("tgc_claim_takeovers_total")

    reap(dispatch=False)

    assert counted("tgc_claim_takeovers_total") - before == 2
    assert not MessageResult.objects.filter(status=ResultStatus.CLAIMED).exists()


@override_settings(TGC_METRICS_TOKEN="s3cret-token")
def test_in_multiprocess_mode_a_scrape_counts_what_other_processes_of_the_machine_counted(
    client, tmp_path, monkeypatch
):
    directory = tmp_path / "tgc-prometheus"
    other = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'tgcampaigns.settings_test'); "
        "django.setup(); from tgcampaigns import counters; "
        "counters.LEASE_TAKEOVERS.inc(3); counters.count_export('csv', 7, 0.5)"
    )
    env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(directory)}
    for _ in range(2):  # two processes, one after the other (the first one's counts outlive it)
        subprocess.run([sys.executable, "-c", other], check=True, env=env, cwd=os.getcwd(), timeout=120)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))

    text = client.get("/metrics", **TOKEN).content.decode()

    assert "tgc_lease_takeovers_total 6.0" in text
    assert 'tgc_export_rows_total{format="csv"} 14.0' in text
    assert "tgc_sessions{" in text  # the database's figures too
