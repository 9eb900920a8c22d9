"""The seed's metrics over time, in buckets (24 h by hour, 7 d by 6 hours, 30 d by day), for one user
or everyone (a selector: reads only). Runs and durations from RunRecord; credits from the ledger;
active agents and queue depth as each bucket's peak, from when runs waited, started and ended.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from .credit_ledger import CreditEntry
from .run_metrics import DEBITS, FINISHED, active_q, rate, runs_of, tasks_of, waiting_q

SPANS = {"last24h": (timedelta(hours=24), timedelta(hours=1)),
         "last7d": (timedelta(days=7), timedelta(hours=6)),
         "last30d": (timedelta(days=30), timedelta(days=1))}
LABELS = {"last24h": "%H:00", "last7d": "%a %H:00", "last30d": "%d %b"}


def bucket_edges(window: str, now: datetime) -> list[datetime]:
    """Bucket starts, oldest first, aligned to whole hours (or days) in UTC; the last holds `now`."""
    span, step = SPANS[window]
    now = now.astimezone(UTC)
    last = now.replace(minute=0, second=0, microsecond=0)
    if step >= timedelta(hours=6):
        hours = int(step.total_seconds() // 3600)
        last = last.replace(hour=last.hour - last.hour % hours) if hours < 24 else last.replace(hour=0)
    count = int(span / step)
    return [last - step * (count - 1 - n) for n in range(count)]


def _index(edges: list[datetime], step: timedelta, when: datetime) -> int | None:
    n = int((when - edges[0]) // step)
    return n if 0 <= n < len(edges) else None


def _hourly(rows: Any, field: str, **sums: Any) -> list[dict[str, Any]]:
    return list(rows.annotate(hour=TruncHour(field, tzinfo=UTC)).values("hour").annotate(**sums)
                .order_by("hour"))


def _peaks(intervals: list[tuple[datetime, datetime]], edges: list[datetime], step: timedelta) -> list[int]:
    """The most intervals open at once within each bucket (a sweep over start and end events)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
                    key=lambda e: (e[0], e[1]))
    peaks, level, i = [0] * len(edges), 0, 0
    for n, edge in enumerate(edges):
        while i < len(events) and events[i][0] < edge:
            level += events[i][1]
            i += 1
        peak = level
        while i < len(events) and events[i][0] < edge + step:
            level += events[i][1]
            peak = max(peak, level)
            i += 1
        peaks[n] = peak
    return peaks


def _concurrency(user: Any, start: datetime, now: datetime) -> tuple[list[tuple[datetime, datetime]], ...]:
    runs = runs_of(user).filter(finished_at__gte=start).values_list("queued_at", "started_at", "finished_at")
    active, waiting = [], []
    for queued, started, finished in runs:
        if started:
            active.append((max(started, start), finished))
            if queued and queued < started:
                waiting.append((max(queued, start), started))
    for started in tasks_of(user).filter(active_q()).values_list("started_at", flat=True):
        active.append((max(started or now, start), now))
    for queued in tasks_of(user).filter(waiting_q()).values_list("queued_at", flat=True):
        waiting.append((max(queued or now, start), now))
    return active, waiting


def _credits(user: Any, start: datetime, edges: list[datetime], step: timedelta) -> list[int]:
    debits = CreditEntry.objects.filter(reason__in=DEBITS, created_at__gte=start)
    debits = debits.filter(user=user) if user is not None else debits
    credits = [0] * len(edges)
    for row in _hourly(debits, "created_at", total=Sum("amount")):
        n = _index(edges, step, row["hour"])
        if n is not None:
            credits[n] -= int(row["total"] or 0)
    charged = CreditEntry.objects.exclude(task_ref="").values("task_ref")
    for when, amount in tasks_of(user).exclude(id__in=charged).filter(last_run_at__gte=start).values_list(
            "last_run_at", "total_credits"):
        n = _index(edges, step, when) if when else None
        if n is not None:
            credits[n] += amount
    return credits


def series(*, user: Any = None, window: str = "last24h", now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    edges = bucket_edges(window, now)
    step, start = SPANS[window][1], edges[0]
    size = len(edges)
    completed, failed = [0] * size, [0] * size
    durations: list[int | None] = [None] * size
    rates: list[float | None] = [None] * size
    weights: list[list[tuple[float, int]]] = [[] for _ in edges]
    for row in _hourly(runs_of(user).filter(finished_at__gte=start), "finished_at",
                       c=Count("id", filter=Q(status="completed")), f=Count("id", filter=Q(status="failed")),
                       avg=Avg("duration_ms", filter=Q(status__in=FINISHED))):
        n = _index(edges, step, row["hour"])
        if n is not None:
            completed[n] += row["c"]
            failed[n] += row["f"]
            if row["avg"] is not None:
                weights[n].append((row["avg"], row["c"] + row["f"]))
    for n, parts in enumerate(weights):
        total = sum(w for _, w in parts)
        durations[n] = round(sum(avg * w for avg, w in parts) / total) if total else None
        rates[n] = rate(completed[n], completed[n] + failed[n])
    active, waiting = _concurrency(user, start, now)
    return {
        "window": window, "labels": [edge.strftime(LABELS[window]) for edge in edges],
        "completed": completed, "failed": failed, "successRate": rates, "avgDuration": durations,
        "credits": _credits(user, start, edges, step),
        "activeAgents": _peaks(active, edges, step), "queueDepth": _peaks(waiting, edges, step),
    }
