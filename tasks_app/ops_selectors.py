"""What the staff dashboard lists across all users (a selector: reads only): the busiest users, the
slowest actions, dead letters and circuits that are not closed."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Avg, Count, Max, Q, Sum

from .credit_ledger import CreditEntry
from .models import DeadLetter, TaskExecution, ToolCircuit
from .ops_data import RunRecord
from .run_metrics import DEBITS, RETRIED, rate


def busiest_users(*, start: datetime, end: datetime, limit: int = 10) -> list[dict[str, Any]]:
    rows = list(RunRecord.objects.filter(finished_at__gte=start, finished_at__lt=end).values("user_id").annotate(
        runs=Count("id"), completed=Count("id", filter=Q(status="completed")),
        failed=Count("id", filter=Q(status="failed")), tokens=Sum("tokens"),
    ).order_by("-runs", "user_id")[:limit])
    ids = [row["user_id"] for row in rows]
    names = dict(get_user_model().objects.filter(id__in=ids).values_list("id", "username"))
    spent = dict(CreditEntry.objects.filter(user_id__in=ids, reason__in=DEBITS, created_at__gte=start,
                                            created_at__lt=end).values_list("user_id").annotate(t=Sum("amount"))
                 .order_by())
    return [{**row, "username": names.get(row["user_id"], f"#{row['user_id']}"), "tokens": int(row["tokens"] or 0),
             "credits": -int(spent.get(row["user_id"]) or 0),
             "successRate": rate(row["completed"], row["completed"] + row["failed"])} for row in rows]


def slowest_actions(*, start: datetime, end: datetime, limit: int = 10) -> list[dict[str, Any]]:
    steps = TaskExecution.objects.filter(completed_at__gte=start, completed_at__lt=end)
    rows = steps.values("action").annotate(
        steps=Count("id"), avg=Avg("duration"), slowest=Max("duration"),
        failed=Count("id", filter=Q(status="failed")), retries=Sum(RETRIED),
    ).order_by("-avg", "action")[:limit]
    return [{"action": row["action"], "steps": row["steps"], "avgDuration": round(row["avg"] or 0),
             "maxDuration": row["slowest"] or 0, "failed": row["failed"], "retries": int(row["retries"] or 0)}
            for row in rows]


def dead_letters(*, limit: int = 10) -> list[DeadLetter]:
    return list(DeadLetter.objects.filter(requeued_at__isnull=True).select_related("task", "task__user")
                .order_by("-created_at")[:limit])


def dead_letter_count() -> int:
    return DeadLetter.objects.filter(requeued_at__isnull=True).count()


def open_circuits() -> list[ToolCircuit]:
    return list(ToolCircuit.objects.exclude(state=ToolCircuit.State.CLOSED).order_by("tool", "key"))
