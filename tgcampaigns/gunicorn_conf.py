"""gunicorn's configuration for the web process: ``gunicorn -c python:tgcampaigns.gunicorn_conf
tgcampaigns.wsgi`` (what ``scripts/serve`` runs). Every value can be changed in the environment or
in the ``.env`` file beside ``manage.py``, which is read here as the settings read it (gunicorn
reads this file before Django's settings; a variable of the environment wins over the file).

Threads, not only processes: the slowest pages are streams (a million-row export runs for tens of
seconds), and a ``gthread`` worker keeps telling the arbiter it is alive while one of its threads
streams, so ``timeout`` bounds a stuck worker, not a long download.
"""

import os
from pathlib import Path

import environ

environ.Env.read_env(Path(__file__).resolve().parent.parent / ".env", overwrite=False)

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
# LOG_FORMAT=json: gunicorn's own lines are JSON objects too (docs/operating.md "Logs").
if os.environ.get("LOG_FORMAT") == "json":
    from tgcampaigns.logcontext import gunicorn_logging_config

    logconfig_dict = gunicorn_logging_config()
# gunicorn 25.1+ opens a control socket at one path per user ($HOME/.gunicorn/gunicorn.ctl): a
# second gunicorn of the machine takes it over and removes it when it stops. Off unless a path of
# this instance's own is given.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "") or None
control_socket_disable = control_socket is None


def on_starting(server):
    """Prometheus' multiprocess directory: created if missing, and the files of processes that are
    gone removed; those of running processes (the machine's qcluster workers) are kept."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    for path in Path(directory).glob("*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _running(int(pid)):
            path.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def child_exit(server, worker):
    """A worker that exits leaves its live gauges behind unless marked dead (prometheus-client)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """Django, its apps and their templates, loaded once per worker, moved out of the garbage
    collector's sight (``gc.freeze``): a full collection then walks only what requests made, not
    the hundreds of thousands of objects every worker holds for its lifetime."""
    import gc

    gc.collect()
    gc.freeze()
