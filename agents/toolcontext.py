"""What a step sees: the reference context of plan params, and the ToolContext of a call."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings

from tasks_app import credentials
from tasks_app.models import Task
from tools.base import ToolContext
from tools.egress import EgressPolicy

from .llm import get_provider
from .stores import OwnerStores, Scope


def reference_context(task: Task, plan: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Names a param may refer to: step1..stepN and step ids, user, task, config."""
    context: dict[str, Any] = {
        "user": {"id": task.user_id, "email": task.user.email, "username": task.user.get_username(),
                 "name": task.user.get_full_name() or task.user.get_username()},
        "task": {"id": task.id, "title": task.title, "description": task.description or ""},
        "config": task.agent_config or {},
    }
    plan_steps = plan.get("steps", [])
    for row in steps:
        value = {"result": row["output"], "output": row["output"], "error": row["error"], "status": row["status"]}
        context[f"step{row['step']}"] = value
        if row["step"] <= len(plan_steps) and plan_steps[row["step"] - 1].get("id"):
            context[plan_steps[row["step"] - 1]["id"]] = value
    return context


def save_refreshed_credentials(task: Task, before: dict[str, Any], context: ToolContext) -> None:
    """A tool that refreshed an OAuth token left the new one in its context: keep it, encrypted."""
    for provider, secret in context.credentials.items():
        if isinstance(secret, dict) and secret != before.get(provider):
            credentials.store(user_id=task.user_id, provider=provider, secret=secret)


def idempotency_key(task: Task, number: int) -> str:
    """The key every side-effecting call of this step carries; unique per task, run and step."""
    return f"task:{task.id}:run:{task.attempts}:step:{number}"


def owner_artifacts_dir(owner_id: int | None) -> Path:
    """MEDIA_ROOT/artifacts/<owner id>/: the only files an owner's tools may read or write, so
    one user's task can never name another user's screenshot by its path."""
    return settings.MEDIA_ROOT / "artifacts" / (str(owner_id) if owner_id is not None else "no-owner")


def identity(user: Any, *, with_groups: bool = True) -> dict[str, Any]:
    """The owner's name, groups and staff flag, which AGENT_DATABASES connections are opened by
    (the groups are one more query: read only for a tool that uses them)."""
    groups = tuple(user.groups.values_list("name", flat=True)) if with_groups else ()
    return {"username": user.get_username(), "groups": groups, "is_staff": bool(user.is_staff or user.is_superuser)}


def tool_context(user: Any | None, *, task_id: str, idempotency_key: str = "", model: str | None = None,
                 state: dict[str, Any] | None = None, stores: Mapping[str, Any] | None = None,
                 uses_credentials: bool = False, uses_groups: bool = True) -> ToolContext:
    """What a call made for `user` (None: nobody) sees: who they are, the egress policy, the model,
    their stored credentials when the tool uses them, their artifacts folder and their stores.
    A task's steps and `manage.py run_tool` both build it here, so both run under one policy."""
    owner_id = user.pk if user is not None else None
    return ToolContext(
        task_id=task_id,
        user_id=owner_id,
        user_email=user.email if user is not None else "",
        **(identity(user, with_groups=uses_groups) if user is not None else {}),
        idempotency_key=idempotency_key,
        model=model,
        egress=EgressPolicy.from_settings(),
        llm=get_provider(),
        state=dict(state or {}),
        credentials=credentials.load_all(user_id=owner_id) if owner_id is not None and uses_credentials else {},
        artifacts_dir=owner_artifacts_dir(owner_id),
        stores=stores if stores is not None else {},
    )


def build_tool_context(task: Task, number: int, *, uses_credentials: bool = False,
                       uses_groups: bool = True) -> ToolContext:
    """The context of step `number` of the task's current run, with the owner's stores for that run."""
    return tool_context(task.user, task_id=task.id, idempotency_key=idempotency_key(task, number),
                        model=task.agent_model, state=task.tool_state, uses_credentials=uses_credentials,
                        uses_groups=uses_groups,
                        stores=OwnerStores(Scope(owner_id=task.user_id, task_id=task.id, run=task.attempts)))
