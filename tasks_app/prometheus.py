"""GET /metrics: the engine in Prometheus's text format (prometheus-client), read from the database
at each scrape, so every web process answers the same numbers whichever worker did the work.

Open to a request from loopback; from elsewhere it needs `Authorization: Bearer AGENT_METRICS_TOKEN`
(unset: refused), so the numbers are not public.
"""
from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from . import run_metrics
from .client_address import client_address
from .models import Approval, DeadLetter, Task, TaskExecution, TaskStatus, ToolCircuit
from .ops_data import RunRecord
from .ops_health import workers

STEP_BUCKETS_S = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
START_BUCKETS_S = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _histogram(name: str, doc: str, label: str, rows: Any, field: str, buckets: tuple[float, ...]) -> Metric:
    """rows: a queryset grouped by `label`; `field` holds milliseconds. One query, a count per bucket."""
    family = HistogramMetricFamily(name, doc, labels=[label])
    sums = {f"le{n}": Count("pk", filter=Q(**{f"{field}__lte": bound * 1000})) for n, bound in enumerate(buckets)}
    for row in rows.annotate(n=Count("pk"), total=Sum(field), **sums).order_by(label):
        cumulative = [(str(bound), row[f"le{n}"]) for n, bound in enumerate(buckets)] + [("+Inf", row["n"])]
        family.add_metric([row[label] or ""], cumulative, sum_value=(row["total"] or 0) / 1000)
    return family


def _six_metrics(now: datetime) -> Iterator[Metric]:
    live = run_metrics.live_counts()
    yield GaugeMetricFamily("xantuus_active_agents", "Runs planning or executing on a worker now",
                            value=live["activeAgents"])
    waiting = dict(Task.objects.filter(run_metrics.waiting_q()).values_list("priority").annotate(n=Count("id"))
                   .order_by())
    depth = GaugeMetricFamily("xantuus_queue_depth", "Runs waiting to run, by priority", labels=["priority"])
    for priority in settings.PRIORITIES:
        depth.add_metric([priority], waiting.get(priority, 0))
    yield depth
    last24h = run_metrics.summary(window="last24h", now=now)
    for name, key, doc in (("xantuus_success_ratio", "successRate", "Completed / finished runs, last 24 h"),
                           ("xantuus_error_ratio", "errorRate", "Failed / finished runs, last 24 h")):
        ratio = GaugeMetricFamily(name, doc, labels=["window"])
        if last24h[key] is not None:
            ratio.add_metric(["24h"], last24h[key] / 100)
        yield ratio
    average = GaugeMetricFamily("xantuus_average_duration_seconds", "Average run duration by agent type, last 24 h",
                                labels=["agent_type"])
    for row in last24h["byAgentType"]:
        if row["completed"] + row["failed"]:
            average.add_metric([row["agentType"]], row["avgDuration"] / 1000)
    yield average
    usage = GaugeMetricFamily("xantuus_credits_used", "Credits spent in the window (the credit ledger)",
                              labels=["window"])
    for window, amount in last24h["creditsUsed"].items():
        usage.add_metric([window.removeprefix("last")], amount)
    yield usage


def _runs_and_steps() -> Iterator[Metric]:
    runs = CounterMetricFamily("xantuus_runs", "Finished runs by agent type and outcome",
                               labels=["agent_type", "status"])
    for row in RunRecord.objects.values("agent_type", "status").annotate(n=Count("id")).order_by("agent_type",
                                                                                                 "status"):
        runs.add_metric([row["agent_type"], row["status"]], row["n"])
    yield runs
    yield _histogram("xantuus_run_duration_seconds", "Working time of finished runs", "agent_type",
                     RunRecord.objects.filter(status__in=run_metrics.FINISHED).values("agent_type"),
                     "duration_ms", STEP_BUCKETS_S)
    finished_steps = TaskExecution.objects.exclude(status="running")
    yield _histogram("xantuus_step_duration_seconds", "Duration of finished steps by action", "action",
                     finished_steps.values("action"), "duration", STEP_BUCKETS_S)
    yield _histogram("xantuus_time_to_first_step_seconds", "From a run asked for to its first step begun, by "
                     "the first step's action", "first_action",
                     RunRecord.objects.filter(time_to_first_step_ms__isnull=False).values("first_action"),
                     "time_to_first_step_ms", START_BUCKETS_S)
    steps = CounterMetricFamily("xantuus_steps", "Finished steps by action and outcome", labels=["action", "status"])
    retries = CounterMetricFamily("xantuus_step_retries", "Transient failures retried, by action", labels=["action"])
    for step in finished_steps.values("action", "status").annotate(n=Count("id")).order_by("action", "status"):
        steps.add_metric([step["action"], step["status"]], step["n"])
    for tried in TaskExecution.objects.values("action").annotate(r=Sum(run_metrics.RETRIED)).order_by("action"):
        retries.add_metric([tried["action"]], tried["r"] or 0)
    yield steps
    yield retries


def _state(now: datetime) -> Iterator[Metric]:
    by_status = dict(Task.objects.values_list("status").annotate(n=Count("id")).order_by())
    tasks = GaugeMetricFamily("xantuus_tasks", "Tasks by status", labels=["status"])
    for status in TaskStatus.values:
        tasks.add_metric([status], by_status.get(status, 0))
    yield tasks
    yield GaugeMetricFamily("xantuus_approvals_pending", "Approvals waiting for a person",
                            value=Approval.objects.filter(status="pending").count())
    yield GaugeMetricFamily("xantuus_dead_letters", "Failed runs not yet requeued",
                            value=DeadLetter.objects.filter(requeued_at__isnull=True).count())
    circuits = GaugeMetricFamily("xantuus_circuits_open", "Circuit breakers open or half-open, by tool",
                                 labels=["tool", "state"])
    for row in (ToolCircuit.objects.exclude(state="closed").values("tool", "state").annotate(n=Count("key"))
                .order_by("tool", "state")):
        circuits.add_metric([row["tool"], row["state"]], row["n"])
    yield circuits
    spent = CounterMetricFamily("xantuus_credits_spent", "Credits spent, by agent type (the credit ledger)",
                                labels=["agent_type"])
    for agent_type, amount in run_metrics.credits_by_agent_type(start=EPOCH, end=now).items():
        spent.add_metric([agent_type], amount)
    yield spent
    tokens = CounterMetricFamily("xantuus_tokens", "Model tokens of finished runs, by agent type",
                                 labels=["agent_type"])
    for used in RunRecord.objects.values("agent_type").annotate(t=Sum("tokens")).order_by("agent_type"):
        tokens.add_metric([used["agent_type"]], used["t"] or 0)
    yield tokens


def _workers() -> Iterator[Metric]:
    seen = GaugeMetricFamily("xantuus_worker_last_seen_timestamp_seconds", "When each worker last reported itself",
                             labels=["worker", "kind"])
    up = GaugeMetricFamily("xantuus_worker_up", "1 if the worker reported within the stale limit",
                           labels=["worker", "kind"])
    busy = GaugeMetricFamily("xantuus_worker_active_tasks", "Tasks the worker runs now", labels=["worker"])
    beat = GaugeMetricFamily("xantuus_beat_last_tick_timestamp_seconds", "Beat's sweeper last ran")
    for worker in workers():
        if worker["kind"] == "beat":
            beat.add_metric([], worker["lastSeen"].timestamp())
            continue
        seen.add_metric([worker["name"], worker["kind"]], worker["lastSeen"].timestamp())
        up.add_metric([worker["name"], worker["kind"]], 0 if worker["stale"] or worker["stopped"] else 1)
        busy.add_metric([worker["name"]], len(worker["active"]))
    yield from (seen, up, busy, beat)


class EngineCollector:
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        yield from _six_metrics(now)
        yield from _runs_and_steps()
        yield from _state(now)
        yield from _workers()


def render() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector())  # type: ignore[arg-type]
    return generate_latest(registry)


def _allowed(request: HttpRequest) -> tuple[bool, int, str]:
    try:
        loopback = ipaddress.ip_address(client_address(request)).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return True, 200, ""
    token = settings.AGENT_METRICS_TOKEN
    if not token:
        return False, 403, "metrics are served to loopback only; set AGENT_METRICS_TOKEN to read them from elsewhere"
    given = request.headers.get("Authorization", "")
    if given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), token.encode()):
        return True, 200, ""
    return False, 401, "send Authorization: Bearer <AGENT_METRICS_TOKEN>"


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    allowed, status, message = _allowed(request)
    if not allowed:
        response = JsonResponse({"error": {"code": "not_authenticated" if status == 401 else "permission_denied",
                                           "message": message, "fields": {}}}, status=status)
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)
