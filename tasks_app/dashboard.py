"""Dashboard metrics of one user's tasks (a selector: reads only).

Computed from Task rows, so they are the user's own; credit usage from the credit ledger
(tasks_app/credits.py). AgentMetrics holds the global per-day totals the admin shows.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone

from .credit_ledger import CreditEntry
from .credits import credit_usage
from .models import Task

WINDOWS = {"last24h": timedelta(hours=24), "last7d": timedelta(days=7), "last30d": timedelta(days=30)}


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def dashboard_metrics(*, user: Any, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    tasks = Task.objects.filter(user=user)
    by_status = dict(tasks.values_list("status").annotate(n=Count("id")).order_by())
    completed, failed = by_status.get("completed", 0), by_status.get("failed", 0)
    return {
        "activeAgents": sum(by_status.get(s, 0) for s in ("planning", "executing", "awaiting_approval")),
        "queueDepth": sum(by_status.get(s, 0) for s in ("pending", "queued", "planning")),
        "successRate": _rate(completed, completed + failed),
        "errorRate": _rate(failed, completed + failed),
        "byStatus": by_status,
        "byAgentType": _by_agent_type(tasks),
        "creditsUsed": _credits_used(user, tasks, now),
    }


def _credits_used(user: Any, tasks: Any, now: datetime) -> dict[str, int]:
    """From the credit ledger (every run's charges, when they were made); a task the ledger never
    charged (it ran before the ledger existed) counts its last run's credits, as before."""
    usage = credit_usage(user=user, now=now)
    charged = CreditEntry.objects.filter(user=user).exclude(task_ref="").values("task_ref")
    unledgered = tasks.exclude(id__in=charged).aggregate(**{
        name: Sum("total_credits", filter=Q(last_run_at__gte=now - window)) for name, window in WINDOWS.items()
    })
    return {name: usage[name]["total"] + (unledgered[name] or 0) for name in WINDOWS}


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
