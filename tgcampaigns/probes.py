"""The health endpoint for load balancers and probes: ``GET /health/`` answers 200 when the
installation can send, 503 when it cannot, as JSON naming each check and its state. It carries no
personal data and is cheap enough to be called every second.

Built on django-health-check: its ``Database`` and ``Redis`` checks, and three of our own.

- ``database``: ``SELECT 1`` on the default database.
- ``broker``: django-q2's broker answers (Redis: a ``PING``; the ORM broker lives in the database
  already checked, so it is what the database says).
- ``cluster``: a django-q2 cluster is alive. Every cluster runs the scheduler, which moves the
  every-minute reaper schedule's ``next_run`` on each minute; a ``next_run`` more than
  :data:`CLUSTER_SILENT_SECONDS` in the past means no cluster has run the scheduler since.
- ``migrations``: every migration of the code is applied (read once per process when they are:
  new migrations come with new code, so with a new process).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import threading

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.utils import timezone
from health_check.base import HealthCheck
from health_check.checks import Database
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView

# The reaper schedule runs every minute: three missed runs is a cluster that is gone, not one
# that is busy (django-q2's scheduler looks at schedules every 30 s).
CLUSTER_SILENT_SECONDS = 180
REAPER_SCHEDULE_NAME = "tgcampaigns reaper"


@dataclasses.dataclass
class Broker(HealthCheck):
    """django-q2's broker answers: Redis ``PING`` (2 s timeout) when ``REDIS_URL`` is set."""

    timeout = datetime.timedelta(seconds=2)

    def run(self) -> None:
        url = getattr(settings, "REDIS_URL", "")
        if not url:
            return  # the ORM broker: its queue is a table of the database checked beside this
        import redis

        try:
            redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
        except redis.RedisError as exc:
            raise ServiceUnavailable(f"Redis does not answer ({type(exc).__name__})") from exc


@dataclasses.dataclass
class Cluster(HealthCheck):
    """A django-q2 cluster ran its scheduler within :data:`CLUSTER_SILENT_SECONDS`."""

    def run(self) -> None:
        from django_q.models import Schedule

        next_run = (
            Schedule.objects.filter(name=REAPER_SCHEDULE_NAME).values_list("next_run", flat=True).first()
        )
        if next_run is None:
            raise ServiceUnavailable("the reaper schedule is missing: run manage.py migrate")
        silent = (timezone.now() - next_run).total_seconds()
        if silent > CLUSTER_SILENT_SECONDS:
            raise ServiceUnavailable(f"no django-q2 cluster has run the scheduler for {int(silent)} s")


_migrations_applied = threading.Event()


@dataclasses.dataclass
class Migrations(HealthCheck):
    """Every migration the code has is applied to the default database."""

    def run(self) -> None:
        if _migrations_applied.is_set():
            return
        connection = connections["default"]
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            raise ServiceUnavailable(f"{len(pending)} migrations are not applied: run manage.py migrate")
        _migrations_applied.set()


def _on_request_thread(check: type[HealthCheck]) -> type[HealthCheck]:
    """``check`` with its synchronous ``run`` on the request's own thread (``thread_sensitive``),
    as Django runs every ORM call of an async view: the probe reuses the request's database
    connection instead of opening one in each thread of an executor (and a test's transaction
    sees what the test wrote)."""

    async def run(self) -> None:
        await sync_to_async(check.run, thread_sensitive=True)(self)

    return dataclasses.dataclass(type(f"{check.__name__}OnRequestThread", (check,), {"run": run}))


CHECK_NAMES = {
    _on_request_thread(Database): "database",
    _on_request_thread(Broker): "broker",
    _on_request_thread(Cluster): "cluster",
    _on_request_thread(Migrations): "migrations",
}


class HealthView(HealthCheckView):
    """JSON always; 503 (not the library's 500) when a check fails, as load balancers expect.

    Answer: ``{"status": "ok" | "unavailable", "checks": {"database": "ok", "cluster": "…"}}``.
    """

    checks = tuple(CHECK_NAMES)

    async def get(self, request, *args, **kwargs):
        with self.get_executor() as executor:
            self.results = await asyncio.gather(*(c.get_result(executor) for c in self.get_checks()))
        checks = {
            CHECK_NAMES[type(result.check)]: result.error.message if result.error else "ok"
            for result in self.results
        }
        healthy = all(value == "ok" for value in checks.values())
        return JsonResponse(
            {"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503
        )
