"""The seed's metrics counted per run (a selector: reads only), for one user or everyone.

Success rate, error rate and average duration count runs (RunRecord: every execution of a
task, scheduled firings included); credits come from the credit ledger, plus the last run of a
task the ledger never charged (it ran before the ledger existed). The live dashboards and the
daily AgentMetrics rows (agents/metrics.py) both use per_agent_type, so they agree.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Case, Count, F, Q, QuerySet, Sum, When
from django.utils import timezone

from .credit_ledger import CreditEntry
from .models import Task
from .models import TaskStatus as S
from .ops_data import RunRecord

WINDOWS = {"last24h": timedelta(hours=24), "last7d": timedelta(days=7), "last30d": timedelta(days=30)}
DEBITS = (CreditEntry.Reason.PLANNING, CreditEntry.Reason.TOOL, CreditEntry.Reason.TOKENS)
FINISHED = (RunRecord.Status.COMPLETED, RunRecord.Status.FAILED)  # what the rates and durations count
# A step's retries: TaskExecution.attempts counts its transient failures; a step that failed for good
# was not retried after its last one.
RETRIED = Case(When(status="failed", attempts__gt=0, then=F("attempts") - 1), default=F("attempts"))


def rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def runs_of(user: Any = None) -> QuerySet[RunRecord]:
    return RunRecord.objects.filter(user=user) if user is not None else RunRecord.objects.all()


def tasks_of(user: Any = None) -> QuerySet[Task]:
    return Task.objects.filter(user=user) if user is not None else Task.objects.all()


def waiting_q() -> Q:
    """What waits to run: queued for a slot, or admitted with no step begun and no worker on it yet."""
    admitted = Q(status__in=(S.PLANNING, S.EXECUTING), current_step=0, lease_owner__isnull=True)
    return Q(status=S.QUEUED) | admitted


def active_q() -> Q:
    """What runs now: planning or executing, except what still waits for its first worker."""
    admitted = Q(status__in=(S.PLANNING, S.EXECUTING), current_step=0, lease_owner__isnull=True)
    return Q(status__in=(S.PLANNING, S.EXECUTING)) & ~admitted


def live_counts(user: Any = None) -> dict[str, int]:
    tasks = tasks_of(user)
    return {"activeAgents": tasks.filter(active_q()).count(), "queueDepth": tasks.filter(waiting_q()).count()}


def credits_by_agent_type(*, user: Any = None, start: datetime, end: datetime) -> dict[str, int]:
    """Credits spent in [start, end) by agent type: the ledger's debits, and the last run of each task
    the ledger never charged (counted when that run happened)."""
    debits = CreditEntry.objects.filter(reason__in=DEBITS, created_at__gte=start, created_at__lt=end)
    if user is not None:
        debits = debits.filter(user=user)
    spent: dict[str, int] = {}
    for row in debits.values("agent_type").annotate(total=Sum("amount")).order_by():
        spent[row["agent_type"] or "custom"] = spent.get(row["agent_type"] or "custom", 0) - int(row["total"] or 0)
    charged = CreditEntry.objects.exclude(task_ref="").values("task_ref")
    unledgered = (tasks_of(user).exclude(id__in=charged).filter(last_run_at__gte=start, last_run_at__lt=end)
                  .values("agent_type").annotate(total=Sum("total_credits")).order_by())
    for legacy in unledgered:
        if legacy["total"]:
            kind = legacy["agent_type"] or "custom"
            spent[kind] = spent.get(kind, 0) + int(legacy["total"])
    return {name: amount for name, amount in spent.items() if amount}


def per_agent_type(*, user: Any = None, start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
    """Runs that ended in [start, end) by agent type: counts, rates, average duration, tokens, credits."""
    runs = runs_of(user).filter(finished_at__gte=start, finished_at__lt=end)
    rows = runs.values("agent_type").annotate(
        runs=Count("id"), tasks=Count("task_ref", distinct=True), completed=Count("id", filter=Q(status="completed")),
        failed=Count("id", filter=Q(status="failed")), cancelled=Count("id", filter=Q(status="cancelled")),
        avg=Avg("duration_ms", filter=Q(status__in=FINISHED)), tokens=Sum("tokens"), retries=Sum("retries"),
    ).order_by("agent_type")
    credits = credits_by_agent_type(user=user, start=start, end=end)
    table: dict[str, dict[str, Any]] = {}
    for row in rows:
        finished = row["completed"] + row["failed"]
        table[row["agent_type"]] = {
            "agentType": row["agent_type"], "runs": row["runs"], "tasks": row["tasks"], "completed": row["completed"],
            "failed": row["failed"], "cancelled": row["cancelled"], "avgDuration": round(row["avg"] or 0),
            "successRate": rate(row["completed"], finished), "errorRate": rate(row["failed"], finished),
            "tokens": int(row["tokens"] or 0), "retries": int(row["retries"] or 0), "credits": 0,
        }
    for agent_type, amount in credits.items():
        table.setdefault(agent_type, {"agentType": agent_type, "runs": 0, "tasks": 0, "completed": 0, "failed": 0,
                                      "cancelled": 0, "avgDuration": 0, "successRate": None, "errorRate": None,
                                      "tokens": 0, "retries": 0, "credits": 0})["credits"] = amount
    return dict(sorted(table.items()))


def summary(*, user: Any = None, window: str = "last7d", now: datetime | None = None) -> dict[str, Any]:
    """The six seed metrics: active agents and queue depth now; rates, durations and runs over `window`;
    credit usage over the three windows."""
    now = now or timezone.now()
    types = per_agent_type(user=user, start=now - WINDOWS[window], end=now)
    completed = sum(row["completed"] for row in types.values())
    failed = sum(row["failed"] for row in types.values())
    by_status = dict(tasks_of(user).values_list("status").annotate(n=Count("id")).order_by())
    return {
        **live_counts(user), "window": window, "runs": sum(row["runs"] for row in types.values()),
        "completed": completed, "failed": failed,
        "successRate": rate(completed, completed + failed), "errorRate": rate(failed, completed + failed),
        "byStatus": by_status, "byAgentType": list(types.values()),
        "creditsUsed": {name: sum(credits_by_agent_type(user=user, start=now - span, end=now).values())
                        for name, span in WINDOWS.items()},
    }
