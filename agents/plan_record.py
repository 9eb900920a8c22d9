"""Recording a plan version: its PlanVersion row, its entry in the trace's `plans`, its `plan` event.

One shape, built here only. Call inside the transaction that stores the plan on the task, so
the row, the trace and the task's plan change together (the event goes out after the commit).
"""
from __future__ import annotations

from typing import Any

from django.utils import timezone

from tasks_app.events import emit
from tasks_app.models import PlanVersion, Task

from .trace import copy_of


def record(task: Task, *, version: int, kind: str, source: str, at_step: int, reason: str,
           plan: dict[str, Any], tokens: int, credits: int, model: str = "") -> dict[str, Any]:
    """Store version `version` of the current run's plan; returns the task's trace with its entry.

    A wake-up redone after a crash overwrites the version it had begun (one row per version)."""
    stored = {key: value for key, value in plan.items() if key != "planning"}
    PlanVersion.objects.update_or_create(
        task_id=task.id, run=task.attempts, version=version,
        defaults={"kind": kind, "source": source, "at_step": at_step, "reason": reason[:10_000], "plan": stored,
                  "tokens": tokens, "credits": credits, "model": model[:100]},
    )
    entry = {"version": version, "kind": kind, "source": source, "atStep": at_step, "reason": reason,
             "totalSteps": len(plan.get("steps", [])), "tokens": tokens, "credits": credits,
             "estimate": (plan.get("planning") or {}).get("estimate"), "timestamp": timezone.now().isoformat()}
    emit(task.id, "plan", entry)
    return with_entry(task, entry)


def with_entry(task: Task, entry: dict[str, Any]) -> dict[str, Any]:
    """The task's trace with one more `plans` entry (e.g. a refinement that kept the plan)."""
    trace = copy_of(task)
    trace["plans"] = [*trace.get("plans", []), entry]
    return trace

