"""Orchestration: planning a run, running a step, and sweeping lapsed leases.

These are the functions the Celery tasks (and the inline runner) call.
"""
from __future__ import annotations

import logging
import time

from django.db import transaction
from django.utils import timezone

from tasks_app import leases, lifecycle
from tasks_app.models import Task, TaskStatus

from . import credits, first_plan, step_reads
from .admission import admit
from .approvals import expire_overdue
from .dispatch import enqueue
from .errors import describe
from .executor import run_leased_step
from .finish import fail_task
from .llm import get_provider
from .planner import plan_task
from .replan import charge_gave_up, retry_planning_later

log = logging.getLogger(__name__)


PLANNING_OR_EXECUTING = (TaskStatus.PLANNING, TaskStatus.EXECUTING)


def plan(task_id: str) -> str:
    """Build and store the plan of a task in `planning`, then wake its first step."""
    token = leases.new_token()
    if not leases.take(task_id, token, statuses=PLANNING_OR_EXECUTING):
        return "not-leased"
    return _plan(Task.objects.select_related("user").get(id=task_id), token)


def _plan(task: Task, token: str) -> str:
    task_id = task.id
    # planned already (a duplicate wake-up), or a run in progress admitted again (resumed or
    # requeued after waiting in `queued`): it keeps its plan and continues where it stopped
    if task.plan and (task.status == TaskStatus.EXECUTING or task.current_step > 0):
        with transaction.atomic():
            leases.release(task_id, token)
            lifecycle.apply("planned", task_id=task_id)
        enqueue("step", task_id, priority=task.priority)
        return "already-planned"
    if credits.pause_if_over(task, token, credits.planning_estimate(task), "planning"):
        return "paused-credit-limit"  # resuming plans it then
    started = time.monotonic()
    try:
        with leases.keep_alive(task_id, token):  # a model may take a while to write the plan
            planned = plan_task(goal="\n\n".join(filter(None, [task.title, task.description])),
                                agent_type=task.agent_type, agent_config=task.agent_config,
                                explicit_plan=task.plan, provider=get_provider(), user_id=task.user_id,
                                model=task.agent_model)
    except Exception as exc:
        if retry_planning_later(task, token, exc):
            return "retry-scheduled"
        charge_gave_up(task, token, exc, at_step=0)  # a model that gave no valid plan still spent tokens
        fail_task(task_id, token, f"planning failed: {describe(exc)}")
        return "failed"
    moved = first_plan.store(task, token, planned, int((time.monotonic() - started) * 1000))
    return "planned" if moved else "planned-not-started"


def step(task_id: str, lease: str | None = None) -> str:
    """Run one step; a task without its plan (resumed before planning finished) plans first.

    `lease`: the token of the lease the step before handed over to this wake-up; without one (the
    first step, a resume, a retry, the sweeper), the lease is taken here."""
    if lease is None:
        lease = leases.new_token()
        if not leases.take(task_id, lease, statuses=PLANNING_OR_EXECUTING):
            return "not-leased"
    task = step_reads.leased(task_id, lease)  # the task, its owner and what the step reads, at once
    if task is None:  # not ours: a duplicate, or the lease lapsed and was taken by another wake-up
        return "not-leased"
    if task.status == TaskStatus.PLANNING or task.plan is None:
        return _plan(task, lease)
    if task.status != TaskStatus.EXECUTING:  # paused or cancelled after it handed over the lease
        leases.release(task_id, lease)
        return "not-executing"
    return run_leased_step(task, lease)


def sweep() -> dict[str, int]:
    """Re-enqueue active tasks whose lease lapsed or whose wake-up was lost (Redis restarted),
    and admit waiting runs whose admission was lost (a worker died after freeing a slot)."""
    admitted = len(admit())
    expire_overdue()  # approvals nobody decided in AGENT_APPROVAL_TTL_S: their tasks are cancelled
    woken = 0
    for task_id, priority in leases.lapsed():
        status = Task.objects.filter(id=task_id).values_list("status", flat=True).first()
        enqueue("plan" if status == TaskStatus.PLANNING else "step", task_id, priority=priority)
        woken += 1
    if woken or admitted:
        log.info("sweeper re-enqueued %d and admitted %d task(s) at %s", woken, admitted, timezone.now().isoformat())
    return {"reenqueued": woken, "admitted": admitted}


