"""Reads: tasks for a user, a task's status and trace in the seed's wire shape (camelCase)."""
from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from agents import trace
from agents.credits import estimate
from agents.planner import is_reactive
from agents.policies import irreversible_steps
from agents.types import build_plan

from .models import Approval, Notification, PlanVersion, Task, TaskExecution


def user_by_username(*, username: str) -> Any | None:
    return get_user_model().objects.filter(username=username).first()


def task_list_for_user(*, user: Any) -> QuerySet[Task]:
    return Task.objects.filter(user=user)


def task_progress(task: Task) -> int:
    if task.status == "completed":
        return 100
    return min(100, round(100 * task.current_step / task.total_steps)) if task.total_steps else 0


def task_status(task: Task) -> dict[str, Any]:
    """The seed's GET /api/agent/status/{taskId} response."""
    return {
        "taskId": task.id, "status": task.status, "currentStep": task.current_step, "totalSteps": task.total_steps,
        "progress": task_progress(task), "executionTime": task.execution_time, "creditsUsed": task.total_credits,
        "tokensUsed": task.total_tokens, "error": task.error, "pauseReason": task.pause_reason or None,
        "creditBudget": task.credit_budget, **task_estimate(task), "irreversibleSteps": task_irreversible_steps(task),
    }


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
    return trace.copy_of(task)


def step_as_json(row: TaskExecution) -> dict[str, Any]:
    return {
        "id": row.id, "run": row.run, "step": row.step, "action": row.action, "tool": row.tool,
        "input": row.input, "output": row.output, "reasoning": row.reasoning, "status": row.status,
        "error": row.error, "sideEffect": row.side_effect, "tokens": row.tokens, "credits": row.credits,
        "duration": row.duration, "planVersion": row.plan_version, "createdAt": row.created_at.isoformat(),
        "completedAt": row.completed_at.isoformat() if row.completed_at else None,
    }


def task_plan_versions(task: Task, *, run: int) -> list[dict[str, Any]]:
    """The plan versions of one run, oldest first (PlanVersion rows the engine wrote)."""
    rows = PlanVersion.objects.filter(task=task, run=run).order_by("version")
    return [{"run": r.run, "version": r.version, "kind": r.kind, "source": r.source, "atStep": r.at_step,
             "reason": r.reason, "plan": r.plan, "tokens": r.tokens, "credits": r.credits, "model": r.model,
             "createdAt": r.created_at.isoformat()} for r in rows]


def task_result(task: Task) -> dict[str, Any]:
    """The final task as the run_task command prints it with --json."""
    steps = TaskExecution.objects.filter(task=task, run=task.attempts).order_by("step")
    return {
        **task_status(task), "title": task.title, "agentType": task.agent_type, "result": task.result,
        "credits": task.total_credits, "steps": [step_as_json(row) for row in steps],
    }


# --- Reads of the web pages (tasks_app/pages.py). ---------------------------------------


def task_steps(task: Task) -> QuerySet[TaskExecution]:
    """The steps of the task's latest run (all steps of a task never run: none)."""
    return TaskExecution.objects.filter(task=task, run=max(task.attempts, 1)).order_by("step")


def approvals_pending_for_user(*, user: Any) -> QuerySet[Approval]:
    return Approval.objects.filter(task__user=user, status=Approval.Status.PENDING).select_related("task")


def approvals_for_user(*, user: Any, status: str = "pending", task_id: str | None = None) -> QuerySet[Approval]:
    """The user's approvals across their tasks (the inbox), newest first; status "all" for every one."""
    rows = Approval.objects.filter(task__user=user).select_related("task", "decided_by").order_by("-created_at")
    rows = rows if status == "all" else rows.filter(status=status)
    return rows.filter(task_id=task_id) if task_id else rows


def notifications_for_user(*, user: Any, limit: int = 10) -> list[Notification]:
    return list(Notification.objects.filter(user=user).select_related("task").order_by("-created_at")[:limit])
