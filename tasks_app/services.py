"""Use cases: the only code that changes a task. Views, admin, commands and tests call these."""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from agents import admission, approvals, finish, rollback, schedules, trace
from agents.errors import describe
from agents.plan import PlanError
from agents.planner import validate_request
from agents.rollback import RollbackNeedsApproval as RollbackNeedsApproval  # re-exported: the faces answer 409
from agents.rollback import RollbackRefused as RollbackRefused  # re-exported: the faces answer 409
from agents.step_secrets import seal_plan
from agents.types import AgentTypeError

from . import audit, lifecycle
from .models import Approval, DeadLetter, Project, Task, TaskExecution


class InvalidTask(ValueError):
    """The task request is invalid; the message names the field and the problem."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def task_create(
    *, user: User, title: str, description: str | None = None, agent_type: str | None = None,
    agent_config: dict[str, Any] | None = None, plan: dict[str, Any] | None = None, priority: str = "medium",
    agent_model: str | None = None, project: Project | None = None, tags: list[str] | None = None,
    due_date: Any = None, credit_budget: int | None = None,
) -> Task:
    """Validate the request completely, then store the task in `pending`. Nothing runs yet.

    `credit_budget` is the most credits one run may spend (agents/credits.py)."""
    _check_request(agent_type, agent_config, plan, title, description)
    _check_schedule(agent_config)
    with transaction.atomic():
        task = Task.objects.create(
            user=user, title=title, description=description, agent_type=agent_type, agent_config=agent_config,
            plan=seal_plan(plan), priority=priority, agent_model=agent_model, project=project, tags=tags or [],
            due_date=due_date, credit_budget=credit_budget,
        )
        schedules.sync(task)
        _audit("task.created", task, {"title": title, "agentType": agent_type, "priority": priority})
    return task


def _audit(verb: str, task: Task, details: dict[str, Any] | None = None) -> None:
    audit.record(verb, owner_id=task.user_id, target_type="task", target_id=task.id, details=details)


def _check_schedule(agent_config: dict[str, Any] | None) -> None:
    try:
        schedules.validate(agent_config)
    except schedules.InvalidSchedule as exc:
        raise InvalidTask("agentConfig", str(exc)) from None


def task_execute(*, task: Task) -> Task:
    """Start a new run: from pending, or again after it finished (retry, schedule).

    Over the concurrency limits the run waits in `queued` and starts when a slot frees.
    """
    admission.request_run(task)
    task.refresh_from_db()
    _audit("task.executed", task, {"run": task.attempts, "status": task.status})
    return task


def task_pause(*, task: Task) -> Task:
    lifecycle.require("pause", task_id=task.id)
    admission.admit()  # a paused task holds no slot
    task.refresh_from_db()
    _audit("task.paused", task, {"run": task.attempts})
    return task


def task_resume(*, task: Task) -> Task:
    """Continue a paused run where it stopped; over the concurrency limits it waits in `queued`."""
    admission.request_resume(task)
    task.refresh_from_db()
    _audit("task.resumed", task, {"run": task.attempts, "status": task.status})
    return task


def task_cancel(*, task: Task) -> Task:
    finish.cancel_task(task.id)
    task.refresh_from_db()
    _audit("task.cancelled", task, {"run": task.attempts})
    return task


def task_replay(*, task: Task, from_step: int = 1) -> Task:
    """Re-run a finished task as a new task: steps before `from_step` are copied from its trace."""
    if task.status not in lifecycle.TERMINAL:  # only a finished run has a whole trace to replay
        raise lifecycle.TransitionNotAllowed(task.id, "replay", task.status, sources=lifecycle.TERMINAL)
    plan = task.plan or {}
    if plan.get("mode") == "react" or not plan.get("steps"):
        raise InvalidTask("plan", f"task {task.id} has no recorded plan to replay")
    if not 1 <= from_step <= len(plan["steps"]):
        raise InvalidTask("fromStep", f"fromStep must be between 1 and {len(plan['steps'])}, got {from_step}")
    kept = list(TaskExecution.objects.filter(task=task, run=task.attempts, step__lt=from_step, status="completed"))
    if len(kept) != from_step - 1:
        raise InvalidTask("fromStep", f"steps before {from_step} did not all complete in the last run")
    # the replay runs exactly the recorded steps, whoever made them (a template, the model): as
    # its own plan, which a new run keeps rather than planning afresh
    plan = {key: value for key, value in plan.items() if key != "planning"}
    with transaction.atomic():
        replay = Task.objects.create(
            user=task.user, project=task.project, title=f"{task.title} (replay from step {from_step})",
            description=task.description, agent_model=task.agent_model, agent_config=task.agent_config,
            agent_type=None, plan=plan, priority=task.priority, tags=[*task.tags, f"replay-of:{task.id}"],
        )
        _copy_steps(replay, kept)
    # like any run it waits in `queued` when every slot is taken; then it continues at from_step
    admission.request_run(replay, fields={
        "attempts": 1, "current_step": from_step - 1, "started_at": timezone.now(), "last_run_at": timezone.now(),
        "queued_at": timezone.now(), "total_steps": len(plan["steps"]),
        "execution_trace": trace.replayed(task, replay.id, before_step=from_step),
    })
    replay.refresh_from_db()
    _audit("task.replayed", task, {"replayId": replay.id, "fromStep": from_step})
    return replay


def _copy_steps(replay: Task, kept: list[TaskExecution]) -> None:
    TaskExecution.objects.bulk_create([
        TaskExecution(task=replay, run=1, step=row.step, action=row.action, tool=row.tool, input=row.input,
                      output=row.output, reasoning=f"(copied from task {row.task_id}) {row.reasoning or ''}",
                      status=row.status, side_effect=row.side_effect, trace_entry=row.trace_entry,
                      idempotency_key=f"task:{replay.id}:run:1:step:{row.step}",
                      completed_at=row.completed_at)
        for row in kept
    ])


def error_message(exc: BaseException) -> str:
    return describe(exc)


# --- Added by the interfaces work: edit and delete tasks, project CRUD. -----------------

IDLE = frozenset({"pending", "completed", "failed", "cancelled"})  # no worker holds the task
# credit_budget too, at any time: raising it is how a run paused at its credit limit continues
TASK_DETAILS = frozenset({"title", "description", "priority", "tags", "due_date", "project", "credit_budget"})
TASK_AGENT = frozenset({"agent_type", "agent_config", "agent_model", "plan"})


class TaskInUse(Exception):
    """The task has an active run (a worker may hold it); cancel it or let it finish first."""

    def __init__(self, task_id: str, status: str | None, doing: str):
        self.task_id, self.status = task_id, status
        super().__init__(f"cannot {doing} task {task_id} while it is {status or 'missing'}: "
                         f"cancel it or wait until it finishes")


def task_update(*, task: Task, changes: dict[str, Any]) -> Task:
    """Change a task's details; its agent (type, config, model, plan) only while no run is active.

    Never writes status. Agent changes are validated like task_create and stored with a
    conditional UPDATE, so a run that starts meanwhile wins and the edit is refused.
    """
    unknown = set(changes) - TASK_DETAILS - TASK_AGENT
    if unknown:
        raise InvalidTask(sorted(unknown)[0], f"cannot change {', '.join(sorted(unknown))}")
    rows = Task.objects.filter(id=task.id)
    if changes.keys() & TASK_AGENT:
        merged = {name: changes.get(name, getattr(task, name)) for name in TASK_AGENT}
        title = changes.get("title", task.title)
        description = changes.get("description", task.description)
        _check_request(merged["agent_type"], merged["agent_config"], merged["plan"], title, description)
        _check_schedule(merged["agent_config"])
        rows = rows.filter(status__in=IDLE)
        if "plan" in changes:  # its secrets are kept sealed at rest (agents/step_secrets.py)
            changes = {**changes, "plan": seal_plan(changes["plan"])}
    if changes and not rows.update(**changes, updated_at=timezone.now()):
        current = Task.objects.filter(id=task.id).values_list("status", flat=True).first()
        raise TaskInUse(task.id, current, "change the agent of")
    task.refresh_from_db()
    if "agent_config" in changes:
        schedules.sync(task)  # the schedule follows the config: created, changed or removed
    _audit("task.updated", task, {"fields": sorted(changes)})
    return task


def _check_request(agent_type: str | None, agent_config: dict[str, Any] | None, plan: dict[str, Any] | None,
                   title: str, description: str | None) -> None:
    """Everything that can be checked before storing: type, config, plan; InvalidTask names the field."""
    try:
        validate_request(agent_type=agent_type, agent_config=agent_config, explicit_plan=plan,
                         goal="\n\n".join(filter(None, [title, description])))
    except AgentTypeError as exc:
        field = "agentConfig" if agent_type and "agentConfig" in str(exc) else "agentType"
        raise InvalidTask(field, str(exc)) from None
    except PlanError as exc:
        raise InvalidTask("plan" if plan is not None else "agentConfig", str(exc)) from None


def task_delete(*, task: Task) -> None:
    """Delete a task with its steps and events, unless a run is active."""
    deleted, _ = Task.objects.filter(id=task.id, status__in=IDLE).delete()
    if not deleted:
        current = Task.objects.filter(id=task.id).values_list("status", flat=True).first()
        raise TaskInUse(task.id, current, "delete")
    schedules.remove(task.id)
    _audit("task.deleted", task, {"title": task.title})


def project_create(*, user: User, name: str, description: str = "") -> Project:
    return Project.objects.create(user=user, name=name, description=description)


def project_update(*, project: Project, changes: dict[str, Any]) -> Project:
    unknown = set(changes) - {"name", "description"}
    if unknown:
        raise InvalidTask(sorted(unknown)[0], f"cannot change {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        setattr(project, name, value)
    project.save(update_fields=[*changes, "updated_at"])
    return project


def project_delete(*, project: Project) -> None:
    """Delete a project; its tasks stay, without a project (the seed's onDelete: SetNull)."""
    project.delete()


# --- The durable queue: approvals and dead letters. ----------------------------------------


def approval_decide(*, approval: Approval, approve: bool, done: bool | None = None, user: User | None = None,
                    input: dict[str, Any] | None = None, reason: str = "", answer: str | None = None) -> Approval:
    """A person's answer. Policy gate: approve lets the exact call act (with `input`: the edited
    input, validated and re-checked, runs instead); reject cancels a plan-driven run with `reason`
    in its trace, or gives a model-driven run the reason as the step's result. A question of the
    agent: approve with `answer`. Unknown outcome: approve with done=True settles the step as done
    (not repeated), with done=False runs it again; reject cancels the task."""
    try:
        decided = approvals.decide(approval, approve=approve, done=done, user=user, input=input, reason=reason,
                                   answer=answer)
    except approvals.ApprovalError as exc:
        raise InvalidTask(exc.field, str(exc)) from None
    audit.record("approval.decided", owner_id=approval.task.user_id, target_type="approval", target_id=approval.id,
                 details={"taskId": approval.task_id, "step": approval.step, "action": approval.action,
                          "policy": approval.policy, "approve": approve, "done": done,
                          "editedInput": decided.edited_input, "reason": decided.reason,
                          "answer": decided.answer or None})
    return decided


def dead_letter_requeue(*, dead_letter: DeadLetter) -> DeadLetter:
    """Requeue a failed run: it waits for a slot, then continues at the step that failed."""
    with transaction.atomic():
        if not DeadLetter.objects.filter(id=dead_letter.id, requeued_at__isnull=True).update(
                requeued_at=timezone.now()):
            raise InvalidTask("deadLetter", f"dead letter {dead_letter.id} was requeued already")
        current = Task.objects.filter(id=dead_letter.task_id).values_list("status", "attempts").first()
        if current != ("failed", dead_letter.run):
            raise InvalidTask("deadLetter", f"task {dead_letter.task_id} is no longer the failed run "
                                            f"{dead_letter.run} (it is {current[0] if current else 'deleted'})")
        admission.requeue_failed_run(dead_letter.task_id, dead_letter.step)
        _audit("task.requeued", dead_letter.task, {"deadLetterId": dead_letter.id, "step": dead_letter.step})
    dead_letter.refresh_from_db()
    return dead_letter


# --- Rollback (the seed's "Rollback Capability"). --------------------------------------------


def task_rollback(*, task: Task, dry_run: bool = False, approve: list[str] | None = None,
                  user: User | None = None) -> dict[str, Any]:
    """Undo the last run's reversible changes, newest first, and list what cannot be undone.

    Only for a finished run (completed, failed, cancelled): RollbackRefused otherwise. A
    compensation that ran once is never run again; dry_run only reports. A compensation an
    approval policy gates runs only when `approve` names its id (from a dry run's report):
    until every gated one is approved nothing runs (RollbackNeedsApproval, with the report).
    """
    try:
        report = rollback.rollback(task.id, dry_run=dry_run, approve=approve or (),
                                   approved_by=user.get_username() if user is not None else "")
    except rollback.RollbackInputError as exc:
        raise InvalidTask("approve", str(exc)) from None
    if not dry_run:  # a dry run changes nothing
        _audit("task.rollback", task, {"run": report.get("run"), "undone": report.get("undone"),
                                       "failed": report.get("failed"), "approved": list(approve or ())})
    return report


# --- The web pages: notifications. ------------------------------------------------------


def notifications_mark_read(*, user: User) -> int:
    """Mark all of the user's notifications read; returns how many changed."""
    from .models import Notification

    return Notification.objects.filter(user=user, read=False).update(read=True)
