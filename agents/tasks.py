"""Celery tasks: thin wrappers that take a task id and call one engine function.

acks_late + reject_on_worker_lost (settings): a message is acknowledged only after the
step is recorded; the lease and the unique (task, run, step) row make redelivery safe.
Each task starts on a healthy database connection, and a database outage (PostgreSQL
restarting) retries the task instead of failing the agent's run.
"""
from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.db import close_old_connections

from tasks_app import webhook_delivery
from xantuus import logs

from . import branch, heartbeats, metrics, orchestrator, schedules
from .errors import DATABASE_DOWN

log = logging.getLogger(__name__)
RETRY_ON_DB_DOWN: dict[str, Any] = {
    "autoretry_for": DATABASE_DOWN, "retry_backoff": 0.5, "retry_backoff_max": 5, "retry_jitter": True,
    "max_retries": 60, "ignore_result": True,
}


@shared_task(name="agents.tasks.plan_task", **RETRY_ON_DB_DOWN)
def plan_task(task_id: str) -> str:
    close_old_connections()
    logs.bind(taskId=task_id)  # cleared after every task (xantuus/celery.py)
    outcome = orchestrator.plan(task_id)
    log.info("planning of task %s: %s", task_id, outcome, extra={"outcome": outcome})
    return outcome


@shared_task(name="agents.tasks.run_step", **RETRY_ON_DB_DOWN)
def run_step(task_id: str, lease: str | None = None) -> str:
    close_old_connections()
    logs.bind(taskId=task_id)
    outcome = orchestrator.step(task_id, lease)  # the executor binds the run and step it ran
    log.info("step of task %s: %s", task_id, outcome, extra={"outcome": outcome})
    return outcome


@shared_task(name="agents.tasks.run_branch", **RETRY_ON_DB_DOWN)
def run_branch(task_id: str, run: int, step: int) -> str:
    """One step of a parallel plan (agents/branch.py), on whichever worker takes the message."""
    close_old_connections()
    logs.bind(taskId=task_id, run=run, step=step)
    outcome = branch.run_branch(task_id, run, step)
    log.info("step %s of task %s: %s", step, task_id, outcome, extra={"outcome": outcome})
    return outcome


@shared_task(name="agents.tasks.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    close_old_connections()
    heartbeats.beat_tick()  # /readyz: beat ticks and a worker consumes the control queue
    return orchestrator.sweep()


@shared_task(name="agents.tasks.run_scheduled", **RETRY_ON_DB_DOWN)
def run_scheduled(task_id: str) -> str:
    """celery-beat fires a task's cron schedule: start a new run of it."""
    close_old_connections()
    logs.bind(taskId=task_id)
    return schedules.fire(task_id)


@shared_task(name="agents.tasks.deliver_webhook", **RETRY_ON_DB_DOWN)
def deliver_webhook(delivery_id: str) -> str:
    """One attempt of one webhook delivery (tasks_app.webhook_delivery); a retry is its own message."""
    close_old_connections()
    return webhook_delivery.deliver(delivery_id)


@shared_task(name="agents.tasks.deliver_webhooks", ignore_result=True)
def deliver_webhooks() -> dict[str, int]:
    """celery-beat: send the webhook deliveries that are due (a lost message costs a delay only)."""
    close_old_connections()
    return webhook_delivery.tick()


@shared_task(name="agents.tasks.aggregate_metrics", ignore_result=True)
def aggregate_metrics() -> int:
    """celery-beat, every minute: today's and yesterday's AgentMetrics rows from the runs and the ledger."""
    close_old_connections()
    return metrics.aggregate_recent()
