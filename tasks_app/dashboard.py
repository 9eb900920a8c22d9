"""Dashboard metrics of one user's tasks (a selector: reads only).

Computed from Task rows, so they are the user's own; AgentMetrics holds the global
per-day totals the admin shows.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone

from .models import Task

WINDOWS = {"last24h": timedelta(hours=24), "last7d": timedelta(days=7), "last30d": timedelta(days=30)}


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def dashboard_metrics(*, user: Any, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    tasks = Task.objects.filter(user=user)
    by_status = dict(tasks.values_list("status").annotate(n=Count("id")).order_by())
    completed, failed = by_status.get("completed", 0), by_status.get("failed", 0)
    credits = tasks.aggregate(**{
        name: Sum("total_credits", filter=Q(last_run_at__gte=now - window)) for name, window in WINDOWS.items()
    })
    return {
        "activeAgents": sum(by_status.get(s, 0) for s in ("planning", "executing", "awaiting_approval")),
        "queueDepth": sum(by_status.get(s, 0) for s in ("pending", "queued", "planning")),
        "successRate": _rate(completed, completed + failed),
        "errorRate": _rate(failed, completed + failed),
        "byStatus": by_status,
        "byAgentType": _by_agent_type(tasks),
        "creditsUsed": {name: value or 0 for name, value in credits.items()},
    }


def _by_agent_type(tasks: Any) -> list[dict[str, Any]]:
    rows = tasks.values("agent_type").annotate(
        n=Count("id"), completed=Count("id", filter=Q(status="completed")),
        failed=Count("id", filter=Q(status="failed")),
        avg=Avg("execution_time", filter=Q(status="completed")),
    ).order_by("agent_type")
    return [
        {"agentType": row["agent_type"] or "custom", "tasks": row["n"], "completed": row["completed"],
         "failed": row["failed"], "avgDuration": round(row["avg"] or 0),
         "successRate": _rate(row["completed"], row["completed"] + row["failed"])}
        for row in rows
    ]
