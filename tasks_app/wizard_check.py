"""The wizard's live check: a draft task's field errors, its schedule in words, and the plan it would run.

Validates with the same code task_create uses (agents.types schemas, the planner's request check,
agents/schedules), so what the page says as you type is what creating the task would say.
Reads only: nothing is stored, nothing runs, no model is asked.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cron_descriptor import Options, get_description
from croniter import croniter
from django.utils import timezone
from pydantic import ValidationError

from agents import estimates, schedules
from agents.plan import PlanError, parse_plan
from agents.planner import validate_request
from agents.policies import irreversible_steps
from agents.types import ENGINE_KEYS, TYPE_MODULES, AgentTypeError, build_plan, load

NEXT_RUNS = 5
MESSAGES = {"extra_forbidden": "not a field of this agent type", "missing": "required"}  # pydantic's, in plain words
ROOT = ""  # the key of an error about the config as a whole (e.g. "give url or urls")


def field_errors(agent_type: str, config: dict[str, Any]) -> dict[str, str]:
    """The type's schema errors by top-level field (its wire name), then the plan's and the schedule's."""
    own = {key: value for key, value in config.items() if key not in ENGINE_KEYS}
    try:
        load(agent_type).Config.model_validate(own)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            key = loc[0] if loc else ROOT
            where = f"{'.'.join(loc[1:])}: " if len(loc) > 1 else ""
            message = MESSAGES.get(err["type"], err["msg"])
            errors.setdefault(key, f"{where}{message.removeprefix('Value error, ')}")
        return errors
    try:
        validate_request(agent_type=agent_type, agent_config=config, explicit_plan=None, goal="check")
        schedules.validate(config)
    except schedules.InvalidSchedule as exc:
        return {"schedule": str(exc).removeprefix("agentConfig.schedule: ")}
    except (AgentTypeError, PlanError) as exc:
        return {ROOT: str(exc)}
    return {}


def describe_schedule(expression: str | None, now: datetime | None = None) -> dict[str, Any] | None:
    """'0 9 * * *' -> its description and the next run times (UTC, as the scheduler fires them)."""
    if not expression:
        return None
    try:
        schedules.parse(expression)
    except schedules.InvalidSchedule as exc:
        return {"expression": expression, "error": str(exc).removeprefix("agentConfig.schedule: ")}
    options = Options()
    options.use_24hour_time_format = True
    runs = croniter(expression, (now or timezone.now()).astimezone(UTC))
    return {"expression": expression, "description": f"{get_description(expression, options)} (UTC)",
            "nextRuns": [runs.get_next(datetime).isoformat() for _ in range(NEXT_RUNS)]}


def preview(plan: dict[str, Any], *, owner_id: int) -> dict[str, Any]:
    """The plan's steps with what each does, which cannot be undone, and the run's estimated cost."""
    irreversible = {row["step"]: row["why"] for row in irreversible_steps(plan)}
    steps = [{"step": n, "action": s["action"], "description": s.get("description") or "",
              "when": s.get("when"), "irreversible": n in irreversible, "why": irreversible.get(n, "")}
             for n, s in enumerate(plan["steps"], start=1)]
    cost = estimates.estimate(plan["steps"], owner_id=owner_id, declared_duration=plan.get("estimatedDuration") or 0)
    return {"steps": steps, **cost.to_json()}


def check(*, kind: str, config: dict[str, Any] | None, plan: dict[str, Any] | None, title: str,
          owner_id: int) -> dict[str, Any]:
    """The page's answer: {"errors": {field: message}, "schedule": ..., "preview": ...}."""
    if kind not in TYPE_MODULES:
        return _check_plan(plan, owner_id=owner_id) if plan is not None else {"errors": {}, "schedule": None,
                                                                              "preview": None}
    config = config or {}
    errors = field_errors(kind, config)
    result: dict[str, Any] = {"errors": errors, "schedule": describe_schedule(schedules.schedule_of(config, kind)),
                              "preview": None}
    if errors:
        return result
    if config.get("planning") in ("model", "react"):
        result["preview"] = {"steps": [], "planner": "model"}  # planned when it runs: no steps to show yet
    else:
        result["preview"] = preview(build_plan(kind, config, goal=title or kind).to_json(), owner_id=owner_id)
    return result


def _check_plan(plan: dict[str, Any], *, owner_id: int) -> dict[str, Any]:
    try:
        parsed = parse_plan(plan).to_json()
    except PlanError as exc:
        return {"errors": {"plan": str(exc)}, "schedule": None, "preview": None}
    return {"errors": {}, "schedule": None, "preview": preview(parsed, owner_id=owner_id)}
