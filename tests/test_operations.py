"""Running it in production: the health endpoint, the Prometheus metrics, static files served by
WhiteNoise, and structured logs that never carry what a message says or whom it went to."""

from __future__ import annotations

import io
import json
import logging
import os
import runpy
import secrets
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from django_q.models import Schedule
from prometheus_client import REGISTRY
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


def test_an_export_counts_its_rows_in_the_process_counters(tmp_path):
    # Found by the production walk: tgc_export_rows_total and the other process counters stay at 0.
    campaign = make_campaign(
        "Three", [make_list("three", [(f"@reader_{i}x", {}) for i in range(3)])], [make_session("a")]
    )
    engine.launch(campaign, enqueue=False)
    before = REGISTRY.get_sample_value("tgc_export_rows_total", {"format": "csv"}) or 0

    call_command("exportresults", str(campaign.pk), "-o", str(tmp_path / "out.csv"), stderr=io.StringIO())

    assert REGISTRY.get_sample_value("tgc_export_rows_total", {"format": "csv"}) == before + 3


# Static files -------------------------------------------------------------------------------------
def test_static_files_are_served_by_the_app_without_runserver(client):
    response = client.get("/static/campaigns/admin.css")
    assert response.status_code == 200
    assert b"".join(response.streaming_content if response.streaming else [response.content])


# The web process (gunicorn_conf.py) ---------------------------------------------------------------
GUNICORN_CONF = Path(__file__).resolve().parent.parent / "tgcampaigns" / "gunicorn_conf.py"
GUNICORN_VARIABLES = (
    "GUNICORN_BIND",
    "WEB_CONCURRENCY",
    "GUNICORN_CONTROL_SOCKET",
    "PROMETHEUS_MULTIPROC_DIR",
)


def _gunicorn_conf(tmp_path: Path, dotenv: str, **environment: str) -> dict:
    """gunicorn's configuration as gunicorn loads it, from a checkout at ``tmp_path`` whose
    ``.env`` holds ``dotenv``, with ``environment`` (and none of the variables above) set."""
    (tmp_path / "tgcampaigns").mkdir(parents=True)
    shutil.copy(GUNICORN_CONF, tmp_path / "tgcampaigns" / "gunicorn_conf.py")
    (tmp_path / ".env").write_text(dotenv, encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if k not in GUNICORN_VARIABLES}
    with mock.patch.dict(os.environ, clean | environment, clear=True):
        return runpy.run_path(str(tmp_path / "tgcampaigns" / "gunicorn_conf.py"))


def test_gunicorn_reads_its_address_and_workers_from_the_env_file_beside_manage_py(tmp_path):
    # Issue (prodwalk): GUNICORN_BIND in .env was ignored and the web process took 127.0.0.1:8000.
    conf = _gunicorn_conf(tmp_path, "GUNICORN_BIND=127.0.0.1:8765\nWEB_CONCURRENCY=3\n")

    assert (conf["bind"], conf["workers"]) == ("127.0.0.1:8765", 3)


def test_a_variable_of_the_environment_wins_over_the_env_file_for_gunicorn(tmp_path):
    conf = _gunicorn_conf(tmp_path, "GUNICORN_BIND=127.0.0.1:8765\n", GUNICORN_BIND="127.0.0.1:9000")

    assert conf["bind"] == "127.0.0.1:9000"


def test_gunicorn_opens_no_control_socket_shared_with_the_machines_other_gunicorns(tmp_path):
    # gunicorn 25.1+ puts it at $HOME/.gunicorn/gunicorn.ctl: a second instance stopping removed it.
    assert _gunicorn_conf(tmp_path, "")["control_socket_disable"] is True
    given = _gunicorn_conf(tmp_path / "own", "", GUNICORN_CONTROL_SOCKET="/run/tgc/gunicorn.ctl")
    assert (given["control_socket_disable"], given["control_socket"]) == (False, "/run/tgc/gunicorn.ctl")


def test_gunicorn_keeps_the_metric_files_of_running_processes_and_drops_those_of_gone_ones(tmp_path):
    # Issue (prodwalk): gunicorn emptied the directory at start, so a web restart hid the counts
    # of the machine's running qcluster until it restarted too.
    directory = tmp_path / "tgc-prometheus"
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    directory.mkdir()
    running, stale = directory / f"counter_{os.getpid()}.db", directory / f"counter_{gone.stdout.strip()}.db"
    running.write_bytes(b"x")
    stale.write_bytes(b"x")
    (tmp_path / "conf").mkdir()
    conf = _gunicorn_conf(tmp_path / "conf", "")

    with mock.patch.dict(os.environ, {"PROMETHEUS_MULTIPROC_DIR": str(directory)}):
        conf["on_starting"](None)

    assert running.exists() and not stale.exists()


def test_a_process_started_before_gunicorn_makes_the_prometheus_directory(tmp_path):
    # Issue (prodwalk): `migrate` (scripts/serve runs it before gunicorn) and qcluster died with
    # FileNotFoundError when PROMETHEUS_MULTIPROC_DIR did not exist yet.
    directory = tmp_path / "tgc-prometheus"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECRET_KEY", "DEBUG"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "tgcampaigns.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=GUNICORN_CONF.parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert directory.is_dir() and list(directory.glob("counter_*.db"))


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
    assert "context" not in line  # the plain format's rendering of the ids, not a field


def _json_formatter(config: dict | None = None) -> logging.Formatter:
    config = config or logging_config("json", "INFO")["formatters"]["json"]
    return JsonFormatter(**{k: v for k, v in config.items() if k != "()"})


def test_with_log_format_json_gunicorns_own_lines_are_json_objects_too(tmp_path):
    # Issue (prodwalk): gunicorn's arbiter and access lines stayed plain text among the JSON ones.
    assert "logconfig_dict" not in _gunicorn_conf(tmp_path / "plain", "")
    config = _gunicorn_conf(tmp_path / "json", "LOG_FORMAT=json\n")["logconfig_dict"]

    for name in ("gunicorn.error", "gunicorn.access"):
        handler = config["handlers"][config["loggers"][name]["handlers"][0]]
        formatter = _json_formatter(config["formatters"][handler["formatter"]])
        record = logging.LogRecord(name, logging.INFO, __file__, 1, "Booting worker with pid: %s", (7,), None)
        ContextFilter().filter(record)
        line = json.loads(formatter.format(record))
        assert (line["logger"], line["message"]) == (name, "Booting worker with pid: 7")
        assert line["worker"].endswith(f":{os.getpid()}") and "context" not in line


def test_a_failing_health_check_logs_one_line_with_its_reason_and_no_traceback(client, settings, caplog):
    # Issue (prodwalk): each failed probe (every second) logged some ninety lines of traceback.
    _cluster_ran(10)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    with caplog.at_level(logging.INFO):
        assert client.get("/health/").status_code == 503

    [line] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.name.startswith("health_check") and "Redis does not answer" in line.getMessage()
    assert line.exc_info is None


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


def test_each_web_worker_hides_what_it_loaded_at_start_from_the_garbage_collector():
    import gc

    from tgcampaigns import gunicorn_conf

    gc.unfreeze()
    try:
        gunicorn_conf.post_worker_init(worker=None)
        assert gc.get_freeze_count() > 10_000  # Django, the apps, their templates
    finally:
        gc.unfreeze()
