"""Use cases: the only code that changes a task. Views, admin, commands and tests call these."""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from agents.dispatch import enqueue
from agents.errors import describe
from agents.plan import PlanError
from agents.planner import validate_request
from agents.types import AgentTypeError

from . import lifecycle
from .models import Project, Task, TaskExecution


class InvalidTask(ValueError):
    """The task request is invalid; the message names the field and the problem."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def task_create(
    *, user: AbstractBaseUser, title: str, description: str | None = None, agent_type: str | None = None,
    agent_config: dict[str, Any] | None = None, plan: dict[str, Any] | None = None, priority: str = "medium",
    agent_model: str | None = None, project: Project | None = None, tags: list[str] | None = None,
    due_date: Any = None,
) -> Task:
    """Validate the request completely, then store the task in `pending`. Nothing runs yet."""
    try:
        validate_request(agent_type=agent_type, agent_config=agent_config, explicit_plan=plan,
                         goal="\n\n".join(filter(None, [title, description])))
    except AgentTypeError as exc:
        field = "agentConfig" if agent_type and "agentConfig" in str(exc) else "agentType"
        raise InvalidTask(field, str(exc)) from None
    except PlanError as exc:
        raise InvalidTask("plan" if plan is not None else "agentConfig", str(exc)) from None
    return Task.objects.create(
        user=user, title=title, description=description, agent_type=agent_type, agent_config=agent_config,
        plan=plan, priority=priority, agent_model=agent_model, project=project, tags=tags or [],
        due_date=due_date,
    )


def task_execute(*, task: Task) -> Task:
    """Start a new run: from pending, or again after it finished (retry, schedule)."""
    fresh_plan = task.plan if task.agent_type is None else None  # typed agents replan every run
    with transaction.atomic():
        lifecycle.require(
            "start", task_id=task.id, attempts=task.attempts + 1, current_step=0, tool_calls=0, result=None,
            error=None, started_at=timezone.now(), last_run_at=timezone.now(), completed_at=None, failed_at=None,
            total_tokens=0, total_credits=0, execution_time=0, plan=fresh_plan, tool_state={},
            execution_trace={"taskId": task.id, "steps": []},
        )
        enqueue("plan", task.id, priority=task.priority)
    task.refresh_from_db()
    return task


def task_pause(*, task: Task) -> Task:
    lifecycle.require("pause", task_id=task.id)
    task.refresh_from_db()
    return task


def task_resume(*, task: Task) -> Task:
    with transaction.atomic():
        lifecycle.require("resume", task_id=task.id)
        enqueue("step", task.id, priority=task.priority)
    task.refresh_from_db()
    return task


def task_cancel(*, task: Task) -> Task:
    lifecycle.require("cancel", task_id=task.id)
    task.refresh_from_db()
    return task


def task_replay(*, task: Task, from_step: int = 1) -> Task:
    """Re-run a finished task as a new task: steps before `from_step` are copied from its trace."""
    if not lifecycle.allowed(task.status, "start") or task.status == "pending":
        raise lifecycle.TransitionNotAllowed(task.id, "replay", task.status)
    plan = task.plan or {}
    if plan.get("mode") == "react" or not plan.get("steps"):
        raise InvalidTask("plan", f"task {task.id} has no recorded plan to replay")
    if not 1 <= from_step <= len(plan["steps"]):
        raise InvalidTask("fromStep", f"fromStep must be between 1 and {len(plan['steps'])}, got {from_step}")
    kept = list(TaskExecution.objects.filter(task=task, run=task.attempts, step__lt=from_step, status="completed"))
    if len(kept) != from_step - 1:
        raise InvalidTask("fromStep", f"steps before {from_step} did not all complete in the last run")
    with transaction.atomic():
        replay = Task.objects.create(
            user=task.user, project=task.project, title=f"{task.title} (replay from step {from_step})",
            description=task.description, agent_model=task.agent_model, agent_config=task.agent_config,
            agent_type=None, plan=plan, priority=task.priority, tags=[*task.tags, f"replay-of:{task.id}"],
        )
        _copy_steps(replay, kept)
        lifecycle.require(
            "start", task_id=replay.id, attempts=1, current_step=from_step - 1, started_at=timezone.now(),
            last_run_at=timezone.now(), total_steps=len(plan["steps"]),
            execution_trace={"taskId": replay.id, "replayOf": task.id,
                             "steps": [s for s in (task.execution_trace or {}).get("steps", [])
                                       if s.get("step", 0) < from_step]},
        )
        lifecycle.require("planned", task_id=replay.id)
        enqueue("step", replay.id, priority=replay.priority)
    replay.refresh_from_db()
    return replay


def _copy_steps(replay: Task, kept: list[TaskExecution]) -> None:
    TaskExecution.objects.bulk_create([
        TaskExecution(task=replay, run=1, step=row.step, action=row.action, tool=row.tool, input=row.input,
                      output=row.output, reasoning=f"(copied from task {row.task_id}) {row.reasoning or ''}",
                      status=row.status, side_effect=row.side_effect,
                      idempotency_key=f"task:{replay.id}:run:1:step:{row.step}",
                      completed_at=row.completed_at)
        for row in kept
    ])


def error_message(exc: BaseException) -> str:
    return describe(exc)


# --- Added by the interfaces work: edit and delete tasks, project CRUD. -----------------

IDLE = frozenset({"pending", "completed", "failed", "cancelled"})  # no worker holds the task
TASK_DETAILS = frozenset({"title", "description", "priority", "tags", "due_date", "project"})
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
        rows = rows.filter(status__in=IDLE)
    if changes and not rows.update(**changes, updated_at=timezone.now()):
        current = Task.objects.filter(id=task.id).values_list("status", flat=True).first()
        raise TaskInUse(task.id, current, "change the agent of")
    task.refresh_from_db()
    return task


def _check_request(agent_type: str | None, agent_config: dict[str, Any] | None, plan: dict[str, Any] | None,
                   title: str, description: str | None) -> None:
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


def project_create(*, user: AbstractBaseUser, name: str, description: str = "") -> Project:
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
