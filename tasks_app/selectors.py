"""Reads: a user's tasks, projects, steps, plan versions and approvals, and the facts a task's answers show.

The faces (the API, the pages, the commands) read through these and shape the answer themselves
(the API's response serializers); they never query a model directly. Lookups by id are scoped
to the owner: another user's object is None, like a missing one.
"""
from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import QuerySet

from agents import trace
from agents.credits import estimate
from agents.planner import is_reactive
from agents.policies import irreversible_steps
from agents.types import build_plan

from . import events
from .models import Approval, Notification, PlanVersion, Project, Task, TaskExecution


def user_by_username(*, username: str) -> Any | None:
    return get_user_model().objects.filter(username=username).first()


def task_list_for_user(*, user: Any) -> QuerySet[Task]:
    return Task.objects.filter(user=user)


def task_of_user(*, user: Any, task_id: str) -> Task | None:
    return Task.objects.filter(id=task_id, user=user).first()


def task_by_id(task_id: str) -> Task:
    """The task as stored now (a view waiting for a run's outcome reads it again)."""
    return Task.objects.get(id=task_id)


def tasks_filtered(*, user: Any, status: str | None = None, agent_type: str | None = None,
                   project_id: str | None = None, tag: str | None = None,
                   order_by: str = "-created_at") -> QuerySet[Task]:
    """The user's tasks with the list's filters, in a stable order (`order_by` first)."""
    tasks = task_list_for_user(user=user)
    if status is not None:
        tasks = tasks.filter(status=status)
    if agent_type is not None:
        tasks = tasks.filter(agent_type=agent_type)
    if project_id is not None:
        tasks = tasks.filter(project_id=project_id)
    if tag is not None:
        if connection.vendor == "postgresql":
            tasks = tasks.filter(tags__contains=[tag])
        else:  # SQLite has no JSON containment: the embedded default filters in Python
            tasks = tasks.filter(id__in=[t.id for t in tasks.only("id", "tags") if tag in (t.tags or [])])
    return tasks.order_by(order_by, "-created_at", "id")


def projects_for_user(*, user: Any) -> QuerySet[Project]:
    return Project.objects.filter(user=user).order_by("-created_at", "id")


def project_of_user(*, user: Any, project_id: str) -> Project | None:
    return Project.objects.filter(id=project_id, user=user).first()


def task_progress(task: Task) -> int:
    if task.status == "completed":
        return 100
    return min(100, round(100 * task.current_step / task.total_steps)) if task.total_steps else 0


def task_irreversible_steps(task: Task) -> list[dict[str, Any]]:
    """The steps of the task's plan (its type's template before it is planned) that cannot be undone."""
    plan = task.plan
    if not plan and task.agent_type:
        try:
            plan = build_plan(task.agent_type, task.agent_config, goal=task.title).to_json()  # type: ignore[arg-type]
        except Exception:  # an invalid config is reported when the run plans
            plan = None
    return [] if is_reactive(plan or {}) else irreversible_steps(plan)


def task_estimate(task: Task) -> dict[str, int | None]:
    """What a run of the task is expected to cost and take, shown before it starts (agents/credits.py)."""
    cached = getattr(task, "_estimate", None)  # a task serialized once asks once (a typed agent's template)
    if cached is None or cached[0] != (task.plan_credits, task.updated_at):
        cached = (task.plan_credits, task.updated_at), estimate(task)
        task._estimate = cached  # type: ignore[attr-defined]
    credits, duration = cached[1]
    return {"estimatedCredits": credits, "estimatedDuration": duration}


def task_trace(task: Task) -> dict[str, Any]:
    """The seed's GET /api/agent/trace/{taskId}: the latest run's trace (its shape: agents/trace.py)."""
    return trace.document(task)


def task_events_since(task: Task, *, after: int) -> list[dict[str, Any]]:
    """The task's stored progress events with seq greater than `after`, oldest first."""
    return events.since(task.id, after)


def task_executions(task: Task, *, run: int | None = None) -> QuerySet[TaskExecution]:
    """The task's recorded steps, every run (or one run), in order."""
    rows = TaskExecution.objects.filter(task=task).order_by("run", "step")
    return rows if run is None else rows.filter(run=run)


def task_plan_versions(task: Task, *, run: int) -> QuerySet[PlanVersion]:
    """The plan versions of one run, oldest first (PlanVersion rows the engine wrote)."""
    return PlanVersion.objects.filter(task=task, run=run).order_by("version")


# --- Reads of the web pages (tasks_app/pages.py). ---------------------------------------


def task_steps(task: Task) -> QuerySet[TaskExecution]:
    """The steps of the task's latest run (all steps of a task never run: none)."""
    return TaskExecution.objects.filter(task=task, run=max(task.attempts, 1)).order_by("step")


def task_step(task: Task, *, step_id: str) -> TaskExecution | None:
    return TaskExecution.objects.filter(id=step_id, task=task).first()


def approvals_pending_for_task(task: Task) -> list[Approval]:
    return list(Approval.objects.filter(task=task, status=Approval.Status.PENDING))


def approval_of_user(*, user: Any, approval_id: str) -> Approval | None:
    return (Approval.objects.select_related("decided_by", "task")
            .filter(id=approval_id, task__user=user).first())


def approvals_pending_for_user(*, user: Any) -> QuerySet[Approval]:
    return Approval.objects.filter(task__user=user, status=Approval.Status.PENDING).select_related("task")


def approvals_for_user(*, user: Any, status: str = "pending", task_id: str | None = None) -> QuerySet[Approval]:
    """The user's approvals across their tasks (the inbox), newest first; status "all" for every one."""
    rows = Approval.objects.filter(task__user=user).select_related("task", "decided_by").order_by("-created_at")
    rows = rows if status == "all" else rows.filter(status=status)
    return rows.filter(task_id=task_id) if task_id else rows


def notifications_for_user(*, user: Any, limit: int = 10) -> list[Notification]:
    return list(Notification.objects.filter(user=user).select_related("task").order_by("-created_at")[:limit])
