"""Maintained counts, so no page COUNTs a million rows: results per (campaign, session, status,
error code), kept by database triggers, and requests per (campaign, session) with their time,
written with each batch.

The triggers are installed by migration and re-installed by :func:`ensure_triggers` after every
``migrate`` (a SQLite table rebuild, which Django does for some field changes, drops the triggers
of the table it rebuilds; the tally is then recounted).
"""

from __future__ import annotations

from datetime import UTC

from django.db import connection as default_connection
from django.db import models
from django.db.models.functions import TruncMinute

RESULTS = "campaigns_messageresult"
TALLY = "campaigns_resulttally"

# PostgreSQL: one statement-level trigger per operation; each statement appends one delta row per
# (campaign, session, status) it changed, read from its transition tables. Appending takes no row
# lock, so concurrent workers never queue or deadlock on a hot counter row.
POSTGRES = f"""
CREATE FUNCTION campaigns_result_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO {TALLY} (campaign_id, session_id, status, error_code, n)
      SELECT campaign_id, COALESCE(session_id, 0), status, error_code, COUNT(*) FROM new_rows
       GROUP BY 1, 2, 3, 4;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO {TALLY} (campaign_id, session_id, status, error_code, n)
      SELECT campaign_id, COALESCE(session_id, 0), status, error_code, -COUNT(*) FROM old_rows
       GROUP BY 1, 2, 3, 4;
  ELSE
    -- Every old row counts -1 and every new row +1 under its key; unchanged rows cancel out.
    -- An aggregate, not a join of the two transition tables (which have no index).
    INSERT INTO {TALLY} (campaign_id, session_id, status, error_code, n)
      SELECT campaign_id, session_id, status, error_code, SUM(d) FROM (
        SELECT campaign_id, COALESCE(session_id, 0) AS session_id, status, error_code, -1 AS d
          FROM old_rows
        UNION ALL
        SELECT campaign_id, COALESCE(session_id, 0), status, error_code, 1 FROM new_rows
      ) d GROUP BY 1, 2, 3, 4 HAVING SUM(d) <> 0;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER campaigns_result_tally_insert AFTER INSERT ON {RESULTS}
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campaigns_result_tally();
CREATE TRIGGER campaigns_result_tally_update AFTER UPDATE ON {RESULTS}
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION campaigns_result_tally();
CREATE TRIGGER campaigns_result_tally_delete AFTER DELETE ON {RESULTS}
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION campaigns_result_tally();
"""
POSTGRES_DROP = f"""
DROP TRIGGER IF EXISTS campaigns_result_tally_insert ON {RESULTS};
DROP TRIGGER IF EXISTS campaigns_result_tally_update ON {RESULTS};
DROP TRIGGER IF EXISTS campaigns_result_tally_delete ON {RESULTS};
DROP FUNCTION IF EXISTS campaigns_result_tally();
"""


def _sqlite_upsert(row: str, delta: int) -> str:
    return (
        f"INSERT INTO {TALLY} (campaign_id, session_id, status, error_code, n) "
        f"VALUES ({row}.campaign_id, COALESCE({row}.session_id, 0), {row}.status, {row}.error_code, {delta}) "
        f"ON CONFLICT (campaign_id, session_id, status, error_code) DO UPDATE SET n = n + ({delta});"
    )


# SQLite (one writer, row-level triggers only): one row per key, kept by UPSERT.
SQLITE = [
    f"CREATE UNIQUE INDEX campaigns_resulttally_key ON {TALLY} (campaign_id, session_id, status, error_code);",
    f"CREATE TRIGGER campaigns_result_tally_insert AFTER INSERT ON {RESULTS} "
    f"BEGIN {_sqlite_upsert('new', 1)} END;",
    f"CREATE TRIGGER campaigns_result_tally_update AFTER UPDATE OF status, session_id, error_code "
    f"ON {RESULTS} WHEN old.status IS NOT new.status OR old.session_id IS NOT new.session_id "
    f"OR old.error_code IS NOT new.error_code "
    f"BEGIN {_sqlite_upsert('old', -1)} {_sqlite_upsert('new', 1)} END;",
    f"CREATE TRIGGER campaigns_result_tally_delete AFTER DELETE ON {RESULTS} "
    f"BEGIN {_sqlite_upsert('old', -1)} END;",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS campaigns_result_tally_insert;",
    "DROP TRIGGER IF EXISTS campaigns_result_tally_update;",
    "DROP TRIGGER IF EXISTS campaigns_result_tally_delete;",
    "DROP INDEX IF EXISTS campaigns_resulttally_key;",
]
BACKFILL = (
    f"INSERT INTO {TALLY} (campaign_id, session_id, status, error_code, n) "
    f"SELECT campaign_id, COALESCE(session_id, 0), status, error_code, COUNT(*) FROM {RESULTS} "
    f"GROUP BY 1, 2, 3, 4"
)


TRIGGER_NAMES = (
    "campaigns_result_tally_insert",
    "campaigns_result_tally_update",
    "campaigns_result_tally_delete",
)


def _installed(cursor, vendor: str) -> set[str]:
    if vendor == "postgresql":
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [RESULTS]
        )
    else:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [RESULTS])
    return {row[0] for row in cursor.fetchall()}


def ensure_triggers(connection=default_connection) -> bool:
    """Install the result tally's triggers where they are missing, and recount the tally then (it
    may have missed changes meanwhile). Idempotent; returns True when it installed anything.
    Raises NotImplementedError on a database other than PostgreSQL or SQLite."""
    vendor = connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise NotImplementedError("the result tally triggers exist for PostgreSQL and SQLite")
    with connection.cursor() as cursor:
        if set(TRIGGER_NAMES) <= _installed(cursor, vendor):
            return False
        if vendor == "postgresql":
            cursor.execute(POSTGRES_DROP)
            cursor.execute(POSTGRES.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
        else:
            for statement in SQLITE_DROP:
                cursor.execute(statement)
            for statement in SQLITE:
                cursor.execute(statement)
        cursor.execute(f"DELETE FROM {TALLY}")
        cursor.execute(BACKFILL)
    return True


def drop_triggers(connection=default_connection) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRES_DROP)
        else:
            for statement in SQLITE_DROP:
                cursor.execute(statement)


class ResultTallyQuerySet(models.QuerySet):
    def for_campaign(self, campaign_id: int) -> dict[tuple[int | None, str], int]:
        """(session id or None, status) → rows of the campaign, from the maintained tally."""
        rows = (
            self.filter(campaign_id=campaign_id)
            .values_list("session_id", "status")
            .annotate(total=models.Sum("n"))
            .order_by()
        )
        return {(sid or None, status): total for sid, status, total in rows if total}

    def by_status(self, campaign_id: int) -> dict[str, int]:
        """Status → rows of the campaign (statuses with no row left out)."""
        rows = (
            self.filter(campaign_id=campaign_id)
            .values_list("status")
            .annotate(total=models.Sum("n"))
            .order_by()
        )
        return {status: total for status, total in rows if total}

    def errors(self, campaign_id: int, statuses: tuple[str, ...] = ("failed",)) -> dict[str, int]:
        """Error code → rows of the campaign in ``statuses`` with that code (most first)."""
        rows = (
            self.filter(campaign_id=campaign_id, status__in=statuses)
            .exclude(error_code="")
            .values_list("error_code")
            .annotate(total=models.Sum("n"))
            .order_by()
        )
        return dict(sorted(((code, n) for code, n in rows if n), key=lambda item: (-item[1], item[0])))

    def compact(self, campaign_id: int) -> None:
        """Fold the campaign's tally deltas into one row per (session, status, error code)
        (PostgreSQL writes one delta row per statement; SQLite keeps one row per key already)."""
        from django.db import connection, transaction

        if connection.vendor != "postgresql":
            return
        table = self.model._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"WITH gone AS (DELETE FROM {table} WHERE campaign_id = %s "
                f"RETURNING session_id, status, error_code, n) "
                f"INSERT INTO {table} (campaign_id, session_id, status, error_code, n) "
                f"SELECT %s, session_id, status, error_code, SUM(n) FROM gone "
                f"GROUP BY session_id, status, error_code HAVING SUM(n) <> 0",
                [campaign_id, campaign_id],
            )


class ResultTally(models.Model):
    """How many of a campaign's results are in each status, per session (0: none) and error code
    ("" for none), maintained by database triggers on every INSERT, UPDATE and DELETE of results
    (:func:`ensure_triggers`), so pages and the progress JSON never COUNT a million rows. On
    PostgreSQL each statement adds one delta row per key it changed — no lock is taken, so
    concurrent workers never wait on it — and :meth:`ResultTallyQuerySet.compact` folds them; on
    SQLite (one writer) each key is one row. Plain integer ids, not foreign keys: the rows of a
    deleted campaign go with the reaper."""

    campaign_id = models.BigIntegerField()
    session_id = models.BigIntegerField(default=0)
    status = models.CharField(max_length=10)
    error_code = models.CharField(max_length=100, default="", blank=True)
    n = models.BigIntegerField(default=0)

    objects = ResultTallyQuerySet.as_manager()

    class Meta:
        app_label = "campaigns"
        indexes = [models.Index(fields=["campaign_id", "session_id", "status"], name="tally_key_idx")]


class AttemptTally(models.Model):
    """Requests of a campaign per session: one delta row per recorded batch (written with the
    batch's DeliveryAttempts in the same transaction, by :func:`campaigns.engine.settling.apply_outcomes`,
    their only writer), so the progress block's metrics never scan the attempt log.
    :meth:`compact` folds the delta rows into one row per session and minute (``folded``), which
    keeps the time series the charts draw (:meth:`per_minute`) and the requests a session made
    today (:meth:`requests_since`)."""

    campaign_id = models.BigIntegerField()
    session_id = models.BigIntegerField(default=0)
    requests = models.IntegerField(default=0)
    sent = models.IntegerField(default=0)
    retries = models.IntegerField(default=0)
    floods = models.IntegerField(default=0)
    latency_ms = models.BigIntegerField(default=0)  # sum over the requests, milliseconds
    first_started_at = models.DateTimeField(null=True)
    last_finished_at = models.DateTimeField(null=True)
    # True for a row :meth:`compact` made (one session's minute), False for a batch's delta row.
    folded = models.BooleanField(default=False)

    objects = models.Manager()

    class Meta:
        app_label = "campaigns"
        indexes = [
            models.Index(fields=["campaign_id", "session_id"], name="attempt_tally_idx"),
            # A session's requests since midnight (UTC), in every campaign: what its daily cap
            # counts, read by the pages that refresh instead of the attempt log.
            models.Index(fields=["session_id", "first_started_at"], name="attempt_tally_time_idx"),
        ]

    @classmethod
    def per_session(cls, campaign_id: int) -> list[dict]:
        """Per session id: requests, sent, retries, floods, latency_ms (sum), first_started_at,
        last_finished_at."""
        return list(
            cls.objects.filter(campaign_id=campaign_id)
            .values("session_id")
            .annotate(
                requests_=models.Sum("requests"),
                sent_=models.Sum("sent"),
                retries_=models.Sum("retries"),
                floods_=models.Sum("floods"),
                latency_=models.Sum("latency_ms"),
                first_=models.Min("first_started_at"),
                last_=models.Max("last_finished_at"),
            )
            .order_by("session_id")
        )

    @classmethod
    def per_minute(cls, campaign_id: int) -> list[dict]:
        """The campaign's requests by minute (of a batch's first request, UTC) and session, in
        time order: dicts {minute, session_id, requests, sent}."""
        return list(
            cls.objects.filter(campaign_id=campaign_id)
            .exclude(first_started_at=None)
            .annotate(minute=TruncMinute("first_started_at", tzinfo=UTC))
            .values("minute", "session_id")
            .annotate(requests=models.Sum("requests"), sent=models.Sum("sent"))
            .order_by("minute", "session_id")
        )

    @classmethod
    def requests_since(cls, session_ids: list[int], start) -> dict[int, int]:
        """Session id → requests it made since ``start`` in every campaign (by a batch's first
        request: a batch that straddles ``start`` counts whole)."""
        rows = (
            cls.objects.filter(session_id__in=session_ids, first_started_at__gte=start)
            .values_list("session_id")
            .annotate(n=models.Sum("requests"))
            .order_by()
        )
        return {sid: n for sid, n in rows if n}

    @classmethod
    def compact(cls, campaign_id: int) -> None:
        """Fold the campaign's batch rows into one row per session and minute. Only the rows read
        are deleted (by id), so a batch recorded meanwhile is never lost."""
        from django.db import transaction

        with transaction.atomic():
            fresh = cls.objects.filter(campaign_id=campaign_id, folded=False)
            last = fresh.aggregate(m=models.Max("id"))["m"]
            if last is None:
                return
            fresh = fresh.filter(id__lte=last)
            rows = list(
                fresh.annotate(minute=TruncMinute("first_started_at", tzinfo=UTC))
                .values("session_id", "minute")
                .annotate(
                    requests_=models.Sum("requests"),
                    sent_=models.Sum("sent"),
                    retries_=models.Sum("retries"),
                    floods_=models.Sum("floods"),
                    latency_=models.Sum("latency_ms"),
                    first_=models.Min("first_started_at"),
                    last_=models.Max("last_finished_at"),
                )
                .order_by()
            )
            fresh.delete()
            cls.objects.bulk_create(
                cls(
                    campaign_id=campaign_id,
                    session_id=r["session_id"],
                    requests=r["requests_"],
                    sent=r["sent_"],
                    retries=r["retries_"],
                    floods=r["floods_"],
                    latency_ms=r["latency_"],
                    first_started_at=r["first_"],
                    last_finished_at=r["last_"],
                    folded=True,
                )
                for r in rows
            )


def recount(campaign_id: int | None = None, connection=default_connection) -> None:
    """Count the tally of one campaign (or of all) afresh from the results: the repair for a
    tally that disagrees with the rows (rows deleted by hand, a ``TRUNCATE``, a trigger that was
    off). On PostgreSQL one statement — its DELETE and its count read one snapshot, so deltas of
    writers that commit meanwhile are neither deleted nor counted twice; SQLite has one writer."""
    where, params = ("WHERE campaign_id = %s", [campaign_id]) if campaign_id is not None else ("", [])
    count = (
        f"INSERT INTO {TALLY} (campaign_id, session_id, status, error_code, n) "
        f"SELECT campaign_id, COALESCE(session_id, 0), status, error_code, COUNT(*) FROM {RESULTS} "
        f"{where} GROUP BY 1, 2, 3, 4"
    )
    from django.db import transaction

    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"WITH gone AS (DELETE FROM {TALLY} {where}) {count}", params + params)
        else:
            cursor.execute(f"DELETE FROM {TALLY} {where}", params)
            cursor.execute(count, params)
