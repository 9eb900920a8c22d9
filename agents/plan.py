"""A Plan is data: validated steps with tool, action, params and dependencies.

The seed's plan format is accepted as written: steps without ids are step1, step2 ...;
`tool` defaults to the prefix of `action` ("http.get" -> http).
"""
from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tools import registry
from tools.errors import ToolInputError

from .expressions import references

STEP_REF = re.compile(r"^step\d+$")
MAX_STEPS = 100


class PlanError(ValueError):
    """The plan is invalid; the message names the step and the problem."""


class PlanStep(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(default="", max_length=64, pattern=r"^$|^[A-Za-z_][A-Za-z0-9_]*$")
    action: str = Field(min_length=3, max_length=100)
    tool: str = Field(default="", max_length=50)
    description: str = Field(default="", max_length=2000)
    params: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list, alias="dependsOn")
    when: str | None = Field(default=None, max_length=500,
                             description="A reference; the step runs only if it is truthy, e.g. {step3.result.alert}")

    @model_validator(mode="after")
    def tool_from_action(self) -> PlanStep:
        if "." not in self.action:
            if not self.tool:
                raise ValueError(f"action {self.action!r} must be written tool.action, e.g. http.get")
            self.action = f"{self.tool}.{self.action}"
        prefix = self.action.split(".", 1)[0]
        if self.tool and self.tool != prefix:
            raise ValueError(f"tool {self.tool!r} does not match action {self.action!r}")
        self.tool = prefix
        return self


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    steps: list[PlanStep] = Field(min_length=1, max_length=MAX_STEPS)
    estimated_credits: int = Field(default=0, ge=0, alias="estimatedCredits")
    estimated_duration: int = Field(default=0, ge=0, alias="estimatedDuration")  # milliseconds

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)

    def step_ids(self) -> list[str]:
        return [step.id for step in self.steps]


def parse_plan(data: Any) -> Plan:
    """Validate a plan given as JSON: shape, tools, actions and every reference."""
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'plan'}: {err['msg']}" for err in exc.errors()
        )
        raise PlanError(f"invalid plan: {problems}") from None
    seen: set[str] = set()
    for number, step in enumerate(plan.steps, start=1):
        step.id = step.id or f"step{number}"
        label = f"step {number} ({step.action})"
        if step.id in seen:
            raise PlanError(f"{label}: duplicate step id {step.id!r}")
        try:
            registry.get_action(step.action)
        except ToolInputError as exc:
            raise PlanError(f"{label}: {exc}") from None
        for ref in sorted(references(step.params) | references(step.when) | set(step.depends_on)):
            positional = ref if STEP_REF.match(ref) else None
            if ref in seen or (positional and int(positional[4:]) < number):
                continue
            if positional or ref in step.depends_on or ref in _later_ids(plan, number):
                raise PlanError(f"{label}: refers to {ref!r}, which is not an earlier step")
        seen.add(step.id)
    if not plan.estimated_credits:
        plan.estimated_credits = sum(registry.get_action(s.action).credits for s in plan.steps)
    return plan


def _later_ids(plan: Plan, number: int) -> set[str]:
    return {s.id for s in plan.steps[number - 1 :] if s.id}
