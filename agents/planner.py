"""The planner: a task's goal, agent type and config -> a validated Plan.

An explicit plan is validated and used as given; a typed agent gets its type's template;
a free-form goal runs reactively (the LLM picks each step), which needs a real model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .llm.base import LLMUnavailable, Provider
from .plan import Plan, parse_plan
from .types import build_plan

REACT = {"mode": "react", "steps": []}  # stored as the plan of a free-form task
PLANNING_CREDITS = 100  # the seed: planning costs 100-500 credits with a model; templates cost the floor


@dataclass(frozen=True)
class PlannedTask:
    plan: dict[str, Any]
    total_steps: int
    credits: int
    tokens: int = 0


def is_reactive(plan: dict[str, Any] | None) -> bool:
    return bool(plan) and plan.get("mode") == "react"  # type: ignore[union-attr]


def plan_task(
    *, goal: str, agent_type: str | None, agent_config: dict[str, Any] | None,
    explicit_plan: dict[str, Any] | None, provider: Provider,
) -> PlannedTask:
    if explicit_plan and not is_reactive(explicit_plan):
        return _planned(parse_plan(explicit_plan), credits=0)
    if agent_type:
        return _planned(build_plan(agent_type, agent_config, goal=goal), credits=PLANNING_CREDITS)
    if provider.name == "offline":
        raise LLMUnavailable(
            "a free-form goal needs a language model: set ANTHROPIC_API_KEY, or give the task an "
            "agentType or an explicit plan"
        )
    return PlannedTask(plan=dict(REACT), total_steps=0, credits=PLANNING_CREDITS)


def _planned(plan: Plan, *, credits: int) -> PlannedTask:
    return PlannedTask(plan=plan.to_json(), total_steps=len(plan.steps), credits=credits)


def validate_request(*, agent_type: str | None, agent_config: dict[str, Any] | None,
                     explicit_plan: dict[str, Any] | None, goal: str) -> None:
    """Check what can be checked at creation (plan, type, config) so bad input never gets stored."""
    if explicit_plan is not None:
        parse_plan(explicit_plan)
    elif agent_type:
        build_plan(agent_type, agent_config, goal=goal)
