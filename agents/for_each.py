"""for_each: one step per item of a list, run in parallel; the step's result is the list of theirs.

When a for_each step may start, its list is resolved and the plan grows by one step per item
(appended, so every step keeps its number and every reference its meaning), each a copy of
the step with `item` set ({item} in its params) and the step's own dependencies; the step
itself then waits for its items. Once they all finished, it is recorded with their results
in item order, as one step of the plan, without a tool call of its own. The grown plan is a
new version of the run's plan (agents/plan_record.py), so the trace shows where items came from.
"""
from __future__ import annotations

import copy
from typing import Any

from django.db import transaction

from tasks_app.models import StepStatus, Task

from . import dag, plan_record
from .attempt import Attempt
from .errors import describe
from .expressions import resolve
from .plan import MAX_STEPS
from .planner import meta, version_of
from .step_record import finished_steps, record_parallel, save_row
from .toolcontext import reference_context


class ForEachError(ValueError):
    """The list of a for_each step is not a list, or too long; the message names the step."""


def gathers(plan: dict[str, Any], number: int) -> bool:
    """Is step `number` a for_each step (run as its items, recorded when they finished)?"""
    return bool(plan["steps"][number - 1].get("for_each"))


def expand(task: Task, rows: dict[int, dict[str, Any]], finished: set[int]) -> bool:
    """Grow the plan by the items of every for_each step that may start now; True if it grew."""
    plan = copy.deepcopy(task.plan or {})
    steps = plan.get("steps", [])
    due = [n for n in dag.ready(plan, finished, started=set(rows))
           if gathers(plan, n) and "items" not in steps[n - 1]]
    if not due:
        return False
    references = reference_context(task, plan, finished_steps(rows))
    for number in due:
        step = steps[number - 1]
        items = _items(step, number, references)
        first = len(steps) + 1
        ids = [f"{step.get('id') or f'step{number}'}_{i}" for i in range(1, len(items) + 1)]
        needs = [steps[m - 1].get("id") or f"step{m}" for m in sorted(dag.waiting_on(plan, number))]
        for i, (item, item_id) in enumerate(zip(items, ids, strict=True), start=1):
            steps.append({**{k: v for k, v in step.items() if k != "for_each"}, "id": item_id, "item": item,
                          "dependsOn": needs,
                          "description": f"{step.get('description') or step['action']} ({i}/{len(items)})"})
        step["items"] = list(range(first, first + len(items)))
        step["dependsOn"] = [*step.get("dependsOn", []), *ids]
    if len(steps) > MAX_STEPS:
        raise ForEachError(f"for_each: the plan would have {len(steps)} steps with its items; at most {MAX_STEPS}")
    version = version_of(plan) + 1
    plan["planning"] = {**meta(plan), "version": version}
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(id=task.id)  # branches append to the trace meanwhile
        locked.plan = plan
        trace = plan_record.record(locked, version=version, kind="for_each", source="engine",
                                   at_step=locked.current_step, reason=f"items of step(s) {', '.join(map(str, due))}",
                                   plan=plan, tokens=0, credits=0)
        Task.objects.filter(id=task.id).update(plan=plan, total_steps=len(steps), execution_trace=trace)
    task.plan, task.total_steps, task.execution_trace = plan, len(steps), trace
    return True


def gather(task: Task, rows: dict[int, dict[str, Any]], finished: set[int]) -> bool:
    """Record every for_each step whose items all finished, with their results; True if one was."""
    plan = task.plan or {}
    done = [n for n, step in enumerate(plan.get("steps", []), start=1)
            if "items" in step and n not in rows and set(step["items"]) <= finished]
    for number in done:
        step = plan["steps"][number - 1]
        attempt = Attempt(number, step["action"], step.get("params") or {}, step.get("description") or "",
                          output=[rows[n]["output"] for n in step["items"]], plan_version=version_of(plan))
        with transaction.atomic():
            locked = Task.objects.select_for_update().select_related("user").get(id=task.id)
            save_row(locked, attempt, StepStatus.COMPLETED, traced=True)
            record_parallel(locked, attempt, tool_call=False)
    return bool(done)


def _items(step: dict[str, Any], number: int, references: dict[str, Any]) -> list[Any]:
    try:
        items = resolve(step["for_each"], references)
    except Exception as exc:
        raise ForEachError(f"step {number} ({step['action']}): for_each {step['for_each']}: {describe(exc)}") from exc
    if not isinstance(items, list):
        raise ForEachError(f"step {number} ({step['action']}): for_each {step['for_each']} is "
                           f"{type(items).__name__}, not a list")
    return items

