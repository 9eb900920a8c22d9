"""A step with a big database behind it: 10,000 tasks queued and 100,000 step rows.

The last stage of a run (no worker running; the database is emptied first and after). Step 2 of
100-step noop tasks is timed in this process as bench/growth.py times it, empty / with the backlog /
empty again (A-B-A, so a change in the machine's load shows), and the statements of every hot
query are captured as the code runs them and EXPLAINed with the backlog in place: one engine step
(lease take, step row, task counters, event), admission, the sweeper, the status and trace endpoints.
"""
from __future__ import annotations

import statistics
import time
from datetime import timedelta
from typing import Any

import redis

from bench import config, db, explain, growth, machine
from bench.layers import noop_plan
from bench.stats import ratio

PRIORITIES = ("urgent", "high", "medium", "low")
STEPS_PER_DONE_TASK = 100


def measure(queued: int, rows: int, samples: int) -> dict[str, Any]:
    """Step 2's ms (median over `samples` tasks) empty, with the backlog, empty again; the hot
    queries' plans with the backlog; the backlog is gone afterwards (the database is flushed)."""
    loads = [machine.load_average()]
    empty_before = _phase(samples)
    loads.append(machine.load_average())
    user, token, ids = _fresh(samples + 1)
    filled = _fill(user, queued, rows)
    with_backlog = [growth.timed_step(task_id, growth.EARLY) * 1000 for task_id in ids[:samples]]
    loads.append(machine.load_average())
    queries = _hot_queries(user, token, ids[samples])
    empty_after = _phase(samples)
    loads.append(machine.load_average())
    empty, full = statistics.median(empty_before + empty_after), statistics.median(with_backlog)
    return {"queued": queued, "rows": rows, "samples": samples, "filled": filled, "empty_ms": empty,
            "backlog_ms": full, "ratio": ratio(full, empty), "empty_before_ms": empty_before,
            "backlog_runs_ms": with_backlog, "empty_after_ms": empty_after, "loads": loads, "queries": queries}


def _fresh(tasks: int) -> tuple[Any, str, list[str]]:
    """An empty database, one user and `tasks` started tasks at step 2 (started before any backlog
    exists: with 10,000 runs waiting, admission would queue them)."""
    from django.core.management import call_command

    call_command("flush", verbosity=0, interactive=False)
    redis.Redis.from_url(config.REDIS_URL).flushdb()  # the wake-ups the in-process steps sent
    db.checkpoint()  # the flush's dirty pages, written before steps are timed
    user, token = db.make_users("backlog", 1)[0]
    return user, token, [growth.prepared(user, title=f"backlog sample {i}") for i in range(tasks)]


def _phase(samples: int) -> list[float]:
    _, _, ids = _fresh(samples)
    return [growth.timed_step(task_id, growth.EARLY) * 1000 for task_id in ids]


def _fill(user: Any, queued: int, rows: int) -> dict[str, Any]:
    """`queued` waiting runs and `rows` step rows (of finished 100-step tasks) over 10 users, the
    measured one among them, each step row with the event and the ledger debit its step wrote;
    then VACUUM ANALYZE, as autovacuum would after such a change, and a CHECKPOINT."""
    from django.apps import apps
    from django.db import connection
    from django.utils import timezone

    task_model, step_model = apps.get_model("tasks_app", "Task"), apps.get_model("tasks_app", "TaskExecution")
    event_model, debit_model = apps.get_model("tasks_app", "TaskEvent"), apps.get_model("tasks_app", "CreditEntry")
    started, now = time.monotonic(), timezone.now()
    owners = [user] + [u for u, _ in db.make_users("backlog-other", 9)]
    plan = noop_plan(5)
    # what those debits spent, granted first, so that the measured user's steps are not paused for credits
    debit_model.objects.bulk_create([debit_model(user=owner, reason="grant", amount=rows + 1_000_000,
                                                 note="bench backlog") for owner in owners])
    task_model.objects.bulk_create(
        [task_model(user=owners[i % len(owners)], title=f"queued {i}", status="queued", plan=plan,
                    priority=PRIORITIES[i % 4], attempts=1, queued_at=now - timedelta(seconds=i))
         for i in range(queued)], batch_size=2000)
    done = task_model.objects.bulk_create(
        [task_model(user=owners[i % len(owners)], title=f"done {i}", status="completed",
                    plan=noop_plan(STEPS_PER_DONE_TASK), attempts=1, current_step=STEPS_PER_DONE_TASK,
                    total_steps=STEPS_PER_DONE_TASK, tool_calls=STEPS_PER_DONE_TASK, event_seq=STEPS_PER_DONE_TASK,
                    completed_at=now) for i in range(max(1, rows // STEPS_PER_DONE_TASK))], batch_size=2000)
    for first in range(0, rows, 5000):
        made: dict[Any, list[Any]] = {step_model: [], event_model: [], debit_model: []}
        for n in range(first, min(rows, first + 5000)):
            task, step = done[n // STEPS_PER_DONE_TASK % len(done)], n % STEPS_PER_DONE_TASK + 1
            made[step_model].append(step_model(
                task=task, run=1, step=step, action="noop.pass", tool="noop", input={"n": step},
                output={"ok": True}, status="completed", idempotency_key=f"{task.id}:1:{step}", completed_at=now))
            made[event_model].append(event_model(task=task, seq=step, type="step",
                                                 payload={"step": step, "status": "completed"}))
            made[debit_model].append(debit_model(user_id=task.user_id, task=task, task_ref=task.id, run=1, step=step,
                                                 reason="tool", amount=-1, action="noop.pass"))
        for model, objects in made.items():
            model.objects.bulk_create(objects)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # what autovacuum would do after such a change
    db.checkpoint()  # the bulk insert's dirty pages, written before steps are timed
    return {"seconds": time.monotonic() - started, "users": len(owners), "done_tasks": len(done)}


def _hot_queries(user: Any, token: str, task_id: str) -> dict[str, list[dict[str, Any]]]:
    """Capture each hot query as the code runs it (with the backlog in place), then EXPLAIN it."""
    from django.test import override_settings

    from bench.api import client_for
    from tasks_app import leases, services

    groups: dict[str, list[tuple[str, Any]]] = {}
    with explain.captured() as seen:
        growth.timed_step(task_id, growth.EARLY)
    groups["engine step (step 2: its reads, step row, task counters, event)"] = list(seen)
    with explain.captured() as seen:  # held by the wake-up it was handed to: this take changes nothing
        leases.take(task_id, leases.new_token())
    groups["lease take (leases.take: a first step's, a resumed or swept task's)"] = list(seen)
    # a slot frees while 10,000 runs wait: admission scans the queue; with a per-user limit of 0
    # it starts none of them, so the backlog stays as it is
    pending = services.task_create(user=user, title="backlog admission", plan=noop_plan(2))
    with override_settings(AGENT_MAX_CONCURRENT_PER_USER=0), explain.captured() as seen:
        services.task_execute(task=pending)
    groups["admission (POST execute of a task while runs wait; the queue scan)"] = list(seen)
    with explain.captured() as seen:
        leases.lapsed()
    groups["sweeper (leases.lapsed)"] = list(seen)
    growth.run_to(task_id, growth.EARLY + 1, growth.STEPS + 1)  # then read a finished 100-step task
    growth.finish(task_id)
    client = client_for(token)
    for name, path in (("status endpoint", f"/api/agent/status/{task_id}"),
                       ("trace endpoint", f"/api/agent/{task_id}/trace")):
        with explain.captured() as seen:
            response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
        groups[f"{name} (GET {path.replace(task_id, '{id}')}, a finished 100-step task)"] = list(seen)
    return {name: explain.plans(statements) for name, statements in groups.items()}
