"""run_tool TOOL.ACTION --input JSON: one tool call outside any task, under the same policies.

The egress policy, the code sandbox and input validation apply as in a task. The output
is printed as JSON; a refused or failed call exits non-zero with the error on stderr.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.llm import get_provider
from agents.toolcontext import identity, owner_artifacts_dir
from tasks_app import credentials
from tools import registry
from tools.base import ToolContext
from tools.egress import EgressPolicy
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
        user = get_user_model().objects.filter(username=username).first() if username else None
        if username and user is None:
            raise ValueError(f"no user {username!r}")
        uses_credentials = registry.tools()[tool].uses_credentials
        return ToolContext(
            task_id="run_tool", user_id=user.pk if user else None, user_email=user.email if user else "",
            **(identity(user) if user else {}),
            idempotency_key="", egress=EgressPolicy.from_settings(), llm=get_provider(),
            credentials=credentials.load_all(user_id=user.pk) if user and uses_credentials else {},
            artifacts_dir=owner_artifacts_dir(user.pk if user else None),
        )
