"""Why a step's read stays out of its write transaction: what a migration does to the steps when it
does not (measured, not argued).

A step reads its task, calls its tool, then writes. If the read were in the write transaction, that
transaction would hold the read's AccessShareLock on the task table for the length of the tool call.
A migration's `ALTER TABLE` needs an AccessExclusiveLock: it waits for that transaction, and every
statement on the table queues behind the waiting ALTER (PostgreSQL's lock queue). Three connections
play it out on the bench database: a step that holds its read for `hold_s` (the tool call), an ALTER
that arrives `0.1 s` later, and another step's read that arrives `0.2 s` later. Once with the read in
the step's transaction, once with the read in autocommit, as the engine does.
"""
from __future__ import annotations

import threading
import time
from typing import Any

import psycopg

from bench import config

STEP_READ = "SELECT id, status, current_step FROM tasks_app_task WHERE id = %s"


def measure(hold_s: float = 1.0) -> dict[str, Any]:
    """The other step's read latency and the ALTER's wait, in seconds, for both ways of reading."""
    from django.contrib.auth import get_user_model

    from tasks_app.models import Task

    owner = get_user_model().objects.create_user(username="lockqueue", email="lockqueue@bench.local")
    task = Task.objects.create(user=owner, title="lock queue", status="executing")
    try:
        return {"hold_s": hold_s, "in_transaction": _play(task.id, hold_s, in_transaction=True),
                "autocommit": _play(task.id, hold_s, in_transaction=False)}
    finally:
        task.delete()
        owner.delete()


def _play(task_id: str, hold_s: float, *, in_transaction: bool) -> dict[str, float]:
    took: dict[str, float] = {}
    start = threading.Barrier(3)

    def step() -> None:
        with psycopg.connect(config.DATABASE_URL, autocommit=not in_transaction) as conn:
            start.wait()
            conn.execute(STEP_READ, [task_id])
            time.sleep(hold_s)  # the tool call
            conn.commit()

    def migration() -> None:
        with psycopg.connect(config.DATABASE_URL, autocommit=True) as conn:
            start.wait()
            time.sleep(0.1)
            began = time.perf_counter()
            conn.execute("ALTER TABLE tasks_app_task ADD COLUMN bench_lock_probe integer")
            took["alter_s"] = time.perf_counter() - began
            conn.execute("ALTER TABLE tasks_app_task DROP COLUMN bench_lock_probe")

    def other_step() -> None:
        with psycopg.connect(config.DATABASE_URL, autocommit=True) as conn:
            start.wait()
            time.sleep(0.2)
            began = time.perf_counter()
            conn.execute(STEP_READ, [task_id])
            took["other_read_s"] = time.perf_counter() - began

    threads = [threading.Thread(target=fn) for fn in (step, migration, other_step)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=hold_s + 30)
    return took
