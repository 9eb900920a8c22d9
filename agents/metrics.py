"""Run metrics: the RunRecord of each run as it ends, and AgentMetrics per agent type per day.

A run's record is written in the transaction of its final transition, so a run counts once
however its ending was reached (a redelivered step finds the record and updates it). The
daily AgentMetrics rows are rebuilt from the records and the credit ledger by a periodic job
(and `manage.py rebuild_agent_metrics`), with the numbers the live view computes.
"""
from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

from django.db import transaction
from django.db.models import Count, Min, Sum
from django.utils import timezone

from tasks_app import credit_ledger
from tasks_app.models import AgentMetrics, Approval, DeadLetter, Task, TaskExecution
from tasks_app.ops_data import RunRecord
from tasks_app.run_metrics import RETRIED, live_counts, per_agent_type

from .circuit import snapshot

AGGREGATE_EVERY_S = 60  # the embedded default's beat aggregates at most this often
_last_aggregate = 0.0


def record_run(task_id: str, status: str) -> RunRecord | None:
    """Record the run of `task_id` that just ended with `status` (call inside the transition's transaction)."""
    task = Task.objects.filter(id=task_id).first()
    if task is None or task.attempts < 1:
        return None  # cancelled before it ever ran: no run to count
    steps = TaskExecution.objects.filter(task_id=task_id, run=task.attempts)
    totals = steps.aggregate(n=Count("id"), retries=Sum(RETRIED), first_at=Min("created_at"))
    first = steps.order_by("step").values_list("action", flat=True).first() or ""
    asked = task.queued_at or task.started_at
    to_first = (int((totals["first_at"] - asked).total_seconds() * 1000)
                if totals["first_at"] and asked and totals["first_at"] >= asked else None)
    ledger = credit_ledger.charged(task_id, task.attempts)
    record, _ = RunRecord.objects.update_or_create(task_ref=task_id, run=task.attempts, defaults={
        "task": task, "user_id": task.user_id, "agent_type": task.agent_type or "custom", "priority": task.priority,
        "status": status, "queued_at": task.queued_at, "started_at": task.started_at,
        "finished_at": timezone.now(), "duration_ms": task.execution_time, "tokens": task.total_tokens,
        "credits": ledger or task.total_credits, "steps": totals["n"], "retries": int(totals["retries"] or 0),
        "first_action": first, "time_to_first_step_ms": to_first, "error": (task.error or "")[:2_000],
    })
    return record


def aggregate_day(day: date) -> int:
    """Rewrite the AgentMetrics rows of one UTC day from its runs and ledger; returns the rows kept."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    table = per_agent_type(start=start, end=start + timedelta(days=1))
    with transaction.atomic():
        for agent_type, row in table.items():
            AgentMetrics.objects.update_or_create(agent_type=agent_type, date=day, defaults={
                "tasks_completed": row["completed"], "tasks_failed": row["failed"], "total_tokens": row["tokens"],
                "total_credits": row["credits"], "avg_duration": row["avgDuration"],
                "success_rate": row["successRate"] or 0,
            })
        AgentMetrics.objects.filter(date=day).exclude(agent_type__in=list(table)).delete()
    return len(table)


def aggregate_recent(now: datetime | None = None) -> int:
    """The periodic job: today and yesterday (UTC), so a run that ended around midnight lands."""
    today = (now or timezone.now()).astimezone(UTC).date()
    return aggregate_day(today - timedelta(days=1)) + aggregate_day(today)


def aggregate_if_due() -> None:
    """The embedded default's beat calls this every sweep; it aggregates once a minute."""
    global _last_aggregate
    if time.monotonic() - _last_aggregate >= AGGREGATE_EVERY_S:
        _last_aggregate = time.monotonic()
        aggregate_recent()


def rebuild(*, since: date, until: date) -> list[tuple[date, int]]:
    """Every day from `since` to `until`, inclusive (the management command)."""
    days, day = [], since
    while day <= until:
        days.append((day, aggregate_day(day)))
        day += timedelta(days=1)
    return days


def queue_snapshot() -> dict[str, object]:
    """The durable queue at a glance (for the metrics endpoint and dashboards): waiting and running
    runs, pending approvals, dead letters not yet requeued, and every tool's circuit breaker."""
    live = live_counts()
    return {
        "queued": live["queueDepth"], "running": live["activeAgents"],
        "awaitingApproval": Approval.objects.filter(status="pending").count(),
        "deadLetters": DeadLetter.objects.filter(requeued_at__isnull=True).count(),
        "circuits": snapshot(),
    }
