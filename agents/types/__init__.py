"""Agent types: each a module with a config schema and a plan template (no if-chains elsewhere)."""
from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from ..plan import Plan, PlanError

TYPE_MODULES = {
    "research": "agents.types.research",
    "browser_automation": "agents.types.browser_automation",
    "email_campaign": "agents.types.email_campaign",
    "data_processing": "agents.types.data_processing",
}


# agentConfig keys the engine reads itself, never a type's config (agents/planner.py, agents/replan.py)
ENGINE_KEYS = frozenset({"planning", "replan"})


class AgentTypeError(ValueError):
    """Unknown agent type, or a config that fails the type's schema."""


@cache
def load(agent_type: str) -> ModuleType:
    if agent_type not in TYPE_MODULES:
        raise AgentTypeError(f"unknown agent type {agent_type!r}; known types: {', '.join(sorted(TYPE_MODULES))}")
    return importlib.import_module(TYPE_MODULES[agent_type])


def validate_config(agent_type: str, config: dict[str, Any] | None) -> Any:
    module = load(agent_type)
    own = {key: value for key, value in (config or {}).items() if key not in ENGINE_KEYS}
    try:
        return module.Config.model_validate(own)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'agentConfig'}: {err['msg']}" for err in exc.errors()
        )
        raise AgentTypeError(f"invalid agentConfig for {agent_type}: {problems}") from None


def build_plan(agent_type: str, config: dict[str, Any] | None, *, goal: str) -> Plan:
    plan = load(agent_type).build_plan(validate_config(agent_type, config), goal=goal)
    if not isinstance(plan, Plan):
        raise PlanError(f"agent type {agent_type} did not produce a plan")
    return plan


def default_schedule(agent_type: str | None, config: dict[str, Any] | None) -> str | None:
    """The schedule a type gives a task whose config names none (a triggered campaign: daily)."""
    hook = getattr(load(agent_type), "default_schedule", None) if agent_type in TYPE_MODULES else None
    return hook(config or {}) if hook is not None else None


def result_for(agent_type: str | None, plan: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The task's result: the type's own shape if it has one, else every step's output by id."""
    ids = [s.get("id") or f"step{n}" for n, s in enumerate(plan.get("steps", []), start=1)]
    outputs = {ids[row["step"] - 1] if row["step"] <= len(ids) else f"step{row['step']}": row["output"]
               for row in steps}
    templated = (plan.get("planning") or {}).get("by") != "model"  # a model's plan has its own steps and ids
    module = load(agent_type) if agent_type in TYPE_MODULES and templated else None
    shape = getattr(module, "shape_result", None)
    if shape is not None:
        return dict(shape(outputs))
    return {"outputs": outputs, "final": steps[-1]["output"] if steps else None}
