"""A person's decision on an Approval: approve (as asked, or with an edited input), reject with a
reason, answer the agent's question, or settle an unknown outcome; then the task goes on.

An edit is validated against the action's input schema and checked against the policies
again before it is recorded beside the original; it is exactly what runs. A rejection of a
model-driven step goes back to the model as the step's failed result (it takes another
route); a plan-driven run is cancelled with the reason in its trace.
"""
from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from tasks_app import lifecycle
from tasks_app.models import Approval, StepStatus, Task, TaskExecution
from tools import registry
from tools.errors import ToolInputError

from . import policies
from .approval_calls import input_hash, sealed, shown, unsealed
from .dispatch import enqueue
from .finish import cancel_task
from .planner import is_reactive
from .trace import rejected_entry, settled_entry, with_step

MAX_REASON = 2000


class ApprovalError(ValueError):
    """The decision does not fit the approval (already decided, `done` missing, a bad edit ...)."""

    def __init__(self, message: str, field: str = "approval"):
        self.field = field
        super().__init__(message)


def decide(approval: Approval, *, approve: bool, done: bool | None, user: Any, input: dict[str, Any] | None = None,
           reason: str = "", answer: str | None = None) -> Approval:
    """Record a person's decision and act on it: continue, run the edit, settle, re-route or cancel."""
    task = Task.objects.get(id=approval.task_id)
    fields = _decision_fields(approval, task, approve=approve, done=done, input=input, reason=reason, answer=answer)
    with transaction.atomic():
        won = Approval.objects.filter(id=approval.id, status=Approval.Status.PENDING).update(
            status=Approval.Status.APPROVED if approve else Approval.Status.REJECTED,
            decided_by=user, decided_at=timezone.now(), **fields)
        if not won:
            raise ApprovalError(f"approval {approval.id} was already decided (it is "
                                f"{Approval.objects.filter(id=approval.id).values_list('status', flat=True).first()})")
        task = Task.objects.select_for_update().get(id=approval.task_id)
        approval.refresh_from_db()
        if not approve and not (is_reactive(task.plan) and approval.kind != Approval.Kind.UNKNOWN_OUTCOME):
            _cancel(task, approval)
        else:  # approved; or a model-driven rejection, which the step's model reads as its result
            if approval.kind == Approval.Kind.UNKNOWN_OUTCOME and approve:
                _settle(task, approval, done=bool(done), user=user)
            lifecycle.require("approved", task_id=task.id, error=None)
            enqueue("step", task.id, priority=task.priority)
    return approval


def _decision_fields(approval: Approval, task: Task, *, approve: bool, done: bool | None,
                     input: dict[str, Any] | None, reason: str, answer: str | None) -> dict[str, Any]:
    """What the decision adds to the row, once checked (ApprovalError names what does not fit)."""
    if approval.kind == Approval.Kind.UNKNOWN_OUTCOME and approve and done is None:
        raise ApprovalError("an unknown outcome needs done=true (it happened) or done=false (it did not)", "done")
    if len(reason or "") > MAX_REASON:
        raise ApprovalError(f"reason: at most {MAX_REASON} characters", "reason")
    fields: dict[str, Any] = {"done": done if approval.kind == Approval.Kind.UNKNOWN_OUTCOME and approve else None,
                              "reason": "" if approve else (reason or "").strip()}
    if approval.kind == Approval.Kind.QUESTION and approve:
        fields["answer"] = _answer(approval, answer)
    elif answer is not None:
        raise ApprovalError("answer is for the agent's questions (kind question), approved", "answer")
    if input is not None:
        if not approve:
            raise ApprovalError("input is an edit to approve; a rejection takes a reason instead", "input")
        fields.update(_edit(approval, task, input))
    return fields


def _answer(approval: Approval, answer: str | None) -> str:
    text = (answer or "").strip()
    if not text:
        raise ApprovalError("the agent asked a question: approve with an answer, or reject with a reason", "answer")
    if approval.choices and text not in approval.choices:
        raise ApprovalError(f"answer must be one of: {', '.join(approval.choices)}", "answer")
    return text[:10_000]


def _edit(approval: Approval, task: Task, edit: dict[str, Any]) -> dict[str, Any]:
    """An edited input, validated and re-checked; recorded (shown, hashed, sealed) beside the original."""
    if approval.kind != Approval.Kind.POLICY:
        raise ApprovalError(f"only a policy approval's input can be edited, not a {approval.kind}", "input")
    if approval.scope == Approval.Scope.RUN:
        return _edit_run(approval, edit)
    try:
        registry.get_action(approval.action).validate(edit)
    except ToolInputError as exc:
        raise ApprovalError(f"input: {exc}", "input") from None
    original = policies.addresses(approval.input or {})
    others = [a for a in approval.recipients if a not in original]
    facts = policies.facts_of(approval.action, edit, task.tool_state)
    again = policies.matches(policies.rules_for(task.user_id, task.project_id), facts,
                             lambda: list(dict.fromkeys([*others, *facts.recipients])))
    kept = unsealed(approval.sealed)
    return {"edited_input": shown(edit), "edited_hash": input_hash(approval.action, edit),
            "edited_policies": [m.name for m in again], "sealed": sealed({**kept, "edited": edit})}


def _edit_run(approval: Approval, edit: dict[str, Any]) -> dict[str, Any]:
    """A run-wide approval is edited by its recipients: those taken out are not written to."""
    recipients = edit.get("recipients")
    if set(edit) != {"recipients"} or not isinstance(recipients, list) or not all(
            isinstance(r, str) for r in recipients):
        raise ApprovalError('input: a run-wide approval is edited as {"recipients": [the addresses to keep]}',
                            "input")
    unknown = [r for r in recipients if r not in approval.recipients]
    if unknown:
        raise ApprovalError(f"input.recipients: not among the run's recipients: {', '.join(unknown[:10])}", "input")
    return {"edited_input": {"recipients": list(dict.fromkeys(recipients))}, "edited_policies": [
        name for name in approval.policy.split(", ") if name]}


def _cancel(task: Task, approval: Approval) -> None:
    """A plan-driven rejection (or an unknown outcome's): the run ends cancelled, the reason in its trace."""
    who = approval.decided_by.get_username() if approval.decided_by else "a person"
    error = f"cancelled: approval of step {approval.step} was rejected"
    if approval.reason:
        error += f" by {who}: {approval.reason}"
    Task.objects.filter(id=task.id).update(execution_trace=with_step(task, rejected_entry(approval, decided_by=who)))
    cancel_task(task.id, error=error)


def _settle(task: Task, approval: Approval, *, done: bool, user: Any) -> None:
    row = TaskExecution.objects.get(task_id=task.id, run=approval.run, step=approval.step)
    settled_by = user.get_username() if user is not None else "unknown"
    if not done:  # it did not happen: the step runs again, with the same idempotency key
        row.status, row.error = StepStatus.FAILED, f"not done (settled by {settled_by}); running it again"
        row.save(update_fields=["status", "error"])
        return
    row.status, row.output, row.error, row.completed_at = StepStatus.COMPLETED, {"settledBy": settled_by}, None, \
        timezone.now()
    row.trace_entry = settled_entry(row, settled_by=settled_by)
    row.save(update_fields=["status", "output", "error", "completed_at", "trace_entry"])
    Task.objects.filter(id=task.id).update(current_step=row.step, tool_calls=task.tool_calls + 1)
