"""The registry: every tool by name, and every action's JSON schema for the LLM.

Adding a tool is one module plus one line in TOOL_MODULES.
"""
from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from .base import Action, Tool
from .errors import ToolInputError

TOOL_MODULES = [
    "tools.http",
    "tools.ai",
    "tools.email",
    "tools.contacts",
    "tools.campaign",
    "tools.search",
    "tools.research",
    "tools.browser",
    "tools.calendar",
    "tools.drive",
    "tools.database",
    "tools.code",
    "tools.data",
    "tools.image",
    "tools.prices",
]


@cache
def tools() -> dict[str, Tool]:
    loaded = [importlib.import_module(name).tool for name in TOOL_MODULES]
    return {tool.name: tool for tool in loaded}


def get_action(qualified_name: str) -> Action:
    """'http.get' -> the Action; a clear error naming what is missing otherwise."""
    tool_name, _, action_name = qualified_name.partition(".")
    tool = tools().get(tool_name)
    if tool is None:
        raise ToolInputError(f"unknown tool {tool_name!r}; known tools: {', '.join(sorted(tools()))}")
    action = tool.actions.get(action_name)
    if action is None:
        raise ToolInputError(
            f"tool {tool_name!r} has no action {action_name!r}; it has: {', '.join(sorted(tool.actions))}"
        )
    return action


def all_actions() -> list[Action]:
    return [action for tool in tools().values() for action in tool.actions.values()]


def by_llm_name(name: str) -> Action:
    tool_name, _, action_name = name.partition("__")
    return get_action(f"{tool_name}.{action_name}")


def llm_schemas(names: list[str] | None = None) -> list[dict[str, Any]]:
    """Anthropic tool definitions for every action (or those in `names`)."""
    return [
        {"name": a.llm_name, "description": f"{a.description} (side effect: {a.side_effect.value})",
         "input_schema": a.json_schema()}
        for a in all_actions()
        if names is None or a.qualified_name in names or a.tool in names
    ]


def catalog() -> list[dict[str, Any]]:
    """Every action with its schema, side-effect class and cost (the API lists this)."""
    return [
        {"tool": a.tool, "action": a.qualified_name, "description": a.description,
         "sideEffect": a.side_effect.value, "credits": a.credits, "inputSchema": a.json_schema()}
        for a in all_actions()
    ]
