"""The execution trace: the one builder of its entries and of the document served (the trace endpoint).

A trace is `{"taskId", "steps": [entry, ...]}`, with `plans` (agents/plan_record.py), a
`rollback` report or `replayOf` where they apply. Task.execution_trace stores the document without
the entries of recorded steps: each is in its step row (TaskExecution.trace_entry), and document()
puts them together. Every step entry has `step`, `action`,
`status` and `timestamp`; inputs, outputs and errors are masked (tasks_app/redact.py) before
they are written, so no secret ever enters a trace.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils import timezone

from tasks_app.models import TaskExecution
from tasks_app.redact import redact, redact_output

if TYPE_CHECKING:
    from tasks_app.models import Approval, Task

    from .attempt import Attempt


def empty(task_id: str, **extra: Any) -> dict[str, Any]:
    """A trace with no steps yet (a new run's, or a replay's with `replayOf`)."""
    return {"taskId": task_id, "steps": [], **extra}


def copy_of(task: Task) -> dict[str, Any]:
    """A copy of the task's stored trace document to build on, or an empty one: its plans, rollback
    report and the entries of steps that have no row (a rejected approval's); see document()."""
    return dict(task.execution_trace or empty(task.id))


def document(task: Task) -> dict[str, Any]:
    """The trace as served (GET /api/agent/{id}/trace, the download, a dead letter): the stored document
    with the entry of each recorded step of the latest run, which its step row holds (save_row), in the
    order they happened. A step writes its entry with its row, so step 100 writes what step 2 does
    (a trace kept whole in the task's row was rewritten whole by every step); a trace stored before
    rows held their entries keeps its steps in the document."""
    stored = copy_of(task)
    rows = TaskExecution.objects.filter(task_id=task.id, run=task.attempts, trace_entry__isnull=False)
    rows = rows.order_by()  # no ORDER BY: sorted below, with the stored document's entries
    steps = [*stored.get("steps", []), *rows.values_list("trace_entry", flat=True)]
    stored["steps"] = sorted(steps, key=lambda entry: entry.get("timestamp") or "")  # ISO times, all UTC
    return stored


def with_step(task: Task, entry: dict[str, Any]) -> dict[str, Any]:
    """The task's trace with one more step entry."""
    trace = copy_of(task)
    trace["steps"] = [*trace.get("steps", []), entry]
    return trace


def step_entry(attempt: Attempt) -> dict[str, Any]:
    """A step that ran (or failed), masked by key and by the values the step marked secret."""
    entry = {
        "step": attempt.number, "reasoning": attempt.reasoning, "action": attempt.action,
        "input": redact(attempt.params, attempt.secrets), "output": redact_output(attempt.output, attempt.secrets),
        "timestamp": _now(),
        "status": "failed" if attempt.error else "completed", "tokens": attempt.tokens,
        "credits": attempt.charged, "duration": attempt.duration_ms, "planVersion": attempt.plan_version,
    }
    if attempt.error:
        entry["error"] = redact_output(attempt.error, attempt.secrets)
    return entry


def rejected_entry(approval: Approval, *, decided_by: str) -> dict[str, Any]:
    """A step a person refused: it never ran, the run ends cancelled."""
    return {"step": approval.step, "action": approval.action, "input": approval.input, "status": "rejected",
            "reason": approval.reason, "decidedBy": decided_by, "approvalId": approval.id, "timestamp": _now()}


def settled_entry(row: TaskExecution, *, settled_by: str) -> dict[str, Any]:
    """A step whose outcome was unknown and a person said it was done."""
    return {"step": row.step, "reasoning": row.reasoning, "action": row.action, "input": row.input,
            "output": row.output, "timestamp": _now(), "status": "completed", "settledBy": settled_by}


def replayed(task: Task, replay_id: str, *, before_step: int) -> dict[str, Any]:
    """A replay's stored trace: the steps of `task`'s last run before `before_step` that its document
    holds (the step rows it keeps bring their own entries: tasks_app/services.py copies them)."""
    kept = [s for s in (task.execution_trace or {}).get("steps", []) if s.get("step", 0) < before_step]
    return {**empty(replay_id, replayOf=task.id), "steps": kept}


def plan_entry(*, version: int, kind: str, source: str, at_step: int, reason: str, plan: dict[str, Any],
               tokens: int, credits: int) -> dict[str, Any]:
    """A version of the run's plan (its PlanVersion row holds the plan itself): the trace's `plans`."""
    return {"version": version, "kind": kind, "source": source, "atStep": at_step, "reason": reason,
            "totalSteps": len(plan.get("steps", [])), "tokens": tokens, "credits": credits,
            "estimate": (plan.get("planning") or {}).get("estimate"), "timestamp": _now()}


def with_plan(task: Task, entry: dict[str, Any]) -> dict[str, Any]:
    """The task's trace with one more `plans` entry (a new version, or a replanning call that kept the plan)."""
    trace = copy_of(task)
    trace["plans"] = [*trace.get("plans", []), entry]
    return trace


def with_rollback(task: Task, report: dict[str, Any]) -> dict[str, Any]:
    """The task's trace with the report of what a rollback undid."""
    return {**copy_of(task), "rollback": report}


def _now() -> str:
    return timezone.now().isoformat()
