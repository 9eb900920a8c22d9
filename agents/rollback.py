"""Rollback: undo a finished run's reversible changes, newest first; say what cannot be undone.

Each completed step whose tool recorded a compensation through its own channel (the
TaskExecution.compensation column, never anything in the step's output) is undone by running
it through the registry, under the same egress policy and with the user's credentials, once
agents.compensations found it to be one of the step action's declared inverses. A compensation
an approval policy matches (a calendar.delete, say) runs only when the request approves it by
id after the person saw its full input; until then nothing runs. Every compensation that ran
is stored as a "rollback_step" TaskEvent, so a second rollback never repeats one. This module
must never repeat or "undo" an irreversible action, nor touch a task that is running.
"""
from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any

from django.utils import timezone

from tasks_app import leases
from tasks_app.events import emit
from tasks_app.lifecycle import TERMINAL
from tasks_app.models import StepStatus, Task, TaskEvent, TaskExecution
from tasks_app.redact import redact
from tools import registry
from tools.base import SideEffect

from .approvals import matching_policy
from .compensations import compensation_id, refusal, shown
from .errors import DATABASE_DOWN, describe
from .toolcontext import build_tool_context, idempotency_key, save_refreshed_credentials
from .trace import with_rollback

STEP_EVENT = "rollback_step"
Items = dict[str, list[dict[str, Any]]]


class RollbackRefused(Exception):
    """The task is not finished (or a step or another rollback still holds it)."""


class RollbackNeedsApproval(RollbackRefused):
    """A policy gates some compensations the request did not approve: nothing was undone."""

    def __init__(self, message: str, report: dict[str, Any]):
        super().__init__(message)
        self.report = report


class RollbackInputError(ValueError):
    """The request approves an id that is not one of this run's compensations."""


def rollback(task_id: str, *, dry_run: bool = False, approve: Collection[str] = (),
             approved_by: str = "") -> dict[str, Any]:
    """Undo the last run's reversible changes (dry run: only say what would happen); the report.

    `approve`: ids (from a dry run's report) of policy-gated compensations the person approves."""
    task = Task.objects.select_related("user").get(id=task_id)
    _check_finished(task)
    if dry_run:
        return _report(task, _plan(task, set(approve)), dry_run=True, ran=False)
    token = leases.new_token()
    if not leases.take(task.id, token, statuses=tuple(TERMINAL)):
        task.refresh_from_db()
        _check_finished(task)
        raise RollbackRefused(f"task {task.id} is busy (a step in flight or another rollback): try again shortly")
    try:
        task.refresh_from_db()
        with leases.keep_alive(task.id, token):
            items = _plan(task, set(approve))
            waiting = _waiting(items)
            if not waiting:
                for item in items["compensations"]:
                    if item["status"] == "pending":
                        _undo(task, item, approved_by)
        report = _report(task, items, ran=not waiting)
        if not waiting:
            emit(task.id, "rollback", {key: report[key] for key in ("run", "summary", "undone", "failed")})
    finally:
        released = leases.release(task.id, token)
    if not released:
        raise RollbackRefused(f"lost the hold on task {task.id} during its rollback")
    if waiting:
        raise RollbackNeedsApproval(_approval_message(task, waiting), report)
    trace = with_rollback(task, report)
    # the report joins the trace of the run it undid, unless a new run started meanwhile
    Task.objects.filter(id=task.id, status__in=TERMINAL, attempts=task.attempts).update(execution_trace=trace)
    return report


def _check_finished(task: Task) -> None:
    if task.status not in TERMINAL:
        raise RollbackRefused(f"cannot roll back task {task.id} while it is {task.status}: only a finished"
                              f" (completed, failed or cancelled) run can be rolled back")


def _plan(task: Task, approve: set[str]) -> Items:
    """The last run's completed steps, newest first, sorted into what can and cannot be undone.

    Steps a plan's `when` skipped were never acted (read, no compensation), so none is listed."""
    done = _undone_steps(task)
    items: Items = {"compensations": [], "cannotBeUndone": [], "notUndoableAutomatically": []}
    rows = TaskExecution.objects.filter(task=task, run=task.attempts, status=StepStatus.COMPLETED).order_by("-step")
    for row in rows:
        if row.compensation is not None:
            items["compensations"].append(_compensation(task, row, done, approve))
        elif row.side_effect == SideEffect.IRREVERSIBLE:
            items["cannotBeUndone"].append({"step": row.step, "action": row.action, "reason": _irreversible(row)})
        elif row.side_effect == SideEffect.WRITE:
            items["notUndoableAutomatically"].append({
                "step": row.step, "action": row.action,
                "reason": f"{row.action} recorded no compensation: check and undo it by hand"})
    unknown = approve - {item["id"] for item in items["compensations"]}
    if unknown:
        raise RollbackInputError(f"approve names {', '.join(sorted(unknown))}, which is not a compensation of run "
                                 f"{task.attempts} (ids come from a dry run's report; a new run changes them)")
    return items


def _compensation(task: Task, row: TaskExecution, done: set[int], approve: set[str]) -> dict[str, Any]:
    """One recorded compensation: refused, already undone, or pending (perhaps gated by a policy)."""
    undo, params = shown(row.compensation)
    item: dict[str, Any] = {"id": compensation_id(task.attempts, row.step, row.compensation), "step": row.step,
                            "action": row.action, "undo": undo, "params": params}
    reason = refusal(row.action, row.compensation)
    if reason:
        return {**item, "status": "refused", "reason": f"refused: {reason}; check step {row.step} by hand"}
    item["status"] = "alreadyUndone" if row.step in done else "pending"
    policy = matching_policy(undo, params)
    if policy is not None:
        item["approval"] = {"policy": policy["name"], "reason": policy["reason"], "approved": item["id"] in approve}
    return item


def _waiting(items: Items) -> list[dict[str, Any]]:
    """Pending compensations a policy gates and the request did not approve."""
    return [item for item in items["compensations"]
            if item["status"] == "pending" and "approval" in item and not item["approval"]["approved"]]


def _approval_message(task: Task, waiting: list[dict[str, Any]]) -> str:
    what = "; ".join(f"step {item['step']}'s {item['undo']} ({item['approval']['reason']}, policy "
                     f"{item['approval']['policy']})" for item in waiting)
    return (f"nothing of task {task.id} was undone: {len(waiting)} compensation(s) need a person's approval "
            f"first: {what}. Check their input in a dry run, then roll back again approving their ids")


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


def _undo(task: Task, item: dict[str, Any], approved_by: str) -> None:
    """Run one compensation like a step's call; record its outcome as an event, whatever it is."""
    try:
        action = registry.get_action(item["undo"])
        context = build_tool_context(task, item["step"],
                                     uses_credentials=registry.tools()[action.tool].uses_credentials)
        context.idempotency_key = f"{idempotency_key(task, item['step'])}:rollback"
        stored = copy.deepcopy(context.credentials)
        result = action.run(item["params"], context)
        save_refreshed_credentials(task, stored, context)
        item.update(status="undone", result=redact(result))
    except DATABASE_DOWN:
        raise
    except Exception as exc:
        item.update(status="failed", error=describe(exc))
    approval = {"policy": item["approval"]["policy"], "approvedBy": approved_by} if "approval" in item else {}
    emit(task.id, STEP_EVENT, {"run": task.attempts, "step": item["step"], "action": item["action"],
                               "undo": item["undo"], "params": redact(item["params"]), "status": item["status"],
                               "error": item.get("error"), **approval})


def _report(task: Task, items: Items, *, dry_run: bool = False, ran: bool = True) -> dict[str, Any]:
    """What a person reads: each compensation with its full (redacted) input, and the warnings."""
    compensations = [{**item, "params": redact(item["params"]), "status": _shown_status(item, ran)}
                     for item in items["compensations"]]
    counts = {status: sum(1 for i in compensations if i["status"] == status)
              for status in ("undone", "failed", "wouldUndo", "needsApproval", "alreadyUndone", "refused")}
    return {
        "taskId": task.id, "run": task.attempts, "dryRun": dry_run, "at": timezone.now().isoformat(),
        "undone": counts["undone"], "failed": counts["failed"],
        "compensations": compensations, "cannotBeUndone": items["cannotBeUndone"],
        "notUndoableAutomatically": items["notUndoableAutomatically"],
        "summary": ("" if dry_run or ran else "nothing was undone: ") + _summary(counts, items),
    }


def _shown_status(item: dict[str, Any], ran: bool) -> str:
    """A pending compensation that did not run: wouldUndo, or needsApproval when a policy holds it."""
    if item["status"] != "pending" or ran:
        return str(item["status"])
    return "needsApproval" if "approval" in item and not item["approval"]["approved"] else "wouldUndo"


def _summary(counts: dict[str, int], items: Items) -> str:
    parts = [f"{n} {label}" for label, n in (
        ("change(s) would be undone", counts["wouldUndo"]), ("change(s) undone", counts["undone"]),
        ("need(s) a person's approval first", counts["needsApproval"]),
        ("undo(s) failed (roll back again to retry)", counts["failed"]),
        ("already undone", counts["alreadyUndone"]),
        ("refused (not an undo the step's action declares: check by hand)", counts["refused"]),
        ("cannot be undone", len(items["cannotBeUndone"])),
        ("must be undone by hand", len(items["notUndoableAutomatically"]))) if n]
    return "; ".join(parts) or "nothing to undo: the last run changed nothing"
