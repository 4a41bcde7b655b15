"""Running a list's import: inline for small files, in a django-q2 worker for large ones.

The mapping step's confirmation calls :func:`start_import`. A file up to
``TGC_IMPORT_INLINE_MAX_BYTES`` is imported at once, in one transaction. A larger one is queued
(``campaigns.tasks.import_recipient_list``) and :func:`run_import` imports it in the worker,
committing each batch and recording ``import_progress`` so the list's page can show it; a file
the import refuses leaves the list ``failed`` with the reason and no recipients.

The queue delivers a task at least once (ORM broker): a list is taken by a compare-and-set
from ``queued`` to ``running``, so a second delivery finds nothing to do, unless the import it
finds ``running`` has not moved for :data:`STALE_AFTER` (its worker died): then it starts again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from tgcampaigns import webhooks

from ..models import ImportStatus, RecipientList
from .columns import CONSENT, OPT_OUT, guess_roles
from .importing import ImportReport, forget_rows, import_recipient_list
from .limits import inline_max_bytes
from .mapping import Mapping, MappingError
from .table import ImportRefused

log = logging.getLogger(__name__)
TASK = "campaigns.tasks.import_recipient_list"
# Progress is recorded every batch (a few thousand rows, under a second); a large workbook is
# loaded whole before the first one.
STALE_AFTER = timedelta(minutes=10)


def start_import(
    recipient_list: RecipientList, mapping: Mapping, *, estimated_rows: int = 0
) -> ImportReport | None:
    """Import ``recipient_list``'s stored file with ``mapping``: now (returns the report) or, for
    a file over ``TGC_IMPORT_INLINE_MAX_BYTES``, in a worker (returns None; the list is
    ``queued``). Raises :class:`ImportRefused` for an inline import the file fails; the list is
    then left as it was."""
    recipient_list.mapping = mapping.as_json()
    recipient_list.default_region = mapping.default_region
    recipient_list.import_total = estimated_rows
    recipient_list.import_progress = 0
    recipient_list.import_error = ""
    if recipient_list.file.size <= inline_max_bytes():
        with recipient_list.file.open("rb") as source:
            report = import_recipient_list(recipient_list, source, mapping=mapping)
        announce(recipient_list.pk)
        return report
    recipient_list.import_status = ImportStatus.QUEUED
    recipient_list.save()
    enqueue_import(recipient_list.pk)
    return None


def enqueue_import(list_id: int) -> None:
    """Wake a worker for the import, once the transaction that queued it has committed."""
    transaction.on_commit(lambda: async_task(TASK, list_id, group=f"import-{list_id}"))


def run_import(list_id: int) -> str:
    """The worker's side: import a ``queued`` list; returns what happened, for the task log."""
    now = timezone.now()
    takeable = Q(import_status=ImportStatus.QUEUED) | _stalled(now)
    taken = RecipientList.objects.filter(takeable, pk=list_id).update(
        import_status=ImportStatus.RUNNING, import_progress=0, import_error="", import_updated_at=now
    )
    if not taken:
        return "not queued: nothing to do"
    recipient_list = RecipientList.objects.get(pk=list_id)
    forget_rows(recipient_list)  # what a dead worker wrote

    def progress(rows: int) -> None:
        RecipientList.objects.filter(pk=list_id).update(
            import_progress=rows, import_updated_at=timezone.now()
        )

    try:
        with recipient_list.file.open("rb") as source:
            report = import_recipient_list(
                recipient_list,
                source,
                mapping=Mapping.from_json(recipient_list.mapping),
                atomic=False,
                progress=progress,
            )
    except ImportRefused as exc:
        _failed(list_id, str(exc))
        announce(list_id)
        return f"refused: {exc}"
    except Exception as exc:
        log.exception("import of recipient list %s failed", list_id)
        forget_rows(recipient_list)
        _failed(
            list_id, f"the import stopped with an error ({type(exc).__name__}); try again or ask an operator"
        )
        announce(list_id)
        return "failed"
    announce(list_id)
    return f"{report.total_rows} rows"


def announce(list_id: int) -> None:
    """Emit ``import.finished`` for the list: its id, name, status (``done`` or ``failed``, with
    the reason) and the report's counts; no recipient."""
    found = (
        RecipientList.objects.filter(pk=list_id)
        .values(
            "name",
            "import_status",
            "import_error",
            "total_rows",
            "valid_count",
            "invalid_count",
            "duplicate_count",
        )
        .first()
    )
    if found is None:
        return
    webhooks.emit(
        webhooks.Event.IMPORT_FINISHED,
        {
            "list": {"id": list_id, "name": found["name"]},
            "status": found["import_status"],
            "error": found["import_error"],
            "counts": {
                "rows": found["total_rows"],
                "valid": found["valid_count"],
                "invalid": found["invalid_count"],
                "duplicates": found["duplicate_count"],
            },
        },
    )


def _failed(list_id: int, reason: str) -> None:
    RecipientList.objects.filter(pk=list_id).update(import_status=ImportStatus.FAILED, import_error=reason)


def _stalled(now) -> Q:
    return Q(import_status=ImportStatus.RUNNING, import_updated_at__lt=now - STALE_AFTER)


def is_stalled(recipient_list: RecipientList) -> bool:
    """Running, but without progress for :data:`STALE_AFTER`: its worker is gone."""
    updated = recipient_list.import_updated_at
    return recipient_list.import_status == ImportStatus.RUNNING and (
        updated is None or updated < timezone.now() - STALE_AFTER
    )


def retry_import(recipient_list: RecipientList) -> bool:
    """Queue a failed or stalled import again; False when it is neither."""
    again = RecipientList.objects.filter(
        Q(import_status=ImportStatus.FAILED) | _stalled(timezone.now()), pk=recipient_list.pk
    ).update(import_status=ImportStatus.QUEUED, import_progress=0, import_error="")
    if again:
        enqueue_import(recipient_list.pk)
    return bool(again)


def earlier_mapping(mapping: Mapping) -> Mapping | None:
    """Staff's choices (:meth:`.mapping.Mapping.choices`: roles, identity order, region …) in the
    mapping of the latest imported list whose file had the same header row as ``mapping``'s
    (``mapping.headers``), naming that list in ``reused_from``; or None. Nothing about that file
    (encoding, delimiter, sheet, header row) comes along: each file's are detected anew."""
    headers = list(mapping.headers)
    if not headers:
        return None
    earlier = (
        RecipientList.objects.filter(import_status=ImportStatus.DONE, mapping__headers=headers)
        .order_by("-created_at")
        .values_list("name", "mapping")
        .first()
    )
    if earlier is None:
        return None
    name, data = earlier
    try:
        reused = Mapping.from_json(data).choices().with_(headers=tuple(headers), reused_from=name)
    except MappingError:
        return None
    return reused.with_(roles=_with_withdrawal(reused.roles, headers))


def _with_withdrawal(roles: tuple[str, ...], headers: list[str]) -> tuple[str, ...]:
    """``roles`` with each column that the headers now name a consent or opt-out column read so
    again, where the earlier list kept it as a field or ignored it: a choice remembered from
    another file (or from before the header was known) never lets a "no" through unasked."""
    guessed = guess_roles(headers) or []
    safe = (CONSENT, OPT_OUT)
    kept = list(roles)
    for i, role in enumerate(roles):
        if i < len(guessed) and guessed[i] in safe and role not in safe:
            kept[i] = guessed[i]
    return tuple(kept)
