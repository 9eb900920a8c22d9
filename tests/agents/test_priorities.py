"""Priorities under backlog: wake-ups wait in Redis, then one worker (-c 1) takes urgent first."""
from __future__ import annotations

import pytest

from tasks_app import services
from tasks_app.models import Task, TaskExecution
from tests.fakes import processes

from .helpers import wait_for

pytestmark = pytest.mark.slow


def test_a_backlog_reaches_the_worker_urgent_high_medium_low(user, hn_server, transactional_db, settings, tmp_path):
    settings.EMBEDDED = False
    from xantuus.celery import app

    app.control.purge()
    plan = {"steps": [{"action": "http.get", "params": {"url": f"{hn_server.url}/topstories.json"}}]}
    submitted = ["low", "medium", "high", "urgent", "medium", "low", "urgent", "high"]
    for n, priority in enumerate(submitted):
        task = services.task_create(user=user, title=f"{priority}-{n}", plan=plan, priority=priority)
        services.task_execute(task=task)  # no worker yet: the wake-ups wait in Redis
    worker = processes.celery_worker("prio", processes.stack_env(), tmp_path, concurrency=1)
    try:
        processes.wait_until_ready(worker, "ready.")
        wait_for(lambda: Task.objects.filter(status="completed").count() == len(submitted), timeout=90,
                 what="the backlog to drain")
    finally:
        worker.stop()
    order = [row.task.priority for row in TaskExecution.objects.select_related("task").order_by("created_at")]
    print(f"\nsubmitted: {submitted}\nexecuted:  {order}")
    assert order == ["urgent", "urgent", "high", "high", "medium", "medium", "low", "low"]
