"""replay_task TASK_ID [--from-step N]: re-run a finished task from its recorded trace as a new task."""
from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console

from tasks_app import audit, services
from tasks_app.api.agent_serializers import ResultSerializer
from tasks_app.lifecycle import TransitionNotAllowed
from tasks_app.models import Task

from .run_task import watch


class Command(BaseCommand):
    help = "Re-run a finished task as a new task: steps before --from-step reuse the recorded results."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("task_id")
        parser.add_argument("--from-step", type=int, default=1, help="first step to run again (default 1)")
        parser.add_argument("--json", action="store_true", help="print only the final task as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        console = Console(stderr=options["json"], quiet=options["json"])
        task = Task.objects.filter(id=options["task_id"]).first()
        if task is None:
            raise CommandError(f"no task {options['task_id']}")
        try:
            with audit.acting(audit.command_actor()):  # the audit log says a command did it
                replay = services.task_replay(task=task, from_step=options["from_step"])
        except (services.InvalidTask, TransitionNotAllowed) as exc:
            raise CommandError(str(exc)) from None
        console.print(f"[bold]replay {replay.id}[/] of {task.id} from step {options['from_step']}")
        replay = watch(replay.id, console, settings.AGENT_TIMEOUT_MS / 1000 + 60)
        if options["json"]:
            self.stdout.write(json.dumps(ResultSerializer(replay).data, indent=2, default=str))
        else:
            console.print(f"[bold]{replay.status}[/] in {replay.execution_time} ms, {replay.total_credits} credits")
        if replay.status != "completed":
            raise CommandError(f"replay {replay.id} ended {replay.status}: {replay.error or ''}")
