"""The planner: a task's goal, agent type and config -> a validated plan, before any step runs.

An explicit plan is validated and used as given; a typed agent gets its type's template (or,
with agentConfig.planning = "model" and a model configured, the model's plan with the
template as guidance); a free-form goal is planned by the model through `submit_plan`
(agents/model_planner.py), or runs reactively when the model explores or agentConfig.planning
is "react". Without a model a free-form goal is a clear error, never a guessed plan.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from tasks_app import credentials

from . import estimates, model_planner, plan_prompt
from .llm.base import LLMUnavailable, Provider
from .plan import Plan, PlanError, check_plan, parse_plan
from .types import ENGINE_KEYS, TYPE_MODULES, build_plan, load, validate_config

REACT = {"mode": "react", "steps": []}  # stored as the plan of a reactive run
# the flat planning charge of a template or a reactive run, and what a model's planning is expected
# to cost before it is made (agents/credits.py checks that against the budget); a plan the model
# writes costs its tokens instead
PLANNING_CREDITS = 100


@dataclass(frozen=True)
class PlannedTask:
    plan: dict[str, Any]
    total_steps: int
    credits: int
    tokens: int = 0
    source: str = "user"  # user | template | model | react
    reason: str = ""
    model: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def is_reactive(plan: dict[str, Any] | None) -> bool:
    return bool(plan) and plan.get("mode") == "react"  # type: ignore[union-attr]


def meta(plan: dict[str, Any] | None) -> dict[str, Any]:
    """The engine's notes on a stored plan: by, version, replans, model, estimate, pending."""
    return dict((plan or {}).get("planning") or {})


def version_of(plan: dict[str, Any] | None) -> int:
    return int(meta(plan).get("version") or 1)


def base_plan(plan: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a new run of the task starts from: the person's own plan, or None to plan again
    (the model's plans, reactive runs and templates are made afresh every run)."""
    if not plan:
        return None
    if plan.get("adaptedFrom"):  # a person's plan that a failed step turned reactive
        return base_plan(plan["adaptedFrom"])
    info = meta(plan)
    if info:
        return info.get("base") if info.get("by") == "user" else None
    return None if is_reactive(plan) else plan


def plan_task(
    *, goal: str, agent_type: str | None, agent_config: dict[str, Any] | None,
    explicit_plan: dict[str, Any] | None, provider: Provider, user_id: int | None = None,
    model: str | None = None,
) -> PlannedTask:
    config = agent_config or {}
    own = own_plan(explicit_plan, user_id=user_id)
    if own is not None:
        return own
    wants_model = config.get("planning") == "model"
    if agent_type and (not wants_model or provider.name == "offline"):
        offline = " (no model configured to plan it)" if wants_model else ""
        return _stored(build_plan(agent_type, agent_config, goal=goal), source="template",
                       reason=f"the {agent_type} template{offline}", user_id=user_id, credits=PLANNING_CREDITS)
    if provider.name == "offline":
        raise LLMUnavailable(
            "a free-form goal needs a language model: set ANTHROPIC_API_KEY, or give the task an "
            "agentType or an explicit plan"
        )
    if config.get("planning") == "react" and not agent_type:
        plan = {**REACT, "planning": {"by": "react", "version": 1, "replans": 0}}
        return PlannedTask(plan=plan, total_steps=0, credits=PLANNING_CREDITS, source="react",
                           reason="agentConfig.planning is react: the model picks each step")
    return _model_plan(provider, goal=goal, agent_type=agent_type, config=config, user_id=user_id, model=model)


def own_plan(explicit_plan: dict[str, Any] | None, *, user_id: int | None) -> PlannedTask | None:
    """The person's own plan as the run stores it (no model needed), or None when the run is planned
    otherwise. Raises PlanError when the plan is not valid."""
    explicit = base_plan(explicit_plan)
    if not explicit:
        return None
    return _stored(parse_plan(explicit), source="user", reason="the task's own plan", user_id=user_id, base=explicit)


def _model_plan(provider: Provider, *, goal: str, agent_type: str | None, config: dict[str, Any],
                user_id: int | None, model: str | None) -> PlannedTask:
    tools = config.get("tools")
    outcome = model_planner.converse(
        provider, system=plan_prompt.system_prompt(tools),
        prompt=plan_prompt.first_message(goal=goal, guidance=guidance(agent_type, config, goal),
                                         connected=connected_accounts(user_id)),
        tools=model_planner.tools_for("initial"), model=model_planner.planning_model(model),
        check=lambda data: checked(data, tools=tools, literal_from=1),
    )
    credits = estimates.credits_for_tokens(outcome.model, outcome.input_tokens, outcome.output_tokens)
    reason = model_planner.describe_outcome(outcome)
    details = {"inputTokens": outcome.input_tokens, "outputTokens": outcome.output_tokens}
    if outcome.plan is None:  # it chose to explore: the run is reactive
        plan = {**REACT, "planning": {"by": "model", "version": 1, "replans": 0, "model": outcome.model,
                                      "explored": outcome.text[:2_000]}}
        return PlannedTask(plan=plan, total_steps=0, credits=credits, tokens=outcome.tokens, source="model",
                           reason=reason, model=outcome.model, details=details)
    planned = _stored(outcome.plan, source="model", reason=reason, user_id=user_id, tokens=outcome.tokens,
                      credits=credits, model=outcome.model)
    return replace(planned, details=details)


def checked(data: Any, *, tools: list[str] | None, literal_from: int) -> tuple[Plan | None, list[str]]:
    """check_plan, plus the task's own limit on tools (agentConfig.tools)."""
    plan, problems = check_plan(data, literal_from=literal_from)
    if plan is not None and tools is not None:
        problems += [f"step {n} ({s.action}): this task may use only {', '.join(tools)}"
                     for n, s in enumerate(plan.steps, start=1)
                     if n >= literal_from and s.action not in tools and s.tool not in tools]
    return plan, problems


def _stored(plan: Plan, *, source: str, reason: str, user_id: int | None, tokens: int = 0, credits: int = 0,
            model: str = "", base: dict[str, Any] | None = None) -> PlannedTask:
    """The plan as the task stores it: its estimate from history, and the engine's notes."""
    data = plan.to_json()
    estimate = estimates.estimate(data["steps"], owner_id=user_id, declared_duration=plan.estimated_duration)
    data.update(estimatedCredits=estimate.credits, estimatedDuration=estimate.duration)  # planning not included
    info: dict[str, Any] = {"by": source, "version": 1, "replans": 0, "estimate": estimate.to_json()}
    if model:
        info["model"] = model
    if base is not None:
        info["base"] = base  # a new run starts from the person's plan as written
    return PlannedTask(plan={**data, "planning": info}, total_steps=len(plan.steps), credits=credits,
                       tokens=tokens, source=source, reason=reason, model=model)


def guidance(agent_type: str | None, config: dict[str, Any], goal: str) -> str | None:
    """For a typed agent: what the type is for, its config, and the plan its template would make."""
    if not agent_type or agent_type not in TYPE_MODULES:
        return None
    parts = [f"This is a {agent_type} agent. {(load(agent_type).__doc__ or '').strip()}",
             f"Its config: {json.dumps(strip_engine_keys(config), ensure_ascii=False, default=str)}"]
    try:
        template = build_plan(agent_type, strip_engine_keys(config), goal=goal).to_json()
        parts.append(f"Its usual plan, to adapt to what the config asks: {json.dumps(template, ensure_ascii=False)}")
    except ValueError:
        pass  # the config asks for what the template cannot do: the model plans without it
    return "\n".join(parts)


def strip_engine_keys(config: dict[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (config or {}).items() if key not in ENGINE_KEYS}


def connected_accounts(user_id: int | None) -> list[str]:
    return [row["provider"] for row in credentials.connected(user_id=user_id)] if user_id is not None else []


def validate_request(*, agent_type: str | None, agent_config: dict[str, Any] | None,
                     explicit_plan: dict[str, Any] | None, goal: str) -> None:
    """Check what can be checked at creation (plan, type, config) so bad input never gets stored."""
    planning = (agent_config or {}).get("planning")
    if planning is not None and planning not in ("model", "react", "template"):
        raise PlanError(f"agentConfig.planning must be model, react or template, not {planning!r}")
    if explicit_plan is not None:
        explicit = base_plan(explicit_plan)  # a stored plan the engine made is made afresh: nothing to check
        if explicit is not None:
            parse_plan(explicit)
    elif agent_type and planning == "model":
        validate_config(agent_type, agent_config)  # the model plans what the template cannot
    elif agent_type:
        build_plan(agent_type, agent_config, goal=goal)
