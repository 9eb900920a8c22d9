"""Recording a plan version: its PlanVersion row, its entry in the trace's `plans`, its `plan` event.

The entry is agents/trace.py's plan_entry (the trace's one builder). Call inside the transaction
that stores the plan on the task, so the row, the trace and the task's plan change together (the
event goes out after the commit).
"""
from __future__ import annotations

from typing import Any

from tasks_app.events import emit
from tasks_app.models import PlanVersion, Task

from .trace import plan_entry, with_plan


def record(task: Task, *, version: int, kind: str, source: str, at_step: int, reason: str,
           plan: dict[str, Any], tokens: int, credits: int, model: str = "") -> dict[str, Any]:
    """Store version `version` of the current run's plan; returns the task's trace with its entry.

    A wake-up redone after a crash overwrites the version it had begun (one row per version)."""
    entry, trace = stored_version(task, version=version, kind=kind, source=source, at_step=at_step, reason=reason,
                                  plan=plan, tokens=tokens, credits=credits, model=model)
    emit(task.id, "plan", entry)
    return trace


def stored_version(task: Task, *, version: int, kind: str, source: str, at_step: int, reason: str, plan: dict[str, Any],
                   tokens: int, credits: int, model: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """The PlanVersion row of record(), without the `plan` event: returns the event's payload (the
    trace's entry) and the task's trace with it, for a caller that numbers the event itself."""
    stored = {key: value for key, value in plan.items() if key != "planning"}
    fields = {"kind": kind, "source": source, "at_step": at_step, "reason": reason[:10_000], "plan": stored,
              "tokens": tokens, "credits": credits, "model": model[:100]}
    # one INSERT ... ON CONFLICT DO UPDATE, not update_or_create's SELECT and INSERT in two savepoints
    PlanVersion.objects.bulk_create([PlanVersion(task_id=task.id, run=task.attempts, version=version, **fields)],
                                    update_conflicts=True, unique_fields=["task", "run", "version"],
                                    update_fields=list(fields))
    entry = plan_entry(version=version, kind=kind, source=source, at_step=at_step, reason=reason, plan=plan,
                       tokens=tokens, credits=credits)
    return entry, with_plan(task, entry)

