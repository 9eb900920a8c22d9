"""Metrics per run: every run of a task counts, credits come from the ledger, queue depth is what waits,
and the daily AgentMetrics rows (the periodic job, the rebuild command) match the live numbers."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from agents import tasks as celery_tasks
from tasks_app import credit_ledger, services
from tasks_app.dashboard import dashboard_metrics
from tasks_app.models import AgentMetrics, Task
from tasks_app.ops_data import RunRecord
from tasks_app.run_metrics import per_agent_type, summary

from .helpers import run_inline

pytestmark = pytest.mark.usefixtures("inline_engine")


def two_step_plan(url: str) -> dict:
    return {"steps": [
        {"action": "http.get", "params": {"url": f"{url}/topstories.json"}},
        {"action": "http.getBatch", "params": {"ids": "{step1.result.slice(0,2)}"}},
    ]}


def test_a_task_run_three_times_counts_three_runs_with_their_credits_and_retries(user, hn_server, settings):
    settings.AGENT_MAX_RETRIES = 1
    task = services.task_create(user=user, title="top stories", plan=two_step_plan(hn_server.url))
    hn_server.fail_next["/topstories.json"] = [503]  # the first run's step 1 is retried once, then works
    assert run_inline(task).status == "completed"
    assert run_inline(task).status == "completed"
    hn_server.fail_next["/item/9001.json"] = [503, 503]  # the third run gives up at step 2
    assert run_inline(task).status == "failed"

    records = list(RunRecord.objects.filter(task_ref=task.id).order_by("run"))
    assert [(r.run, r.status, r.steps, r.retries) for r in records] == [
        (1, "completed", 2, 1), (2, "completed", 2, 0), (3, "failed", 2, 1)]
    assert all(r.first_action == "http.get" and r.time_to_first_step_ms is not None for r in records)
    assert [r.credits for r in records] == [credit_ledger.charged(task.id, n) for n in (1, 2, 3)]

    metrics = dashboard_metrics(user=user)
    assert (metrics["runs"], metrics["completed"], metrics["failed"]) == (3, 2, 1)
    assert (metrics["successRate"], metrics["errorRate"]) == (66.67, 33.33)
    spent = sum(r.credits for r in records)
    assert metrics["creditsUsed"] == {"last24h": spent, "last7d": spent, "last30d": spent}
    [custom] = metrics["byAgentType"]
    assert (custom["agentType"], custom["runs"], custom["tasks"], custom["retries"]) == ("custom", 3, 1, 2)
    assert custom["avgDuration"] == round(sum(r.duration_ms for r in records) / 3)


def test_a_cancelled_run_is_recorded_but_not_in_the_rates(user, hn_server):
    done = run_inline(services.task_create(user=user, title="done", plan=two_step_plan(hn_server.url)))
    hn_server.delays["/topstories.json"] = 0.5
    slow = services.task_create(user=user, title="slow", plan=two_step_plan(hn_server.url))
    services.task_execute(task=slow)
    services.task_cancel(task=Task.objects.get(id=slow.id))
    metrics = summary(user=user, window="last24h")
    assert RunRecord.objects.get(task_ref=slow.id).status == "cancelled"
    assert RunRecord.objects.get(task_ref=done.id).status == "completed"
    assert (metrics["runs"], metrics["successRate"], metrics["errorRate"]) == (2, 100.0, 0.0)


def test_queue_depth_counts_what_waits_and_active_agents_what_runs(user):
    now = timezone.now()
    make = Task.objects.create
    make(user=user, title="never run", status="pending")
    make(user=user, title="waiting for a slot", status="queued", attempts=1, queued_at=now)
    make(user=user, title="admitted, no worker yet", status="planning", attempts=1, started_at=now)
    make(user=user, title="planning on a worker", status="planning", attempts=1, started_at=now,
         lease_owner="w:1", lease_expires_at=now + timedelta(minutes=1))
    make(user=user, title="between steps", status="executing", attempts=1, current_step=2, started_at=now)
    make(user=user, title="asks a person", status="awaiting_approval", attempts=1, current_step=1)
    metrics = summary(user=user)
    assert (metrics["queueDepth"], metrics["activeAgents"]) == (2, 2)


def test_the_daily_job_and_the_rebuild_command_write_what_the_live_view_shows(user, hn_server):
    task = services.task_create(user=user, title="daily", plan=two_step_plan(hn_server.url))
    for _ in range(3):
        run_inline(task)
    RunRecord.objects.filter(task_ref=task.id, run=1).update(finished_at=timezone.now() - timedelta(days=1))
    celery_tasks.aggregate_metrics()  # what celery-beat runs every minute

    today = timezone.now().date()
    for day in (today - timedelta(days=1), today):
        start = timezone.now().replace(year=day.year, month=day.month, day=day.day, hour=0, minute=0, second=0,
                                       microsecond=0)
        live = per_agent_type(start=start, end=start + timedelta(days=1))["custom"]
        row = AgentMetrics.objects.get(agent_type="custom", date=day)
        assert (row.tasks_completed, row.tasks_failed, row.avg_duration, row.total_credits, row.success_rate) == (
            live["completed"], live["failed"], live["avgDuration"], live["credits"], live["successRate"])
    assert AgentMetrics.objects.get(date=today).tasks_completed == 2
    assert AgentMetrics.objects.get(date=today - timedelta(days=1)).tasks_completed == 1

    AgentMetrics.objects.all().delete()
    out = io.StringIO()
    call_command("rebuild_agent_metrics", "--days", "3", stdout=out)
    assert sorted(AgentMetrics.objects.values_list("date", "tasks_completed")) == [
        (today - timedelta(days=1), 1), (today, 2)]


@pytest.mark.parametrize("args, message", [
    (["--days", "0"], "--days must be from 1"),
    (["--since", "yesterday"], "--since must be a date like 2026-12-01, got 'yesterday'"),
    (["--since", "2026-12-05", "--until", "2026-12-01"], "must be on or before --until"),
])
def test_the_rebuild_command_names_what_is_wrong(args, message):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=message):
        call_command("rebuild_agent_metrics", *args)
