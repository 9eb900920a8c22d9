"""The model writes the plan, through a `submit_plan` tool whose input schema is the Plan format.

A plan that fails validation goes back to the model as the tool's is_error result naming
every problem, at most AGENT_MAX_REPLANS times. The model may instead `explore` (no fixed
plan: one action at a time), `keep_plan` (a refinement that changes nothing) or `finish`
(a replan that finds the goal already met, or out of reach). Never runs a tool.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from django.conf import settings

from .errors import EngineError
from .llm.base import LLMResponse, Provider
from .plan import Plan
from .react import FINISH, FINISH_TOOL

SUBMIT_PLAN, EXPLORE, KEEP_PLAN = "submit_plan", "explore", "keep_plan"
MAX_TOKENS = 8192

Checker = Callable[[dict[str, Any]], tuple[Plan | None, list[str]]]


class PlanningFailed(EngineError):
    """The model gave no valid plan within AGENT_MAX_REPLANS tries; the message says why."""

    def __init__(self, message: str, *, input_tokens: int = 0, output_tokens: int = 0):
        super().__init__(message)
        self.input_tokens, self.output_tokens = input_tokens, output_tokens


@dataclass(frozen=True)
class Outcome:
    """What the model decided: kind is plan, explore, keep or finish."""

    kind: str
    plan: Plan | None = None
    text: str = ""  # its words: why it explores, its final answer, or its thinking before a plan
    goal_met: bool | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    model: str = ""

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@cache
def plan_schema() -> dict[str, Any]:
    """The Plan model's JSON schema with its $defs inlined (what submit_plan's input must match)."""
    schema = Plan.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]]))
            return {key: inline(value) for key, value in node.items() if key != "title"}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return inline(schema)


def submit_plan_tool() -> dict[str, Any]:
    return {"name": SUBMIT_PLAN, "description": "Submit the plan: its steps in order, with params and references.",
            "input_schema": plan_schema()}


EXPLORE_TOOL = {
    "name": EXPLORE,
    "description": "Do not plan ahead: the steps depend on results not yet seen. You will be asked for one "
                   "action at a time and end with `finish`.",
    "input_schema": {"type": "object", "additionalProperties": False, "required": ["reason"],
                     "properties": {"reason": {"type": "string", "description": "Why no plan can be made now"}}},
}
KEEP_PLAN_TOOL = {
    "name": KEEP_PLAN,
    "description": "Keep the remaining steps as they are.",
    "input_schema": {"type": "object", "additionalProperties": False,
                     "properties": {"reason": {"type": "string"}}},
}


def tools_for(kind: str) -> list[dict[str, Any]]:
    """initial: plan or explore; replan: plan, explore or finish; refine: plan, keep or finish."""
    extra = {"initial": [EXPLORE_TOOL], "replan": [EXPLORE_TOOL, FINISH_TOOL],
             "refine": [KEEP_PLAN_TOOL, FINISH_TOOL]}[kind]
    return [submit_plan_tool(), *extra]


def planning_model(task_model: str | None) -> str:
    """AGENT_PLANNING_MODEL when set (a stronger model for plans), else the task's, else the default."""
    return settings.AGENT_PLANNING_MODEL or task_model or settings.AGENT_DEFAULT_MODEL


def converse(provider: Provider, *, system: str, prompt: str, tools: list[dict[str, Any]], model: str,
             check: Checker) -> Outcome:
    """Ask until the model answers with a valid plan or another allowed tool, or the tries run out."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    names = [tool["name"] for tool in tools]
    used, problems = [0, 0], ["no answer"]
    for calls in range(1, settings.AGENT_MAX_REPLANS + 2):
        response = provider.complete(system=system, messages=messages, tools=tools, model=model,
                                     max_tokens=MAX_TOKENS)
        used = [used[0] + response.input_tokens, used[1] + response.output_tokens]
        call = response.tool_calls[0] if response.tool_calls else None
        if call is None:
            problems = [f"the model answered without calling a tool; call one of {', '.join(names)}"]
            messages += [{"role": "assistant", "content": response.text or "(no answer)"},
                         {"role": "user", "content": problems[0]}]
            continue
        outcome = _decided(call.name, call.input, response, check, names)
        if isinstance(outcome, Outcome):
            return replace(outcome, input_tokens=used[0], output_tokens=used[1], calls=calls,
                           model=response.model or model)
        problems = outcome
        messages += [_assistant(response), _results(response, problems)]
    raise PlanningFailed(f"the model gave no valid plan in {settings.AGENT_MAX_REPLANS + 1} tries "
                         f"(AGENT_MAX_REPLANS): {'; '.join(problems)}", input_tokens=used[0],
                         output_tokens=used[1])


def _decided(name: str, data: dict[str, Any], response: LLMResponse, check: Checker,
             names: list[str]) -> Outcome | list[str]:
    """The outcome of one tool call, or the problems to send back."""
    if name not in names:
        return [f"unknown tool {name!r}: call one of {', '.join(names)}"]
    if name == SUBMIT_PLAN:
        plan, problems = check(data)
        return Outcome("plan", plan=plan, text=response.text) if plan is not None and not problems else problems
    if name == FINISH:
        return Outcome("finish", text=str(data.get("result") or response.text or ""),
                       goal_met=data.get("goalMet") is True)
    reason = str(data.get("reason") or response.text or "")
    return Outcome("explore" if name == EXPLORE else "keep", text=reason)


def _assistant(response: LLMResponse) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": response.text}] if response.text else []
    content += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.input} for c in response.tool_calls]
    return {"role": "assistant", "content": content}


def _results(response: LLMResponse, problems: list[str]) -> dict[str, Any]:
    """The first call's problems as its is_error result; any further call is refused (one at a time)."""
    text = "The plan was not accepted:\n" + "\n".join(f"- {p}" for p in problems) + "\nFix them and submit again."
    blocks = [{"type": "tool_result", "tool_use_id": response.tool_calls[0].id, "content": text, "is_error": True}]
    blocks += [{"type": "tool_result", "tool_use_id": c.id, "is_error": True,
                "content": "ignored: call one tool at a time"} for c in response.tool_calls[1:]]
    return {"role": "user", "content": blocks}


def describe_outcome(outcome: Outcome) -> str:
    """One line for the plan version's reason and the trace."""
    if outcome.kind == "plan" and outcome.plan is not None:
        tries = f" after {outcome.calls - 1} repair(s)" if outcome.calls > 1 else ""
        return f"the model planned {len(outcome.plan.steps)} step(s){tries}"
    said = f": {outcome.text[:500]}" if outcome.text else ""
    return f"the model chose to {outcome.kind}{said}"
