"""The execution trace: the one builder of its entries (Task.execution_trace, the trace endpoint).

A trace is `{"taskId", "steps": [entry, ...]}`, with `plans` (agents/plan_record.py), a
`rollback` report or `replayOf` where they apply. Every step entry has `step`, `action`,
`status` and `timestamp`; inputs, outputs and errors are masked (tasks_app/redact.py) before
they are written, so no secret ever enters a trace.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.db.models import F, Func, JSONField
from django.utils import timezone

from tasks_app.redact import redact, redact_output

if TYPE_CHECKING:
    from tasks_app.models import Approval, Task, TaskExecution

    from .attempt import Attempt


def empty(task_id: str, **extra: Any) -> dict[str, Any]:
    """A trace with no steps yet (a new run's, or a replay's with `replayOf`)."""
    return {"taskId": task_id, "steps": [], **extra}


def copy_of(task: Task) -> dict[str, Any]:
    """A copy of the task's trace to build on, or an empty one."""
    return dict(task.execution_trace or empty(task.id))


def with_step(task: Task, entry: dict[str, Any]) -> dict[str, Any]:
    """The task's trace with one more step entry."""
    trace = copy_of(task)
    trace["steps"] = [*trace.get("steps", []), entry]
    return trace


class AppendedStep(Func):
    """The task's trace with one more step entry, computed by the database in the step's UPDATE:
    the worker neither reads nor sends the steps before it, so step 100 costs what step 2 does."""

    output_field = JSONField()

    def __init__(self, task_id: str, entry: dict[str, Any]):
        super().__init__(F("execution_trace"))
        self.entry, self.empty = json.dumps(entry), json.dumps(empty(task_id))

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:  # PostgreSQL
        trace, params = compiler.compile(self.get_source_expressions()[0])
        return (f"jsonb_set(COALESCE({trace}, %s::jsonb), '{{steps}}', "
                f"COALESCE({trace} -> 'steps', '[]'::jsonb) || jsonb_build_array(%s::jsonb))",
                (*params, self.empty, *params, self.entry))

    def as_sqlite(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:
        trace, params = compiler.compile(self.get_source_expressions()[0])
        return f"json_insert(COALESCE({trace}, %s), '$.steps[#]', json(%s))", (*params, self.empty, self.entry)


def appended(task: Task, entry: dict[str, Any]) -> AppendedStep:
    """What to write as the task's execution_trace to add `entry` (agents/executor.py's step UPDATE)."""
    return AppendedStep(task.id, entry)


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
    """A replay's trace: the steps of `task`'s last run before `before_step`, which it keeps."""
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
