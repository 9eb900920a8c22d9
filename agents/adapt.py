"""Adapting a plan that hit a tool error: with a real model, the rest of the run becomes ReAct.

The seed: "Tool Errors (selector not found): adapt approach, try alternative". A
plan-driven task whose step fails with a tool error (not transient, not a wrong plan)
hands the goal, the plan and every recorded step (the failure included, as an error
observation) to the model, which picks the next actions. Without a model, or with
agentConfig.adapt = false, the task fails with the error as before.
"""
from __future__ import annotations

import json
from typing import Any

from tasks_app.models import Task

from .llm import get_provider
from .llm.base import LLMUnavailable


def can_adapt(task: Task) -> bool:
    if (task.agent_config or {}).get("adapt") is False:
        return False
    try:
        return get_provider().name != "offline"
    except LLMUnavailable:
        return False


def adapted_plan(plan: dict[str, Any], failed_step: int) -> dict[str, Any]:
    """The plan as the task now stores it: reactive, remembering what it adapted from."""
    return {"mode": "react", "steps": [], "adaptedFrom": plan, "adaptedAtStep": failed_step}


def goal_of(task: Task) -> str:
    """The goal for the model; an adapted task also gets the plan it was following."""
    goal = "\n\n".join(part for part in [task.title, task.description or ""] if part)
    plan = (task.plan or {}).get("adaptedFrom")
    if not plan:
        return goal
    steps = [{"step": n, "action": s["action"], "description": s.get("description", ""), "params": s.get("params")}
             for n, s in enumerate(plan.get("steps", []), start=1)]
    failed = (task.plan or {}).get("adaptedAtStep")
    return (f"{goal}\n\nYou were following this plan, and step {failed} failed (its error is below). "
            "Reach the goal another way; do not repeat steps that already succeeded.\n"
            f"{json.dumps(steps, ensure_ascii=False, default=str)[:20_000]}")
