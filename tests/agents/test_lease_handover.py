"""A step hands its lease to the next step's wake-up (issue 14): the next step holds it without
writing it, a second delivery of that wake-up never records a step twice or acts twice, and a
task paused meanwhile gives the lease back.

The steps are driven here one wake-up at a time, as a worker runs them (no worker consumes the
queue): each wake-up carries the token the step before it handed over.
"""
from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents import orchestrator
from tasks_app import services
from tasks_app.credit_ledger import CreditEntry
from tasks_app.models import Task, TaskEvent, TaskExecution
from tasks_app.selectors import task_trace

from .helpers import seed_hn_plan


@pytest.fixture
def driven(settings, transactional_db, loopback_allowed):
    """Wake-ups go to a broker nobody consumes: the test runs each step itself."""
    from xantuus.celery import app

    settings.EMBEDDED = False
    app.control.purge()
    yield
    app.control.purge()


def start(user, hn_url: str) -> Task:
    task = services.task_create(user=user, title="Daily HN Summary", plan=seed_hn_plan(hn_url))
    task = services.task_execute(task=task)
    assert (task.status, task.total_steps) == ("executing", 4), "a person's own plan is planned in the request"
    return task


def handed_over(task: Task) -> str:
    return Task.objects.values_list("lease_owner", flat=True).get(id=task.id)


def at_once(task: Task, lease: str) -> list[str]:
    """The same wake-up delivered twice at the same moment, on two threads (two workers)."""
    barrier, outcomes = threading.Barrier(2), []

    def deliver() -> None:
        try:
            barrier.wait()
            outcomes.append(orchestrator.step(task.id, lease))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes)


def test_the_next_step_holds_the_lease_it_was_handed_and_only_its_wake_up_runs(user, hn_server, driven):
    task = start(user, hn_server.url)
    assert orchestrator.step(task.id) == "step-completed"  # step 1 took the lease itself
    lease = handed_over(task)
    assert lease, "step 1 left the lease to step 2's wake-up"
    assert orchestrator.step(task.id) == "not-leased"  # a wake-up without the token: the lease is held
    assert orchestrator.step(task.id, "someone:else") == "not-leased"
    assert orchestrator.step(task.id, lease) == "step-completed"
    assert orchestrator.step(task.id, lease) == "not-leased"  # the same wake-up again: step 3's lease now
    assert TaskExecution.objects.filter(task=task).count() == 2


def test_a_read_step_delivered_twice_at_once_is_recorded_and_charged_once(user, hn_server, driven):
    task = start(user, hn_server.url)
    assert orchestrator.step(task.id) == "step-completed"
    hn_server.delays["/item/"] = 0.5  # both deliveries are in step 2's calls before either records it
    before = len(hn_server.requests)
    assert at_once(task, handed_over(task)) == ["not-leased", "step-completed"]
    assert len(hn_server.requests) - before == 10  # a read may run twice (5 items each): it is recorded once
    task.refresh_from_db()
    assert task.current_step == 2 and task.tool_calls == 2
    assert TaskExecution.objects.filter(task=task, step=2).count() == 1
    assert TaskEvent.objects.filter(task=task, type="step", payload__step=2).count() == 1
    assert CreditEntry.objects.filter(task_ref=task.id, step=2).count() == 1
    assert [s["step"] for s in task_trace(task)["steps"]] == [1, 2]


def test_a_side_effect_delivered_twice_at_once_happens_once(user, hn_server, driven):
    task = start(user, hn_server.url)
    for _ in range(3):
        assert orchestrator.step(task.id, handed_over(task) or None) == "step-completed"
    assert at_once(task, handed_over(task)) == ["not-leased", "step-completed"]
    assert [m.subject for m in mail.outbox].count("Your Daily HN Summary") == 1
    assert TaskExecution.objects.get(task=task, step=4).status == "completed"
    assert orchestrator.step(task.id, handed_over(task)) == "completed"


def test_a_task_paused_after_the_hand_over_gives_the_lease_back_and_resumes(user, hn_server, driven):
    task = start(user, hn_server.url)
    assert orchestrator.step(task.id) == "step-completed"
    lease = handed_over(task)
    services.task_pause(task=Task.objects.get(id=task.id))
    assert orchestrator.step(task.id, lease) == "not-executing"
    assert handed_over(task) is None  # given back: a resume's wake-up can take it
    services.task_resume(task=Task.objects.get(id=task.id))
    assert orchestrator.step(task.id) == "step-completed"
    assert Task.objects.get(id=task.id).current_step == 2


def test_a_step_writes_its_trace_entry_with_its_row_and_leaves_the_tasks_trace_alone(user, hn_server, driven):
    """A trace kept whole in the task's row was rewritten whole by every step (step 100 wrote 100
    entries); each step's entry goes with its row, and the trace served puts them together."""
    task = start(user, hn_server.url)
    assert orchestrator.step(task.id) == "step-completed"
    with CaptureQueriesContext(connection) as step_2:
        assert orchestrator.step(task.id, handed_over(task)) == "step-completed"
    task_writes = [q["sql"] for q in step_2.captured_queries if q["sql"].startswith('UPDATE "tasks_app_task"')]
    assert len(task_writes) == 1 and "execution_trace" not in task_writes[0]
    stored = Task.objects.get(id=task.id).execution_trace
    assert stored["steps"] == [] and [p["version"] for p in stored["plans"]] == [1]
    served = task_trace(Task.objects.get(id=task.id))
    assert [(s["step"], s["action"], s["status"]) for s in served["steps"]] == [
        (1, "http.get", "completed"), (2, "http.getBatch", "completed")]
    assert served["steps"][1]["input"] == {"ids": [9001, 9002, 9003, 9004, 9005]}
    assert served["plans"] == stored["plans"]
