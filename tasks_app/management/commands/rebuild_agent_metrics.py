"""rebuild_agent_metrics [--days N | --since DATE [--until DATE]]: rewrite the daily AgentMetrics rows
from the run records and the credit ledger (what the periodic job does for today and yesterday)."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from rich.console import Console
from rich.table import Table

from agents import metrics
from tasks_app.models import AgentMetrics

MAX_DAYS = 3660


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{name} must be a date like 2026-12-01, got {text!r}") from None


class Command(BaseCommand):
    help = "Rebuild AgentMetrics (per agent type per UTC day) from the runs and the credit ledger."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=30, help="the last N days, today included (default 30)")
        parser.add_argument("--since", help="first day (YYYY-MM-DD, UTC); overrides --days")
        parser.add_argument("--until", help="last day (YYYY-MM-DD, UTC; default today)")

    def handle(self, *args: Any, **options: Any) -> None:
        today = timezone.now().date()
        until = _day(options["until"], "--until") if options["until"] else today
        if options["since"]:
            since = _day(options["since"], "--since")
        elif 1 <= options["days"] <= MAX_DAYS:
            since = until - timedelta(days=options["days"] - 1)
        else:
            raise CommandError(f"--days must be from 1 to {MAX_DAYS}, got {options['days']}")
        if since > until or (until - since).days >= MAX_DAYS:
            raise CommandError(f"--since {since} must be on or before --until {until}, at most {MAX_DAYS} days")
        rebuilt = metrics.rebuild(since=since, until=until)
        table = Table("date", "agent type", "completed", "failed", "success %", "avg ms", "tokens", "credits")
        for row in AgentMetrics.objects.filter(date__gte=since, date__lte=until).order_by("date", "agent_type"):
            table.add_row(str(row.date), row.agent_type, str(row.tasks_completed), str(row.tasks_failed),
                          f"{row.success_rate:g}", str(row.avg_duration), str(row.total_tokens), str(row.total_credits))
        console = Console()
        console.print(table)
        console.print(f"rebuilt {len(rebuilt)} day(s), {sum(n for _, n in rebuilt)} row(s), {since} to {until}")
