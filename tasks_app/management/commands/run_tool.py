"""run_tool TOOL.ACTION --input JSON: one tool call outside any task, under the same policies.

The egress policy, the code sandbox and input validation apply as in a task: the context is
the one the engine builds for a step (agents/toolcontext.py), without a task's stores. The output
is printed as JSON; a refused or failed call exits non-zero with the error on stderr.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.toolcontext import tool_context
from tasks_app import selectors
from tools import registry
from tools.base import ToolContext
from tools.errors import ToolError


class Command(BaseCommand):
    help = "Run one tool call (e.g. http.get) outside any task and print its output as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", help="TOOL.ACTION, e.g. http.get; 'list' lists them")
        parser.add_argument("--input", default="{}", help="the call's input as JSON, or @FILE, or - for stdin")
        parser.add_argument("--user", default=None, help="run with this user's email and stored credentials")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            self.stdout.write(json.dumps(registry.catalog(), indent=2))
            return
        try:
            action = registry.get_action(options["action"])
            params = self._input(options["input"])
            output = action.run(params, self._context(options["user"], action.tool))
        except (ToolError, ValueError) as exc:
            raise CommandError(f"{options['action']}: {exc}") from None
        self.stdout.write(json.dumps(output, indent=2, default=str, ensure_ascii=False))

    @staticmethod
    def _input(raw: str) -> dict[str, Any]:
        text = sys.stdin.read() if raw == "-" else Path(raw[1:]).read_text() if raw.startswith("@") else raw
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"--input is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("--input must be a JSON object")
        return data

    @staticmethod
    def _context(username: str | None, tool: str) -> ToolContext:
        """The engine's context of a call (agents/toolcontext.py), for the user or nobody; no task, so no stores."""
        user = selectors.user_by_username(username=username) if username else None
        if username and user is None:
            raise ValueError(f"no user {username!r}")
        return tool_context(user, task_id="run_tool", uses_credentials=registry.tools()[tool].uses_credentials)
