"""The seed's agent-type example shape ({"type", "goal", "config"}) as the create-task body.

One owner of the mapping, used by the API and `run_task`: type -> agentType, config ->
agentConfig, goal -> title (its first line, at most 200 characters) and, when the goal says
more than the title holds (or a title is given too), description.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ALIASES = {"type": "agentType", "config": "agentConfig"}
TITLE_MAX = 200


class SeedShapeError(ValueError):
    """Both spellings of one field, or a goal that is not text: {field: message}."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{name}: {message}" for name, message in fields.items()))
        self.fields = fields


def to_task_body(data: Mapping[str, Any]) -> dict[str, Any]:
    """The body with the seed's names mapped to the task's; other keys are passed through."""
    if not any(name in data for name in (*ALIASES, "goal")):
        return dict(data)
    body = {key: value for key, value in data.items() if key not in (*ALIASES, "goal")}
    problems: dict[str, str] = {}
    for seed_name, name in ALIASES.items():
        if seed_name in data:
            if name in data:
                problems[seed_name] = f"give {seed_name} or {name}, not both"
            body[name] = data[seed_name]
    if "goal" in data:
        goal = data["goal"]
        if not isinstance(goal, str) or not goal.strip():
            problems["goal"] = "must be a non-empty string"
        elif "description" in data:
            problems["goal"] = "give goal or description, not both"
        else:
            _goal_fields(body, goal.strip())
    if problems:
        raise SeedShapeError(problems)
    return body


def _goal_fields(body: dict[str, Any], goal: str) -> None:
    if "title" not in body:
        body["title"] = goal.splitlines()[0][:TITLE_MAX]
        if body["title"] != goal:
            body["description"] = goal
    else:
        body["description"] = goal
