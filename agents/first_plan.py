"""Storing a run's first plan: its version, the task's plan and counters, the planning charge, and
planning -> executing; then the first step is woken.

The worker's planning wake-up stores what the planner made (store: in the UPDATE that releases the
planning lease; agents/orchestrator.py). A person's own plan needs no model, so admission plans it in
the transaction that starts the run (start: one UPDATE, no lease; agents/admission.py): that commit
wakes the first step, with no planning wake-up and broker hop in between.
"""
from __future__ import annotations

import time
from typing import Any

from django.db import transaction

from tasks_app import leases, lifecycle
from tasks_app.models import Task, TaskStatus

from . import credits, plan_record
from .dispatch import enqueue
from .plan import PlanError
from .planner import PlannedTask, own_plan


def ahead(task: Task) -> tuple[PlannedTask, int] | None:
    """The plan of the task's next run and the milliseconds it took, when it is the person's own
    (made before the run is admitted, outside the admission lock); None when the worker plans it."""
    if task.agent_type is not None:
        return None  # a typed agent's template or model plans every run afresh
    started = time.monotonic()
    try:
        planned = own_plan(task.plan, user_id=task.user_id)
    except PlanError:
        return None  # the planning wake-up fails the run with the plan's problems
    return None if planned is None else (planned, int((time.monotonic() - started) * 1000))


def start(task: Task, fields: dict[str, Any], planned: PlannedTask, elapsed_ms: int) -> None:
    """Start the run of `task` (a slot is free, under the admission lock) with the plan made ahead:
    the plan version, then one UPDATE that starts the run with `fields`, stores the plan and makes
    it executing (its three events in one INSERT); its commit wakes the first step."""
    started = _as_started(task, fields)
    entry, trace = plan_record.stored_version(
        started, version=1, kind="initial", source=planned.source, at_step=0, reason=planned.reason,
        plan=planned.plan, tokens=planned.tokens, credits=planned.credits, model=planned.model)
    lifecycle.start_planned(task_id=task.id, plan_event=entry,
                            **{**fields, **_plan_fields(started, planned, elapsed_ms, trace)})
    credits.charge_planning(started, planned.credits, planned.tokens)
    enqueue("step", task.id, priority=task.priority)


def _as_started(task: Task, fields: dict[str, Any]) -> Task:
    """`task` as starting the run with `fields` leaves it, without reading it back: the values it
    writes (the lifetime totals it sums in SQL are not needed to store the plan)."""
    for name, value in fields.items():
        if not hasattr(value, "resolve_expression"):
            setattr(task, name, value)
    task.status = TaskStatus.PLANNING
    return task


def _plan_fields(task: Task, planned: PlannedTask, elapsed_ms: int, trace: dict[str, Any]) -> dict[str, Any]:
    """What storing the plan writes to the task (read as planning left it)."""
    return {"plan": planned.plan, "total_steps": planned.total_steps, "plan_tokens": planned.tokens,
            "plan_credits": planned.credits, "total_credits": task.total_credits + planned.credits,
            "total_tokens": task.total_tokens + planned.tokens, "execution_time": task.execution_time + elapsed_ms,
            "execution_trace": trace}


def store(task: Task, token: str, planned: PlannedTask, elapsed_ms: int) -> bool:
    """Store the plan of the run `task` (as read in `planning`, its lease held by `token`) and wake
    its first step; False when the run is no longer planning (paused, cancelled meanwhile)."""
    with transaction.atomic():
        trace = plan_record.record(task, version=1, kind="initial", source=planned.source, at_step=0,
                                   reason=planned.reason, plan=planned.plan, tokens=planned.tokens,
                                   credits=planned.credits, model=planned.model)
        stored = _plan_fields(task, planned, elapsed_ms, trace)
        credits.charge_planning(task, planned.credits, planned.tokens)
        # the plan, the lease released and executing in one UPDATE; a task resumed while it was
        # planning is executing already: its plan is stored all the same
        moved = lifecycle.apply("planned", task_id=task.id, lease=token, lease_owner=None, lease_expires_at=None,
                                **stored)
        if not moved:
            leases.release(task.id, token, **stored)
            moved = task.status == TaskStatus.EXECUTING
    if moved:
        enqueue("step", task.id, priority=task.priority)
    return moved
