"""The reasoning step of a free-form task: ask the LLM for the next action.

The conversation is rebuilt from the recorded steps every time, so any worker can take
the next step and a crash loses nothing but the model call in flight.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tools import registry

from .llm.base import Provider

SYSTEM = (
    "You are an autonomous agent of the Xantuus engine. Reach the user's goal by calling the tools, "
    "one at a time. Think briefly before each call. When a tool fails, read the error and adapt: try "
    "another approach or another tool. When you are done, call the `finish` tool: goalMet true with the "
    "final result when the goal is reached, goalMet false with the reason when it cannot be reached. "
    "Before a critical or uncertain action, call `ask_person` to ask the user (free text or choices) and "
    "act on the answer. A call a person rejected comes back as an error with their reason: take another route."
)
FINISH = "finish"
FINISH_TOOL = {
    "name": FINISH,
    "description": "End the task. Say honestly whether the goal was met; `result` is the final answer "
                   "(goal met) or what stopped you (not met).",
    "input_schema": {"type": "object", "additionalProperties": False, "required": ["goalMet", "result"],
                     "properties": {"goalMet": {"type": "boolean", "description": "Was the user's goal reached?"},
                                    "result": {"type": "string", "description": "The final answer, or why not"}}},
}
# Asking a person: the task waits in awaiting_approval; the answer is the step's result (agents/approvals.py).
ASK_PERSON = "ask_person"
ASK_TOOL = {
    "name": ASK_PERSON,
    "description": "Ask the user a question and wait for the answer (free text, or one of `choices`), e.g. "
                   "before a critical action. The answer comes back as this call's result.",
    "input_schema": {"type": "object", "additionalProperties": False, "required": ["question"],
                     "properties": {"question": {"type": "string", "maxLength": 4000},
                                    "choices": {"type": "array", "maxItems": 20,
                                                "items": {"type": "string", "maxLength": 200}}}},
}
MAX_OBSERVATION_CHARS = 20_000


@dataclass(frozen=True)
class Decision:
    """What to do next: call `action` with `params`, or finish with `final_text`.

    `goal_met` is the model's own verdict when it finished through the finish tool, None
    when it just answered with text (which the executor does not take as success blindly)."""

    reasoning: str
    action: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    final_text: str | None = None
    tokens: int = 0
    goal_met: bool | None = None
    output_tokens: int = 0  # of `tokens`, those the model wrote (priced apart)


def _observation(output: Any, error: str | None) -> str:
    text = error if error else json.dumps(output, ensure_ascii=False, default=str)
    return text[:MAX_OBSERVATION_CHARS]


def history(goal: str, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages for the model: the goal, then each recorded step as tool_use + tool_result."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": goal}]
    for step in steps:
        tool_use_id = f"step_{step['step']}"
        assistant: list[dict[str, Any]] = [{"type": "text", "text": step["reasoning"]}] if step["reasoning"] else []
        assistant.append({"type": "tool_use", "id": tool_use_id,
                          "name": step["action"].replace(".", "__", 1), "input": step["input"]})
        messages.append({"role": "assistant", "content": assistant})
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id,
                  "content": _observation(step["output"], step["error"])}
        if step["error"]:
            result["is_error"] = True
        messages.append({"role": "user", "content": [result]})
    return messages


def decide(provider: Provider, *, goal: str, steps: list[dict[str, Any]], model: str | None,
           tools: list[str] | None = None) -> Decision:
    response = provider.complete(
        system=SYSTEM, messages=history(goal, steps), tools=[*registry.llm_schemas(tools), ASK_TOOL, FINISH_TOOL],
        model=model, max_tokens=2048,
    )
    if not response.tool_calls:
        return Decision(reasoning=response.text, final_text=response.text or "", tokens=response.tokens,
                        output_tokens=response.output_tokens)
    call = response.tool_calls[0]  # one action per step; the rest are asked again next step
    if call.name == FINISH:
        verdict = call.input if isinstance(call.input, dict) else {}
        return Decision(reasoning=response.text, final_text=str(verdict.get("result") or response.text or ""),
                        goal_met=verdict.get("goalMet") is True, tokens=response.tokens,
                        output_tokens=response.output_tokens)
    # an unknown name still becomes a step: the act phase fails it and the model sees why
    action = call.name.replace("__", ".", 1)
    return Decision(reasoning=response.text, action=action, params=call.input, tokens=response.tokens,
                    output_tokens=response.output_tokens)
