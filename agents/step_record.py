"""How a finished step is written: its row, its event, and (a parallel plan's) the task's counters.

A sequential step adds itself to the task when it releases the lease (agents/executor.py);
a parallel plan's steps finish in any order, each under a lock on its task's row.
"""
from __future__ import annotations

from typing import Any

from django.utils import timezone

from tasks_app import webhook_events
from tasks_app.compiled_insert import CompiledInsert
from tasks_app.events import emit
from tasks_app.models import StepStatus, Task, TaskExecution
from tasks_app.redact import redact, redact_output

from . import credits
from .attempt import Attempt
from .toolcontext import idempotency_key
from .trace import step_entry

STEP_ROW = CompiledInsert(TaskExecution)  # a sequential step inserts its row once: every step


def save_row(task: Task, attempt: Attempt, status: str, *, traced: bool = False) -> None:
    """Write the step's row: one INSERT or UPDATE when the step knows whether it exists (it holds the
    task's lease or the step's claim, so nobody else writes it), else update_or_create. `traced`: the
    step is done (not to be retried) and its entry joins the run's trace with the row."""
    fields = row_fields(task, attempt, status)
    if traced:
        fields["trace_entry"] = step_entry(attempt)
    key: dict[str, Any] = {"task_id": task.id, "run": task.attempts, "step": attempt.number}
    if attempt.row_exists is False:
        STEP_ROW.insert(**key, **fields)
    elif attempt.row_exists:
        TaskExecution.objects.filter(**key).update(**fields)
    else:
        TaskExecution.objects.update_or_create(**key, defaults=fields)
    attempt.row_exists = True


def row_fields(task: Task, attempt: Attempt, status: str) -> dict[str, Any]:
    return {
        "action": attempt.action, "tool": attempt.action.split(".", 1)[0],
        "input": redact(attempt.params, attempt.secrets),
        "reasoning": attempt.reasoning, "status": status, "side_effect": attempt.side_effect.value,
        "idempotency_key": idempotency_key(task, attempt.number),
        "output": redact_output(attempt.output, attempt.secrets) if status == StepStatus.COMPLETED else None,
        "error": redact_output(attempt.error, attempt.secrets),
        "compensation": attempt.compensation if status == StepStatus.COMPLETED else None,
        "tokens": attempt.tokens, "credits": attempt.charged if status != StepStatus.RUNNING else 0,
        "duration": attempt.duration_ms, "attempts": attempt.retries, "plan_version": attempt.plan_version,
        "completed_at": timezone.now() if status != StepStatus.RUNNING else None,
    }


def step_event(task: Task, attempt: Attempt) -> dict[str, Any]:
    total = task.total_steps
    return {
        "step": attempt.number, "action": attempt.action, "tool": attempt.action.split(".", 1)[0],
        "status": "failed" if attempt.error else "completed", "error": attempt.error,
        "progress": min(100, round(100 * attempt.number / total)) if total else None,
        "currentStep": attempt.number, "totalSteps": total, "credits": task.total_credits,
        "tokens": task.total_tokens, "duration": attempt.duration_ms,
    }


def record_parallel(task: Task, attempt: Attempt, *, tool_call: bool = True) -> None:
    """Add a parallel plan's finished step to the task's counters (the caller locked the task's row,
    as steps finish in any order and at once, and saved the step's row with its trace entry) and
    publish its event. A for_each step's gathering of its items' results is no tool call of its own."""
    fields: dict[str, Any] = {
        "current_step": task.current_step + 1, "tool_calls": task.tool_calls + int(tool_call),
        "total_tokens": task.total_tokens + attempt.tokens, "total_credits": task.total_credits + attempt.charged,
        "execution_time": task.execution_time + attempt.duration_ms,
    }
    if attempt.tool_state:
        fields["tool_state"] = {**(task.tool_state or {}), **attempt.tool_state}
    Task.objects.filter(id=task.id).update(updated_at=timezone.now(), **fields)
    for name, value in fields.items():
        setattr(task, name, value)
    credits.charge_step(task, attempt)  # in the step's transaction: charged exactly when it is recorded
    event = step_event(task, attempt)
    total = task.total_steps
    event.update(currentStep=task.current_step,  # steps finish out of order: progress counts finished ones
                 progress=min(100, round(100 * task.current_step / total)) if total else None)
    emit(task.id, "step", event)
    webhook_events.step_finished(task, event, attempt.secrets)


ROW_FIELDS = ("step", "action", "input", "output", "error", "reasoning", "status", "claim_expires_at")


def run_rows(task: Task) -> dict[int, dict[str, Any]]:
    """The current run's step rows by number (a parallel plan's, which finish in any order)."""
    return {row["step"]: row for row in TaskExecution.objects.filter(task_id=task.id, run=task.attempts)
            .values(*ROW_FIELDS)}


def finished_steps(rows: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """The finished steps in plan order, as the executor's recorded steps (references, results)."""
    return [{key: row[key] for key in ROW_FIELDS[:-1]} for n, row in sorted(rows.items())
            if row["status"] == StepStatus.COMPLETED]
