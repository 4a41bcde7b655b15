"""Adding and removing tags on many recipient rows at once (a list's recipients selected in the
admin, up to every row of a million-row list; a person's rows on their page).

Each call is one statement per tag, whatever the number of rows: adding is ``INSERT …
SELECT`` from the selection (a row that has the tag already is skipped by the unique
constraint, ``ON CONFLICT DO NOTHING``), removing one ``DELETE`` whose ``WHERE`` is the selection.
The rows never travel to Python.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..lists.tag_cells import split_tags
from ..models import Recipient, RecipientTag, Tag, tag_key


def add_tags(recipients: QuerySet, names: list[str]) -> tuple[list[Tag], int]:
    """Tag every row of ``recipients`` (a Recipient queryset) with ``names`` (created where
    missing, any case: :meth:`TagQuerySet.named`). Returns (the tags, links written)."""
    tags = Tag.objects.named(names)
    sql, params = recipients.order_by().values("pk").query.sql_with_params()
    table = connection.ops.quote_name(RecipientTag._meta.db_table)
    rows = connection.ops.quote_name(Recipient._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    added = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for tag in tags:
            # (SQLite needs the WHERE before ON CONFLICT to read an INSERT … SELECT.)
            cursor.execute(
                f"INSERT INTO {table} (recipient_id, tag_id, created_at) "
                f"SELECT {rows}.id, %s, %s FROM {rows} WHERE {rows}.id IN ({sql}) "
                "ON CONFLICT (recipient_id, tag_id) DO NOTHING",
                [tag.pk, now, *params],
            )
            added += max(cursor.rowcount, 0)
    return tags, added


def remove_tags(recipients: QuerySet, names: list[str]) -> tuple[list[Tag], int]:
    """Take the tags called ``names`` (any case) off every row of ``recipients``; a name that is
    no tag is ignored. Returns (the tags found, links removed)."""
    tags = list(Tag.objects.filter(key__in={tag_key(n) for n in names if tag_key(n)}))
    if not tags:
        return [], 0
    links = RecipientTag.objects.filter(tag__in=tags, recipient_id__in=recipients.order_by().values("pk"))
    return tags, links.delete()[0]


def parse_names(text: str) -> list[str]:
    """Tag names staff typed in one box: separated by commas, semicolons or new lines."""
    return list(split_tags(text))


__all__ = ["add_tags", "parse_names", "remove_tags"]
