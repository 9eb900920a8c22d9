"""Admission: at most AGENT_MAX_CONCURRENT running agents, AGENT_MAX_CONCURRENT_PER_USER per user.

A run that finds no free slot is not refused: it waits in `queued` and is admitted in
priority order (urgent, high, medium, low; then first come) when a slot frees: a run
that finishes admits the next ones, and so does the sweeper. Admissions are serialized
by a transaction-scoped PostgreSQL advisory lock, so two workers never both take the
last slot.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F
from django.utils import timezone

from tasks_app import lifecycle
from tasks_app.models import Task, TaskExecution
from tasks_app.models import TaskStatus as S

from . import first_plan, trace
from .dispatch import enqueue

ADMISSION_LOCK = 0x58414E54  # "XANT": pg_advisory_xact_lock key
RANK = {"urgent": 0, "high": 1, "medium": 2, "low": 3}


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADMISSION_LOCK])


def _running_per_user() -> dict[int, int]:
    rows = Task.objects.filter(status__in=lifecycle.ACTIVE).values("user_id").annotate(n=Count("id"))
    return {row["user_id"]: row["n"] for row in rows}


def new_run_fields(task: Task) -> dict[str, Any]:
    """What a new run resets: attempts+1 numbers its TaskExecution rows apart from earlier runs."""
    now = timezone.now()
    return {
        "attempts": task.attempts + 1, "current_step": 0, "tool_calls": 0, "result": None, "error": None,
        "started_at": now, "last_run_at": now, "completed_at": None, "failed_at": None, "total_tokens": 0,
        "total_credits": 0, "execution_time": 0, "tool_state": {}, "queued_at": now,
        # the finished run's totals join the lifetime ones in the same UPDATE that resets them
        # (SQL reads the old values), so a repeated start adds nothing twice
        "lifetime_tokens": F("lifetime_tokens") + F("total_tokens"),
        "lifetime_credits": F("lifetime_credits") + F("total_credits"),
        "lifetime_execution_time": F("lifetime_execution_time") + F("execution_time"),
        "plan": task.plan if task.agent_type is None else None,  # typed agents replan every run
        "execution_trace": trace.empty(task.id),
    }


def request_run(task: Task, *, fields: dict[str, Any] | None = None) -> bool:
    """Start a new run of `task` now if a slot is free, else queue it; True if it started.

    `fields` are what the run starts with (default: a fresh run, new_run_fields; a person's own plan
    is then planned in the same transaction, so the run is executing when this returns). Raises
    lifecycle.TransitionNotAllowed when the task is active (planning, executing ...).
    """
    planned = first_plan.ahead(task) if fields is None else None  # a person's own plan needs no model
    fields = fields if fields is not None else new_run_fields(task)
    with transaction.atomic():
        _lock()
        if _slot_free(task.user_id):
            if planned is None:
                lifecycle.require("start", task_id=task.id, **fields)
                enqueue("plan", task.id, priority=task.priority)
                return True
            first_plan.start(task, fields, *planned)  # this transaction's commit wakes the first step
            return True
        lifecycle.require("queue", task_id=task.id, **fields)
    admit()
    return Task.objects.filter(id=task.id, status__in=lifecycle.ACTIVE).exists()


def request_resume(task: Task) -> bool:
    """Resume a paused run now if a slot is free, else let it wait in `queued`; True if it resumed.

    A queued run keeps its plan and steps: when admitted it continues where it stopped.
    """
    with transaction.atomic():
        _lock()
        if _slot_free(task.user_id):
            lifecycle.require("resume", task_id=task.id)
            enqueue("step", task.id, priority=task.priority)
            return True
        lifecycle.require("resume_later", task_id=task.id, queued_at=timezone.now())
    admit()
    return Task.objects.filter(id=task.id, status__in=lifecycle.ACTIVE).exists()


def _slot_free(user_id: int) -> bool:
    """Under the admission lock: a slot overall (after those already waiting) and one for this user.
    Two indexed reads (status): counting the waiting and the running in one would scan the table."""
    running = _running_per_user()
    waiting = Task.objects.filter(status=S.QUEUED).count()
    free = settings.AGENT_MAX_CONCURRENT - sum(running.values())
    return free > waiting and running.get(user_id, 0) < settings.AGENT_MAX_CONCURRENT_PER_USER


def requeue_failed_run(task_id: str, step: int) -> None:
    """A dead letter requeued: the failed run waits for a slot, then continues at `step`."""
    with transaction.atomic():
        lifecycle.require("requeue", task_id=task_id, error=None, failed_at=None, queued_at=timezone.now())
        TaskExecution.objects.filter(task_id=task_id, step=step, status="failed",
                                     run=Task.objects.get(id=task_id).attempts).update(attempts=0)
    admit()


def admit() -> list[str]:
    """Start waiting runs, best priority first, while slots are free; returns the ids started."""
    started: list[str] = []
    with transaction.atomic():
        _lock()
        running = _running_per_user()
        free = settings.AGENT_MAX_CONCURRENT - sum(running.values())
        if free <= 0:
            return started
        for task_id, user_id, priority in _waiting():
            if free <= 0:
                break
            if running.get(user_id, 0) >= settings.AGENT_MAX_CONCURRENT_PER_USER:
                continue
            if lifecycle.apply("start", task_id=task_id, started_at=timezone.now()):
                enqueue("plan", task_id, priority=priority)
                running[user_id] = running.get(user_id, 0) + 1
                free -= 1
                started.append(task_id)
    return started


def _waiting() -> Iterator[tuple[str, int, str]]:
    """The waiting runs, best priority first, then first come: an indexed, ordered read per priority
    (`task_admission_queue`, or the (status, priority) index), so 10,000 waiting runs cost what 10 do.
    A priority is one of Priority's four (the API, the admin and the model's choices allow no other)."""
    for priority in sorted(RANK, key=RANK.__getitem__):
        ordered = (Task.objects.filter(status=S.QUEUED, priority=priority).order_by("queued_at", "created_at")
                   .values_list("id", "user_id", "priority"))
        for start in itertools.count(0, PAGE):  # pages: the caller usually stops within the first
            page = list(ordered[start:start + PAGE])
            yield from page
            if len(page) < PAGE:
                break


PAGE = 200
