"""Counting what one step (or one request) asks of the database, in this process: statements, writes,
commits, and the time each statement took.

Django's execute_wrapper sees every statement (and the rows a write changed); the commit of an
atomic block is counted by wrapping the connection's commit(). A statement outside any atomic
block is its own transaction (autocommit), so it counts as a commit too; a "write commit" is
one that changed at least one row.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

WRITES = ("INSERT", "UPDATE", "DELETE")


@dataclass
class DbCost:
    statements: int = 0
    writes: int = 0  # INSERT/UPDATE/DELETE statements, whether or not they matched a row
    rows: int = 0  # rows they changed
    commits: int = 0  # transactions, read-only ones included
    write_commits: int = 0
    sql: list[str] = field(default_factory=list)  # each statement, shortened, with T (in a transaction) or A
    timed: list[tuple[str, float]] = field(default_factory=list)  # each statement, shortened, and its seconds
    _pending_write: bool = False

    @property
    def seconds(self) -> float:
        return sum(took for _, took in self.timed)

    def as_dict(self) -> dict[str, int]:
        return {"statements": self.statements, "writes": self.writes, "rows": self.rows, "commits": self.commits,
                "write_commits": self.write_commits}


@contextmanager
def counting() -> Iterator[DbCost]:
    from django.db import connection

    cost = DbCost()

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        started = time.perf_counter()
        result = execute(sql, params, many, context)
        cost.timed.append((sql[:70], time.perf_counter() - started))
        is_write = sql.lstrip().upper().startswith(WRITES)
        changed = max(0, context["cursor"].rowcount) if is_write else 0
        cost.statements += 1
        cost.writes += is_write
        cost.rows += changed
        where = "T" if connection.in_atomic_block else "A"
        cost.sql.append(f"{where} {' '.join(sql.split())[:100]}" + (f"  [{changed} row(s)]" if is_write else ""))
        if connection.in_atomic_block:
            cost._pending_write |= changed > 0
        else:
            cost.commits += 1
            cost.write_commits += changed > 0
        return result

    connection.ensure_connection()
    commit = connection.commit

    def counted_commit() -> None:
        cost.commits += 1
        cost.write_commits += cost._pending_write
        cost._pending_write = False
        cost.sql.append("  COMMIT")
        commit()

    connection.commit = counted_commit  # type: ignore[method-assign]
    try:
        with connection.execute_wrapper(wrapper):
            yield cost
    finally:
        del connection.commit
