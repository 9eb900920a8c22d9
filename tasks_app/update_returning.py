"""One UPDATE that also reads back what it wrote (RETURNING, on PostgreSQL and SQLite alike).

Django's `QuerySet.update()` answers only how many rows it changed; a counter taken in the
same statement (a task's next event number) would otherwise need a SELECT of its own.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections
from django.db.models import QuerySet
from django.db.models.sql import UpdateQuery


def update_returning(rows: QuerySet[Any], columns: Sequence[str], **fields: Any) -> tuple[Any, ...] | None:
    """rows.update(**fields) as Django's own compiler writes it, returning the database `columns`
    ("event_seq", "user_id") of the row it changed (the first, if several), or None when it changed none."""
    query = rows.query.chain(UpdateQuery)
    query.add_update_values(fields)  # type: ignore[attr-defined]  # chain() made it an UpdateQuery
    sql, params = query.get_compiler(rows.db).as_sql()
    connection = connections[rows.db]
    returned = ", ".join(connection.ops.quote_name(column) for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {returned}", params)
        row = cursor.fetchone()
    return None if row is None else tuple(row)
