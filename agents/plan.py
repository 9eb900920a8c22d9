"""A Plan is data: validated steps with tool, action, params and dependencies.

The seed's plan format is accepted as written: steps without ids are step1, step2 ...;
`tool` defaults to the prefix of `action` ("http.get" -> http).
"""
from __future__ import annotations

import re
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator

from tools import registry
from tools.base import Action
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
    for_each: str | None = Field(default=None, max_length=500, validation_alias=AliasChoices("for_each", "forEach"),
                                 serialization_alias="for_each",
                                 description="A reference to a list, e.g. {step1.result.urls}: the step runs once "
                                             "per item ({item} in its params), in parallel; its result is the list "
                                             "of their results")
    requires_approval: bool = Field(default=False, alias="requiresApproval",
                                    description="A checkpoint: a person approves this step's exact call first")

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
    """Validate a plan given as JSON: shape, tools, actions and every reference (first problem raised)."""
    plan, problems = check_plan(data)
    if plan is None:
        raise PlanError(f"invalid plan: {'; '.join(problems)}")
    if problems:
        raise PlanError(problems[0])
    if not plan.estimated_credits:
        plan.estimated_credits = sum(registry.get_action(s.action).credits for s in plan.steps)
    return plan


def check_plan(data: Any, *, literal_from: int | None = None) -> tuple[Plan | None, list[str]]:
    """Every problem of a plan, not just the first (a model repairs them all in one go).

    Shape, unknown actions, references to steps that are not earlier, dependsOn cycles; from
    step `literal_from` on, also the params that are literal (no {...} inside) against the
    action's input schema. The plan is None when its shape is wrong."""
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        return None, [f"{'.'.join(str(p) for p in err['loc']) or 'plan'}: {err['msg']}" for err in exc.errors()]
    problems: list[str] = []
    seen: set[str] = set()
    for number, step in enumerate(plan.steps, start=1):
        step.id = step.id or f"step{number}"
        label = f"step {number} ({step.action})"
        if step.id in seen:
            problems.append(f"{label}: duplicate step id {step.id!r}")
        try:
            action = registry.get_action(step.action)
        except ToolInputError as exc:
            problems.append(f"{label}: {exc}")
        else:
            if literal_from is not None and number >= literal_from:
                problems += [f"{label}: {problem}" for problem in literal_problems(action, step.params)]
        problems += [f"{label}: refers to {ref!r}, which is not an earlier step" for ref in _bad_refs(plan, number)]
        seen.add(step.id)
    problems += _cycles(plan)
    return plan, problems


def _bad_refs(plan: Plan, number: int) -> list[str]:
    step = plan.steps[number - 1]
    earlier = {s.id for s in plan.steps[: number - 1]}
    bad = []
    for ref in sorted(references(step.params) | references(step.when) | references(step.for_each)
                      | set(step.depends_on)):
        positional = ref if STEP_REF.match(ref) else None
        if ref in earlier or (positional and int(positional[4:]) < number):
            continue
        if positional or ref in step.depends_on or ref in _later_ids(plan, number):
            bad.append(ref)
    return bad


def literal_problems(action: Action, params: dict[str, Any]) -> list[str]:
    """What the action's input schema rejects among the params that hold no reference."""
    try:
        action.input_model.model_validate(params)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            top = str(err["loc"][0]) if err["loc"] else None
            if references(params.get(top) if top is not None else params):
                continue  # the value is known only when the step runs
            where = ".".join(str(p) for p in err["loc"]) or "(input)"
            problems.append(f"params.{where}: {err['msg']} (the input of {action.qualified_name})")
        return problems
    return []


def _cycles(plan: Plan) -> list[str]:
    """dependsOn (and id references) that go round in a circle, named step by step."""
    edges = {s.id: set(s.depends_on) | references(s.params) | references(s.when) | references(s.for_each)
             for s in plan.steps}
    ids = set(edges)
    found: list[str] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node] & ids):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt):], nxt]
                found.append(f"dependency cycle: {' -> '.join(cycle)}")
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(ids):
        if node not in state:
            visit(node, [node])
    return found


def _later_ids(plan: Plan, number: int) -> set[str]:
    return {s.id for s in plan.steps[number - 1 :] if s.id}
