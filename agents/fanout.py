"""Fan-out and fan-in of a parallel plan (agents/dag.py): the task's lease holder hands out ready steps.

Every wake-up of a parallel task lands here under the task's lease. It hands each step whose
dependencies are all finished to a worker of its own (a `pending` row, claimed by that worker,
tasks_app/step_claims.py; the step itself runs in agents/branch.py), hands out again a step
whose claim lapsed (its worker died), and completes the run once every step finished. A
finished step wakes this again, so a step that waits for several starts when the last of them
ends (fan-in). Limits and the credit check count every step in flight, and nothing is handed
out unless the task is executing, so pause and cancel act at step boundaries.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tasks_app import leases, step_claims
from tasks_app.models import StepStatus, Task, TaskExecution

from . import credits, dag, for_each
from .dispatch import enqueue
from .finish import complete_task, fail_task
from .planner import version_of
from .step_record import finished_steps, run_rows
from .toolcontext import idempotency_key


def advance(task: Task, token: str) -> str:
    """Hand out what may run now, or complete the run; releases the task's lease. Returns what happened."""
    rows = run_rows(task)
    finished = {n for n, row in rows.items() if row["status"] == StepStatus.COMPLETED}
    try:  # the plan grows by a for_each step's items, or one is recorded once they all finished (which
        # may make the next for_each step ready): until neither happens
        while for_each.expand(task, rows, finished) or for_each.gather(task, rows, finished):
            rows = run_rows(task)
            finished = {n for n, row in rows.items() if row["status"] == StepStatus.COMPLETED}
    except for_each.ForEachError as exc:
        fail_task(task.id, token, str(exc))
        return "failed"
    plan = task.plan or {}
    if len(finished) == len(plan.get("steps", [])):
        task.refresh_from_db()  # the last steps added their counters after this wake-up read the task
        complete_task(task, token, finished_steps(rows))
        return "completed"
    now = timezone.now()
    again = [n for n, row in rows.items() if n not in finished and step_claims.due(row["claim_expires_at"], now)]
    new = [n for n in dag.ready(plan, finished, started=set(rows)) if not for_each.gathers(plan, n)]
    in_flight = len(rows) - len(finished) - len(again)
    room = settings.AGENT_MAX_TOOL_CALLS - task.tool_calls - in_flight
    handing = sorted(again + new)[:max(0, room)]
    if not handing:
        if in_flight == 0 and room <= 0:
            fail_task(task.id, token, f"task reached the limit of {settings.AGENT_MAX_TOOL_CALLS} tool calls "
                                      "(AGENT_MAX_TOOL_CALLS)")
            return "failed"
        leases.release(task.id, token)
        return "waiting-for-steps"  # the steps in flight wake the task when they finish
    cost = sum(credits.step_estimate(task, n) for n in new if n in handing)
    if credits.pause_if_over(task, token, cost, f"steps {', '.join(map(str, handing))}"):
        return "paused-credit-limit"  # resuming hands them out then
    with transaction.atomic():
        for number in handing:
            _hand_out(task, plan, number, existing=number in rows)
        leases.release(task.id, token)
    return f"handed-out {len(handing)}"


def _hand_out(task: Task, plan: dict[str, Any], number: int, *, existing: bool) -> None:
    """A `pending` row for the step (or its lapsed one again), and a wake-up for a worker to claim it."""
    until = step_claims.lease_end()  # nobody claimed it by then: handed out again
    if existing:
        rows = TaskExecution.objects.filter(task_id=task.id, run=task.attempts, step=number)
        if not step_claims.lapsed(rows).update(claim_owner=None, claim_expires_at=until):
            return  # a worker claimed it since we looked
    else:
        step = plan["steps"][number - 1]
        TaskExecution.objects.create(
            task_id=task.id, run=task.attempts, step=number, action=step["action"],
            tool=step["action"].split(".", 1)[0], input={}, status=StepStatus.PENDING,
            reasoning=step.get("description") or "", idempotency_key=idempotency_key(task, number),
            plan_version=version_of(plan), claim_expires_at=until)
    enqueue("branch", task.id, task.attempts, number, priority=task.priority)
