"""Approvals: a person decides before a gated action, or settles an action whose outcome is unknown.

Policies are data (settings.AGENT_APPROVAL_POLICIES), checked by the executor before it
acts, never by the tools. A gated step creates an Approval, moves the task to
`awaiting_approval` and stops; approving wakes the step again and the gate lets it pass.
An irreversible call that began and was never recorded (its worker died) is never sent
again blindly: an `unknown_outcome` Approval asks whether it happened.
"""
from __future__ import annotations

import fnmatch
from typing import Any, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tasks_app import leases, lifecycle
from tasks_app.models import Approval, StepStatus, Task, TaskExecution

from .dispatch import enqueue
from .finish import cancel_task
from .notify import notify


def matching_policy(action: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """The first approval policy that applies to calling `action` with `params`, if any."""
    policies = cast(list[dict[str, Any]], settings.AGENT_APPROVAL_POLICIES)
    for policy in policies:
        if not any(fnmatch.fnmatchcase(action, pattern) for pattern in policy.get("actions", [])):
            continue
        if "min_recipients" in policy and _recipients(params) < policy["min_recipients"]:
            continue
        host = urlsplit(str(params.get("url", ""))).hostname or ""
        if host and host in policy.get("except_hosts", []):
            continue
        return policy
    return None


RECIPIENT_PARAMS = ("to", "cc", "bcc", "recipients")  # `recipients`: a campaign's whole batch
LISTED_RECIPIENTS = 50


def _recipients(params: dict[str, Any]) -> int:
    return len(_addresses(params))


def _addresses(params: dict[str, Any]) -> list[str]:
    """Every address the call would write to: people, not calls (a campaign's recipients are objects)."""
    found = []
    for name in RECIPIENT_PARAMS:
        value = params.get(name)
        for item in value if isinstance(value, list) else [value] if value else []:
            found.append(str(item.get("email", "")) if isinstance(item, dict) else str(item))
    return found


def _listed(params: dict[str, Any]) -> str:
    addresses = _addresses(params)
    if len(addresses) <= 1:
        return ""
    more = len(addresses) - LISTED_RECIPIENTS
    return (f" Recipients ({len(addresses)}): {', '.join(addresses[:LISTED_RECIPIENTS])}"
            f"{f' and {more} more' if more > 0 else ''}.")


def gate(task: Task, token: str, number: int, action: str, params: dict[str, Any]) -> bool:
    """True if the step may act now; else an Approval is pending and the task awaits it."""
    policy = matching_policy(action, params)
    if policy is None:
        return True
    if Approval.objects.filter(task_id=task.id, run=task.attempts, step=number, kind=Approval.Kind.POLICY,
                               status=Approval.Status.APPROVED).exists():
        return True
    question = (f"step {number} wants to call {action}: {policy['reason']} (policy {policy['name']})."
                f"{_listed(params)} Approve to let it act, or reject to cancel the task.")
    _ask(task, token, number, Approval.Kind.POLICY, question, action=action, policy=policy["name"])
    return False


def hold_unknown_outcome(task: Task, token: str, row: TaskExecution) -> None:
    question = (f"step {row.step} ({row.action}) was started by a worker that stopped before recording its "
                f"outcome (idempotency key {row.idempotency_key}); it may or may not have happened. Check, "
                f"then approve with done=true if it happened (the step is settled, not repeated), with "
                f"done=false if it did not (the step runs again), or reject to cancel the task.")
    _ask(task, token, row.step, Approval.Kind.UNKNOWN_OUTCOME, question, action=row.action)


def _ask(task: Task, token: str, number: int, kind: str, question: str, *, action: str, policy: str = "") -> None:
    with transaction.atomic():
        Approval.objects.update_or_create(
            task_id=task.id, run=task.attempts, step=number, kind=kind,
            defaults={"question": question, "action": action, "policy": policy, "status": Approval.Status.PENDING,
                      "done": None, "decided_by": None, "decided_at": None},
        )
        leases.release(task.id, token)
        if lifecycle.apply("await_approval", task_id=task.id):  # the question is the Approval's, not an error
            notify(task, "approval_needed", question)


class ApprovalError(ValueError):
    """The decision does not fit the approval (already decided, `done` missing ...)."""


def decide(approval: Approval, *, approve: bool, done: bool | None, user: Any) -> Approval:
    """Record a person's decision and act on it: continue, settle, re-run or cancel."""
    if approval.kind == Approval.Kind.UNKNOWN_OUTCOME and approve and done is None:
        raise ApprovalError("an unknown outcome needs done=true (it happened) or done=false (it did not)")
    with transaction.atomic():
        won = Approval.objects.filter(id=approval.id, status=Approval.Status.PENDING).update(
            status=Approval.Status.APPROVED if approve else Approval.Status.REJECTED,
            done=done if approval.kind == Approval.Kind.UNKNOWN_OUTCOME and approve else None,
            decided_by=user, decided_at=timezone.now(),
        )
        if not won:
            raise ApprovalError(f"approval {approval.id} was already decided")
        task = Task.objects.select_for_update().get(id=approval.task_id)
        if not approve:
            cancel_task(task.id, error=f"cancelled: approval of step {approval.step} was rejected")
        else:
            if approval.kind == Approval.Kind.UNKNOWN_OUTCOME:
                _settle(task, approval, done=bool(done), user=user)
            lifecycle.require("approved", task_id=task.id, error=None)
            enqueue("step", task.id, priority=task.priority)
    approval.refresh_from_db()
    return approval


def _settle(task: Task, approval: Approval, *, done: bool, user: Any) -> None:
    row = TaskExecution.objects.get(task_id=task.id, run=approval.run, step=approval.step)
    settled_by = user.get_username() if user is not None else "unknown"
    if not done:  # it did not happen: the step runs again, with the same idempotency key
        row.status, row.error = StepStatus.FAILED, f"not done (settled by {settled_by}); running it again"
        row.save(update_fields=["status", "error"])
        return
    row.status, row.output, row.error, row.completed_at = StepStatus.COMPLETED, {"settledBy": settled_by}, None, \
        timezone.now()
    row.save(update_fields=["status", "output", "error", "completed_at"])
    trace = dict(task.execution_trace or {"taskId": task.id, "steps": []})
    trace["steps"] = [*trace.get("steps", []), {
        "step": row.step, "reasoning": row.reasoning, "action": row.action, "input": row.input,
        "output": row.output, "timestamp": timezone.now().isoformat(), "status": "completed",
        "settledBy": settled_by,
    }]
    Task.objects.filter(id=task.id).update(current_step=row.step, tool_calls=task.tool_calls + 1,
                                           execution_trace=trace)
