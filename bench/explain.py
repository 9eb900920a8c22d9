"""The plans of the statements the code really runs: captured with their parameters, then EXPLAINed.

Reads and updates are run again under EXPLAIN (ANALYZE, BUFFERS) in a transaction that is rolled
back, so nothing they would change stays changed; an INSERT gets a plain EXPLAIN (a VALUES insert
scans nothing, and running it again would hit its unique keys). A sequential scan of a table with
more than BIG_TABLE rows (pg_class.reltuples, so ANALYZE the tables first) is flagged.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

BIG_TABLE = 1000
SKIP = ("SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT", "BEGIN", "SET ")


@contextmanager
def captured() -> Iterator[list[tuple[str, Any]]]:
    """Every statement run in this process's connection inside the block: [(sql, params)]."""
    from django.db import connection

    seen: list[tuple[str, Any]] = []

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if not many:
            seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield seen


def plans(statements: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """One entry per distinct statement (SAVEPOINTs and the like left out): its plan and what it scans."""
    out, done = [], set()
    for sql, params in statements:
        if sql.lstrip().upper().startswith(SKIP) or sql in done:
            continue
        done.add(sql)
        text = _explain(sql, params)
        out.append({"sql": " ".join(sql.split()), "plan": text, "scans": scans(text),
                    "seq_scans_big": [t for t in re.findall(r"Seq Scan on (\w+)", text) if _rows(t) > BIG_TABLE],
                    "ms": _execution_ms(text)})
    return out


def _explain(sql: str, params: Any) -> str:
    from django.db import connection, transaction

    analyze = not sql.lstrip().upper().startswith("INSERT")
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN "
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(prefix + sql, params)
            text = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return text


def scans(plan: str) -> list[str]:
    """The plan's scan nodes, e.g. 'Index Scan using tasks_app_task_pkey on tasks_app_task'."""
    found = re.findall(r"((?:Parallel )?(?:Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan|Bitmap Index Scan)"
                       r"(?: Backward)?(?: using \w+)? on \w+)", plan)
    return list(dict.fromkeys(found))


def _execution_ms(plan: str) -> float | None:
    match = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return float(match.group(1)) if match else None


def _rows(table: str) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        row = cursor.fetchone()
    return float(row[0]) if row else 0.0
