"""The real broker path: API-less creation -> Redis -> a real celery worker process -> completion."""
from __future__ import annotations

import pytest

from tasks_app import services
from tasks_app.models import Task, TaskEvent, TaskExecution

from .helpers import seed_hn_plan, wait_for

pytestmark = pytest.mark.slow


def finished(task_id: str) -> Task | None:
    task = Task.objects.get(id=task_id)
    return task if task.status in {"completed", "failed", "cancelled"} else None


def test_a_multi_step_task_crosses_the_broker_to_a_real_worker(user, hn_server, celery_worker):
    plan = seed_hn_plan(hn_server.url)
    plan["steps"] = plan["steps"][:3]
    task = services.task_create(user=user, title="Daily HN Summary", plan=plan)
    services.task_execute(task=task)
    task = wait_for(lambda: finished(task.id), timeout=60, what="the worker to finish the task")
    assert task.status == "completed", f"{task.error}\n{celery_worker.tail()}"
    rows = TaskExecution.objects.filter(task=task).order_by("step")
    assert [r.action for r in rows] == ["http.get", "http.getBatch", "ai.summarize"]
    assert "Story number 1" in rows[2].output
    assert task.result["final"] == rows[2].output
    # every step ran in the worker process, not in this one
    log = celery_worker.log_path.read_text()
    assert log.count("agents.tasks.run_step") >= 3 and "agents.tasks.plan_task" in log
    assert [e.payload["step"] for e in TaskEvent.objects.filter(task=task, type="step").order_by("seq")] == [1, 2, 3]


def test_pause_and_resume_through_the_worker(user, hn_server, celery_worker):
    hn_server.delays["/item/"] = 0.8
    plan = seed_hn_plan(hn_server.url)
    plan["steps"] = plan["steps"][:3]
    task = services.task_create(user=user, title="pausable", plan=plan)
    services.task_execute(task=task)
    wait_for(lambda: any(p.startswith("/item/") for p in hn_server.requests), what="step 2 to start")
    services.task_pause(task=task)
    paused = wait_for(lambda: Task.objects.filter(id=task.id, status="paused", lease_owner__isnull=True,
                                                  current_step=2).first(), what="the step in flight to finish")
    assert not TaskExecution.objects.filter(task=task, step=3).exists()
    services.task_resume(task=paused)
    task = wait_for(lambda: finished(task.id), timeout=60, what="the resumed task to finish")
    assert task.status == "completed" and task.current_step == 3
