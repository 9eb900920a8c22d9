"""What the planning model reads: the rules of a plan, the tool catalog, the goal and the run so far.

Pure text building: no model calls, no database writes. Secrets never appear here: step
inputs and results come from the rows the executor already redacted.
"""
from __future__ import annotations

import json
from typing import Any

from tools import registry

MAX_RESULT_CHARS = 4_000  # of each earlier step's result shown to the model when it replans
MAX_GOAL_CHARS = 20_000

RULES = """You are the planner of the Xantuus agent engine. Turn the user's goal into a plan: the steps, \
in order, that reach it with the actions listed below. Submit it by calling `submit_plan`; never call the \
actions yourself.

- `action` is one of the listed actions, written tool.action (for example http.get).
- `params` follow the action's input schema. A value known only while the plan runs refers to an earlier \
step: "{step1.result}", "{step2.result.items[0].url}", "{fetch.result}" for the step with id `fetch`; also \
{user.email}, {user.name}, {task.title}, {config.KEY}. Operations: .field, [index], [a:b], .slice(a,b), \
.map('field'), .join(', '), .length, .first, .last, .keys(). Braces around anything else stay literal.
- Refer only to earlier steps. `dependsOn` lists the ids of steps a step needs; `when` (a reference such \
as "{step3.result.alert}") runs the step only if it is true. Steps that neither list nor refer to each other \
run at the same time: give independent steps `"dependsOn": []` and later ones the ids they wait for.
- `for_each` (a reference to a list, such as "{step1.result.slice(0,5)}") runs a step once per item, in \
parallel, with "{item}" in its params; its result is the list of their results.
- Give each step a short `description` and an `id` when later steps refer to it.
- `estimatedCredits` and `estimatedDuration` (milliseconds) are your guess.
- Actions of a tool marked "needs a connected account" work only if the user connected that account.
- If the goal cannot be planned before seeing results (the next step depends on what a page says), call \
`explore` instead: you will then be asked for one action at a time."""


def system_prompt(tools: list[str] | None) -> str:
    return f"{RULES}\n\nThe actions (JSON):\n{json.dumps(catalog(tools), ensure_ascii=False)}"


def catalog(tools: list[str] | None) -> list[dict[str, Any]]:
    """Every action the task may use (agentConfig.tools narrows it), with its input schema."""
    accounts = {name for name, tool in registry.tools().items() if tool.uses_credentials}
    return [
        {"action": a.qualified_name, "description": a.description, "sideEffect": a.side_effect.value,
         "credits": a.credits, "inputSchema": a.json_schema(),
         **({"needs": "a connected account"} if a.tool in accounts else {})}
        for a in registry.all_actions()
        if tools is None or a.qualified_name in tools or a.tool in tools
    ]


def first_message(*, goal: str, guidance: str | None, connected: list[str]) -> str:
    parts = [f"The goal:\n{goal[:MAX_GOAL_CHARS]}"]
    if guidance:
        parts.append(f"Guidance for this kind of task:\n{guidance}")
    parts.append(f"Connected accounts: {', '.join(connected) if connected else 'none'}.")
    parts.append("Plan it now with submit_plan (or explore).")
    return "\n\n".join(parts)


def progress_message(*, goal: str, guidance: str | None, connected: list[str], plan: dict[str, Any],
                     steps: list[dict[str, Any]], problem: str, at_step: int, refine: bool = False) -> str:
    """The goal, each planned step with what it did (or that it has not run), and what went wrong."""
    lines = [f"The goal:\n{goal[:MAX_GOAL_CHARS]}"]
    if guidance:
        lines.append(f"Guidance for this kind of task:\n{guidance}")
    lines.append(f"Connected accounts: {', '.join(connected) if connected else 'none'}.")
    lines.append(f"The plan so far and what each step did:\n{_run_so_far(plan, steps)}")
    lines.append(f"{'What the plan did not expect' if refine else 'What went wrong'}: {problem}")
    if refine:
        lines.append("If the remaining steps still make sense, call `keep_plan`.")
    lines.append(
        f"Submit with submit_plan only the steps that remain: they run next, as step{at_step + 1}, "
        f"step{at_step + 2} ... and may refer to the results above (by step number or id). Do not repeat "
        "steps that succeeded. If the results so far already reach the goal, or it cannot be reached, call "
        "`finish` and say so honestly; to go on one action at a time instead, call `explore`.")
    return "\n\n".join(lines)


def _run_so_far(plan: dict[str, Any], steps: list[dict[str, Any]]) -> str:
    rows = {row["step"]: row for row in steps}
    out = []
    for number, step in enumerate(plan.get("steps", []), start=1):
        head = f"step{number} (id {step.get('id') or f'step{number}'}): {step['action']} {_json(step.get('params'))}"
        row = rows.get(number)
        if row is None:
            out.append(f"{head}\n  not run")
        elif row["error"]:
            out.append(f"{head}\n  FAILED: {row['error']}")
        else:
            out.append(f"{head}\n  {row['status']}, result: {_json(row['output'])[:MAX_RESULT_CHARS]}")
    return "\n".join(out)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
