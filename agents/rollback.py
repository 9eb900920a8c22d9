"""Rollback: undo a finished run's reversible changes, newest first; say what cannot be undone.

Each completed write step that recorded a `compensation` (calendar.delete for a created
event, database.rollback for written rows, drive.delete for an upload) is undone by running
that compensation through the registry, under the same egress policy and with the user's
credentials. Every compensation that ran is stored as a "rollback_step" TaskEvent, so a
second rollback never repeats one. This module must never repeat or "undo" an irreversible
action (an email stays sent: it is reported), nor touch a task that is running.
"""
from __future__ import annotations

import copy
from typing import Any

from django.utils import timezone

from tasks_app import leases
from tasks_app.events import emit
from tasks_app.lifecycle import TERMINAL
from tasks_app.models import StepStatus, Task, TaskEvent, TaskExecution
from tools import registry
from tools.base import SideEffect

from .errors import DATABASE_DOWN, describe
from .toolcontext import build_tool_context, idempotency_key, save_refreshed_credentials

STEP_EVENT = "rollback_step"


class RollbackRefused(Exception):
    """The task is not finished (or a step or another rollback still holds it)."""


def rollback(task_id: str, *, dry_run: bool = False) -> dict[str, Any]:
    """Undo the last run's reversible changes (dry run: only say what would happen); the report."""
    task = Task.objects.select_related("user").get(id=task_id)
    _check_finished(task)
    if dry_run:
        return _report(task, _plan(task), dry_run=True)
    token = leases.new_token()
    if not leases.take(task.id, token, statuses=tuple(TERMINAL)):
        task.refresh_from_db()
        _check_finished(task)
        raise RollbackRefused(f"task {task.id} is busy (a step in flight or another rollback): try again shortly")
    try:
        task.refresh_from_db()
        with leases.keep_alive(task.id, token):
            items = _plan(task)
            for item in items["compensations"]:
                if item["status"] == "pending":
                    _undo(task, item)
        report = _report(task, items, dry_run=False)
        trace = {**(task.execution_trace or {"taskId": task.id, "steps": []}), "rollback": report}
        emit(task.id, "rollback", {key: report[key] for key in ("run", "summary", "undone", "failed")})
    finally:
        released = leases.release(task.id, token)
    if not released:
        raise RollbackRefused(f"lost the hold on task {task.id} during its rollback")
    # the report joins the trace of the run it undid, unless a new run started meanwhile
    Task.objects.filter(id=task.id, status__in=TERMINAL, attempts=task.attempts).update(execution_trace=trace)
    return report


def _check_finished(task: Task) -> None:
    if task.status not in TERMINAL:
        raise RollbackRefused(f"cannot roll back task {task.id} while it is {task.status}: only a finished"
                              f" (completed, failed or cancelled) run can be rolled back")


def _plan(task: Task) -> dict[str, list[dict[str, Any]]]:
    """The last run's completed steps, newest first, sorted into what can and cannot be undone."""
    done = _undone_steps(task)
    items: dict[str, list[dict[str, Any]]] = {"compensations": [], "cannotBeUndone": [], "notUndoableAutomatically": []}
    rows = TaskExecution.objects.filter(task=task, run=task.attempts, status=StepStatus.COMPLETED).order_by("-step")
    for row in rows:
        output = row.output if isinstance(row.output, dict) else {}
        compensation = output.get("compensation")
        if output.get("skipped"):
            continue  # a plan's `when` skipped it: nothing happened
        if isinstance(compensation, dict) and _valid(compensation):
            items["compensations"].append({
                "step": row.step, "action": row.action, "undo": compensation["action"],
                "params": compensation["params"], "status": "alreadyUndone" if row.step in done else "pending"})
        elif row.side_effect == SideEffect.IRREVERSIBLE:
            items["cannotBeUndone"].append({"step": row.step, "action": row.action, "reason": _irreversible(row)})
        elif row.side_effect == SideEffect.WRITE:
            items["notUndoableAutomatically"].append({
                "step": row.step, "action": row.action,
                "reason": f"{row.action} recorded no compensation: check and undo it by hand"})
    return items


def _valid(compensation: dict[str, Any]) -> bool:
    return (isinstance(compensation.get("action"), str)
            and isinstance(compensation.get("params"), dict))


def _irreversible(row: TaskExecution) -> str:
    output = row.output if isinstance(row.output, dict) else {}
    if row.tool == "email":
        to = ", ".join(output.get("to") or []) or "its recipients"
        return f"the email to {to} was sent: an email cannot be unsent"
    return f"{row.action} is irreversible (e.g. a payment made): it cannot be undone"


def _undone_steps(task: Task) -> set[int]:
    """Steps of the last run whose compensation already ran (recorded by an earlier rollback)."""
    events = TaskEvent.objects.filter(task=task, type=STEP_EVENT).values_list("payload", flat=True)
    return {p["step"] for p in events if p.get("run") == task.attempts and p.get("status") == "undone"}


def _undo(task: Task, item: dict[str, Any]) -> None:
    """Run one compensation like a step's call; record its outcome as an event, whatever it is."""
    try:
        action = registry.get_action(item["undo"])
        context = build_tool_context(task, item["step"],
                                     uses_credentials=registry.tools()[action.tool].uses_credentials)
        context.idempotency_key = f"{idempotency_key(task, item['step'])}:rollback"
        stored = copy.deepcopy(context.credentials)
        result = action.run(item["params"], context)
        save_refreshed_credentials(task, stored, context)
        item.update(status="undone", result=result)
    except DATABASE_DOWN:
        raise
    except Exception as exc:
        item.update(status="failed", error=describe(exc))
    emit(task.id, STEP_EVENT, {"run": task.attempts, "step": item["step"], "action": item["action"],
                               "undo": item["undo"], "status": item["status"], "error": item.get("error")})


def _report(task: Task, items: dict[str, list[dict[str, Any]]], *, dry_run: bool) -> dict[str, Any]:
    compensations = [{k: v for k, v in item.items() if k != "params"} for item in items["compensations"]]
    if dry_run:
        for item in compensations:
            item["status"] = "wouldUndo" if item["status"] == "pending" else item["status"]
    counts = {status: sum(1 for i in compensations if i["status"] == status)
              for status in ("undone", "failed", "wouldUndo", "alreadyUndone")}
    return {
        "taskId": task.id, "run": task.attempts, "dryRun": dry_run, "at": timezone.now().isoformat(),
        "undone": counts["undone"], "failed": counts["failed"],
        "compensations": compensations, "cannotBeUndone": items["cannotBeUndone"],
        "notUndoableAutomatically": items["notUndoableAutomatically"], "summary": _summary(counts, items),
    }


def _summary(counts: dict[str, int], items: dict[str, list[dict[str, Any]]]) -> str:
    parts = [f"{n} {label}" for label, n in (
        ("change(s) would be undone", counts["wouldUndo"]), ("change(s) undone", counts["undone"]),
        ("undo(s) failed (roll back again to retry)", counts["failed"]),
        ("already undone", counts["alreadyUndone"]),
        ("cannot be undone", len(items["cannotBeUndone"])),
        ("must be undone by hand", len(items["notUndoableAutomatically"]))) if n]
    return "; ".join(parts) or "nothing to undo: the last run changed nothing"
