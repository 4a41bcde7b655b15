"""Running it in production: the health endpoint, the Prometheus metrics, static files served by
WhiteNoise, and structured logs that never carry what a message says or whom it went to."""

from __future__ import annotations

import io
import json
import logging
import os
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from django_q.models import Schedule
from pythonjsonlogger.json import JsonFormatter

from campaigns import engine
from campaigns.signals import REAPER_SCHEDULE_NAME
from sessions_app.log_filters import WithholdAnswerBytes
from tests.conftest import make_campaign, make_list, make_session
from tgcampaigns import probes
from tgcampaigns.logcontext import ContextFilter, bound, logging_config

pytestmark = pytest.mark.django_db


def _cluster_ran(seconds_ago: float) -> None:
    Schedule.objects.filter(name=REAPER_SCHEDULE_NAME).update(
        next_run=timezone.now() - timedelta(seconds=seconds_ago)
    )


# Health -------------------------------------------------------------------------------------------
def test_health_answers_200_with_each_check_when_the_installation_can_send(client):
    _cluster_ran(10)
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "cluster": "ok", "migrations": "ok"},
    }


def test_health_answers_503_when_the_broker_is_stopped(client, settings):
    _cluster_ran(10)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    response = client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"].startswith("Redis does not answer")
    assert body["checks"]["database"] == "ok"


def test_health_answers_503_when_no_cluster_has_run_for_minutes(client):
    _cluster_ran(600)
    response = client.get("/health/")
    assert response.status_code == 503
    assert "no django-q2 cluster has run the scheduler for 6" in response.json()["checks"]["cluster"]


def test_health_answers_503_when_migrations_are_missing(client, monkeypatch):
    _cluster_ran(10)
    monkeypatch.setattr(probes, "_migrations_applied", probes.threading.Event())
    monkeypatch.setattr(
        probes.MigrationExecutor, "migration_plan", lambda self, targets: [("campaigns", "0099_future")]
    )
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "1 migrations are not applied: run manage.py migrate"


def test_health_needs_no_login_and_shows_no_personal_data(client, people):
    _cluster_ran(10)
    body = client.get("/health/").content.decode()
    assert "alice" not in body.lower() and "@" not in body


# Metrics ------------------------------------------------------------------------------------------
def test_metrics_are_off_without_a_token_or_networks(client):
    assert client.get("/metrics").status_code == 404


@override_settings(TGC_METRICS_TOKEN="s3cret-token")
def test_metrics_refuse_a_request_without_the_token(client):
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403


@override_settings(TGC_METRICS_NETWORKS=["10.0.0.0/8"])
def test_metrics_answer_a_listed_network_and_refuse_others(client):
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403


@override_settings(TGC_METRICS_TOKEN="s3cret-token")
def test_metrics_count_a_campaigns_sends_by_session_and_the_sessions_by_state(client):
    alpha = make_session("alpha")
    recipients = make_list("five", [(f"@reader_{i}x", {"first_name": "R"}) for i in range(5)])
    campaign = make_campaign("Five", [recipients], [alpha])
    engine.launch(campaign, enqueue=False)
    engine.run_until_done(campaign, max_seconds=20)

    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'tgc_messages_total{error_code="",session="alpha",status="sent"} 5.0' in text
    assert 'tgc_requests_total{session="alpha"} 5.0' in text
    assert 'tgc_sessions{status="active"} 1.0' in text
    assert "tgc_lease_takeovers_total" in text and "tgc_export_rows_total" in text
    assert "reader_" not in text


# Static files -------------------------------------------------------------------------------------
def test_static_files_are_served_by_the_app_without_runserver(client):
    response = client.get("/static/campaigns/admin.css")
    assert response.status_code == 200
    assert b"".join(response.streaming_content if response.streaming else [response.content])


# Logs ---------------------------------------------------------------------------------------------
def test_a_json_log_line_names_the_campaign_and_session_it_is_about():
    formatter = _json_formatter()
    record = logging.LogRecord("campaigns.engine", logging.INFO, __file__, 1, "slice ended", None, None)
    with bound(campaign=42, session=7):
        ContextFilter().filter(record)
    line = json.loads(formatter.format(record))
    assert (line["message"], line["campaign"], line["session"], line["level"]) == (
        "slice ended",
        42,
        7,
        "INFO",
    )
    assert line["worker"].endswith(f":{os.getpid()}")


def _json_formatter() -> logging.Formatter:
    config = logging_config("json", "INFO")["formatters"]["json"]
    return JsonFormatter(fmt=config["fmt"], rename_fields=config["rename_fields"])


def _json_lines_at_debug() -> tuple[logging.Handler, io.StringIO]:
    """A handler set up as ``LOG_FORMAT=json`` sets the console's (its formatter and filters),
    writing to a buffer."""
    config = logging_config("json", "DEBUG")
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(_json_formatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(WithholdAnswerBytes())
    assert config["handlers"]["console"]["filters"] == ["context", "withhold_answer_bytes"]
    return handler, buffer


def test_the_logs_of_a_whole_campaign_carry_no_message_text_phone_username_or_session_string():
    secret_text = "Your coupon WINTER-7731 is ready"
    alpha = make_session("alpha", simulator_config={"transient_rate": 0.3, "recipient_error_rate": 0.2})
    alpha.session_string = "1BQANOTAREALSESSIONSTRING"
    alpha.save()
    beta = make_session("beta", simulator_config={"flood_rate": 0.2, "flood_seconds": [1, 1]})
    rows = [("+4915123456701", {"first_name": "Maxine"}), ("@secret_reader", {"first_name": "Lena"})]
    rows += [(f"+49151234567{10 + i}", {"first_name": "P"}) for i in range(8)]
    campaign = make_campaign("Coupons", [make_list("buyers", rows)], [alpha, beta], message=secret_text)
    handler, buffer = _json_lines_at_debug()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        engine.launch(campaign, enqueue=False)
        engine.run_until_done(campaign, max_seconds=30)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)

    logged = buffer.getvalue()
    lines = [json.loads(line) for line in logged.splitlines()]
    engine_lines = [line for line in lines if line["logger"].startswith("campaigns.engine")]
    assert engine_lines, "the campaign logged nothing: the grep would prove nothing"
    for secret in (
        secret_text,
        "WINTER-7731",
        "Maxine",
        "Lena",
        "secret_reader",
        "1BQANOTAREALSESSIONSTRING",
    ):
        assert secret not in logged
    for key, _ in rows:
        if key.startswith("+"):
            assert key not in logged and key[1:] not in logged
    assert all(line["worker"].endswith(f":{os.getpid()}") for line in lines)
    assert all(line["campaign"] == campaign.pk for line in engine_lines), engine_lines
    sessions = {alpha.pk, beta.pk}
    by_session = [line for line in engine_lines if line["session"] is not None]
    assert by_session and all(line["session"] in sessions for line in by_session)
    # What a session's loop logs (a FloodWait, a lost connection, its outcomes) names the session.
    assert all(line["session"] in sessions for line in engine_lines if line["logger"].endswith(".sender"))
