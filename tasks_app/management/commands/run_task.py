"""run_task FILE.json: create a task from the seed's create-task shape, run it, show each step."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console

from tasks_app import audit, services
from tasks_app.api.agent_serializers import ResultSerializer
from tasks_app.lifecycle import TERMINAL
from tasks_app.models import Task, TaskExecution
from tasks_app.seed_shape import SeedShapeError, to_task_body

KNOWN_FIELDS = {"title", "description", "agentType", "agentConfig", "agentModel", "priority", "plan", "tags",
                "type", "goal", "config"}


def task_request(data: Any) -> dict[str, Any]:
    """The seed's create-task body (or its agent-type example: type/goal/config) -> task_create kwargs."""
    if not isinstance(data, dict):
        raise CommandError("the task file must hold a JSON object")
    unknown = set(data) - KNOWN_FIELDS
    if unknown:
        raise CommandError(f"unknown field(s) in the task file: {', '.join(sorted(unknown))}")
    try:
        body = to_task_body(data)
    except SeedShapeError as exc:
        raise CommandError(f"the task file is not a task: {exc}") from None
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        raise CommandError("the task file needs a non-empty 'title' (or 'goal')")
    return {
        "title": title[:200], "description": body.get("description"),
        "agent_type": body.get("agentType"), "agent_config": body.get("agentConfig"),
        "agent_model": body.get("agentModel"), "priority": body.get("priority", "medium"), "plan": body.get("plan"),
        "tags": body.get("tags") or [],
    }


class Command(BaseCommand):
    help = "Create a task from FILE.json (the seed's create-task shape), run it, and show live progress."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--user", default="agent", help="owner's username (created if missing)")
        parser.add_argument("--email", default="", help="owner's email for a new user (default USER@example.com)")
        parser.add_argument("--json", action="store_true", help="print only the final task as JSON")
        parser.add_argument("--timeout", type=float, default=None,
                            help="seconds to wait (default AGENT_TIMEOUT_MS + 60)")

    def handle(self, *args: Any, **options: Any) -> None:
        console = Console(stderr=options["json"], quiet=options["json"])
        try:
            data = json.loads(options["file"].read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read task file {options['file']}: {exc}") from None
        user, _ = get_user_model().objects.get_or_create(
            username=options["user"], defaults={"email": options["email"] or f"{options['user']}@example.com"}
        )
        with audit.acting(audit.command_actor(user)):  # the audit log says a command did it
            try:
                task = services.task_create(user=user, **task_request(data))
            except services.InvalidTask as exc:
                raise CommandError(f"invalid task ({exc.field}): {exc}") from None
            console.print(f"[bold]task {task.id}[/]: {task.title}")
            services.task_execute(task=task)
        timeout = options["timeout"] or settings.AGENT_TIMEOUT_MS / 1000 + 60
        task = watch(task.id, console, timeout)
        if options["json"]:
            self.stdout.write(json.dumps(ResultSerializer(task).data, indent=2, default=str))
        else:
            console.print(f"[bold]{task.status}[/] in {task.execution_time} ms, {task.total_credits} credits, "
                          f"{task.total_tokens} tokens")
            console.print_json(data=task.result if task.status == "completed" else {"error": task.error})
        if task.status != "completed":
            raise CommandError(f"task {task.id} ended {task.status}: {task.error or ''}")


def watch(task_id: str, console: Console, timeout: float) -> Task:
    """Print each step as it is recorded until the task ends (or the timeout passes)."""
    shown: set[tuple[int, int, str]] = set()
    deadline = time.monotonic() + timeout
    while True:
        task = Task.objects.get(id=task_id)
        for row in TaskExecution.objects.filter(task_id=task_id, run=task.attempts).order_by("step"):
            key = (row.run, row.step, row.status)
            if key not in shown and row.status != "running":
                shown.add(key)
                mark = "[green]✓[/]" if row.status == "completed" else "[red]✗[/]"
                total = f"/{task.total_steps}" if task.total_steps else ""
                console.print(f"  {mark} step {row.step}{total} {row.action} ({row.duration} ms, {row.credits} cr)"
                              + (f": {row.error}" if row.error else ""))
        if task.status in TERMINAL:
            return task
        if time.monotonic() > deadline:
            raise CommandError(f"task {task_id} still {task.status} after {timeout:.0f}s")
        time.sleep(0.1)
