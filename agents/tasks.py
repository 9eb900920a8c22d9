"""Celery tasks: thin wrappers that take a task id and call one orchestrator function.

acks_late + reject_on_worker_lost (settings): a message is acknowledged only after the
step is recorded; the lease and the unique (task, run, step) row make redelivery safe.
"""
from __future__ import annotations

from celery import shared_task

from . import orchestrator


@shared_task(name="agents.tasks.plan_task", ignore_result=True)
def plan_task(task_id: str) -> str:
    return orchestrator.plan(task_id)


@shared_task(name="agents.tasks.run_step", ignore_result=True)
def run_step(task_id: str) -> str:
    return orchestrator.step(task_id)


@shared_task(name="agents.tasks.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    return orchestrator.sweep()
