"""gunicorn's configuration for the web process: ``gunicorn -c python:tgcampaigns.gunicorn_conf
tgcampaigns.wsgi`` (what ``scripts/serve`` runs). Every value can be changed in the environment.

Threads, not only processes: the slowest pages are streams (a million-row export runs for tens of
seconds), and a ``gthread`` worker keeps telling the arbiter it is alive while one of its threads
streams, so ``timeout`` bounds a stuck worker, not a long download.
"""

import os
import shutil

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))  # seconds a worker may be silent
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# Behind one proxy on this machine: trust its X-Forwarded-* (docs/operating.md "Security settings").
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"


def on_starting(server):
    """Prometheus' multiprocess files belong to one run of the server: start from none."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and os.path.basename(os.path.normpath(directory)).startswith("tgc-prometheus"):
        shutil.rmtree(directory, ignore_errors=True)
    if directory:
        os.makedirs(directory, exist_ok=True)


def child_exit(server, worker):
    """A worker that exits leaves its live gauges behind unless marked dead (prometheus-client)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
