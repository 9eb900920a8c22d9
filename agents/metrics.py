"""AgentMetrics: one row per agent type per day, updated as tasks finish."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from tasks_app.models import AgentMetrics


def record_outcome(*, agent_type: str | None, completed: bool, tokens: int, credits: int, duration_ms: int) -> None:
    with transaction.atomic():
        row, _ = AgentMetrics.objects.select_for_update().get_or_create(
            agent_type=agent_type or "custom", date=timezone.now().date()
        )
        finished = row.tasks_completed + row.tasks_failed
        row.avg_duration = round((row.avg_duration * finished + duration_ms) / (finished + 1))
        row.tasks_completed += int(completed)
        row.tasks_failed += int(not completed)
        row.total_tokens += tokens
        row.total_credits += credits
        row.success_rate = round(100 * row.tasks_completed / (finished + 1), 2)
        row.save()


def queue_snapshot() -> dict[str, object]:
    """The durable queue at a glance (for the metrics endpoint and dashboard): waiting and running
    runs, pending approvals, dead letters not yet requeued, and every tool's circuit breaker."""
    from django.db.models import Count

    from tasks_app.models import Approval, DeadLetter, Task

    from .circuit import snapshot

    by_status = dict(Task.objects.values_list("status").annotate(n=Count("id")))
    return {
        "queued": by_status.get("queued", 0),
        "running": by_status.get("planning", 0) + by_status.get("executing", 0),
        "awaitingApproval": Approval.objects.filter(status="pending").count(),
        "deadLetters": DeadLetter.objects.filter(requeued_at__isnull=True).count(),
        "circuits": snapshot(),
    }
