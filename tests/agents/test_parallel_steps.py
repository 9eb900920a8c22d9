"""Parallel plans: steps whose dependencies are done run at once (fan-out), a step that needs
several waits for all of them (fan-in), each step once per run, even when a worker is killed."""
from __future__ import annotations

import time

import pytest

from agents.dag import dependencies, is_parallel, ready
from agents.orchestrator import sweep
from tasks_app import services
from tasks_app.models import Task, TaskEvent, TaskExecution
from tasks_app.selectors import task_trace
from tests.fakes import processes

from .helpers import wait_for


def diamond(hn_url: str) -> dict:
    """Two independent fetches and a third step that uses both."""
    return {"steps": [
        {"id": "first", "action": "http.get", "params": {"url": f"{hn_url}/item/9001.json"}, "dependsOn": []},
        {"id": "second", "action": "http.get", "params": {"url": f"{hn_url}/item/9002.json"}, "dependsOn": []},
        {"id": "both", "action": "http.get", "dependsOn": ["first", "second"],
         "params": {"url": f"{hn_url}/topstories.json",
                    "headers": {"X-Titles": "{first.result.title} + {second.result.title}"}}},
    ]}


def finished(task_id: str) -> Task | None:
    task = Task.objects.get(id=task_id)
    return task if task.status in {"completed", "failed", "cancelled"} else None


def test_the_shape_of_a_parallel_plan():
    plan = diamond("http://x.test")
    assert is_parallel(plan)
    assert dependencies(plan) == {1: set(), 2: set(), 3: {1, 2}}
    assert ready(plan, finished=set(), started=set()) == [1, 2]
    assert ready(plan, finished={1}, started={1, 2}) == []
    assert ready(plan, finished={1, 2}, started={1, 2}) == [3]
    # a reference is a dependency too; a plan without dependsOn keeps its sequential meaning
    chained = {"steps": [{"action": "http.get", "params": {}}, {"action": "http.get", "params": {"u": "{step1.result}"},
                                                                 "dependsOn": []}]}
    assert dependencies(chained) == {1: set(), 2: {1}}
    assert not is_parallel({"steps": [{"action": "http.get", "dependsOn": []}, {"action": "http.get"}]})
    # a chain of dependencies runs the same either way: sequentially, where replanning applies
    chain = {"steps": [{"id": "a", "action": "http.get"}, {"id": "b", "action": "http.get", "dependsOn": ["a"]},
                       {"action": "http.get", "params": {"x": "{b.result}"}}]}
    assert not is_parallel(chain)
    assert is_parallel({"steps": [*chain["steps"][:2], {"action": "http.get", "dependsOn": ["a"]}]})


def test_a_parallel_plan_runs_every_step_once_and_fans_in(user, hn_server, inline_engine):
    task = services.task_create(user=user, title="diamond", plan=diamond(hn_server.url))
    services.task_execute(task=task)
    task = wait_for(lambda: finished(task.id), timeout=30, what="the task to finish")
    assert task.status == "completed", task.error
    rows = list(TaskExecution.objects.filter(task=task).order_by("step"))
    assert [(r.step, r.status, r.claim_owner) for r in rows] == [(1, "completed", None), (2, "completed", None),
                                                                  (3, "completed", None)]
    titles = [hn_server.stories[0]["title"], hn_server.stories[1]["title"]]
    assert rows[2].input["headers"]["X-Titles"] == f"{titles[0]} + {titles[1]}"  # fan-in: both results resolved
    assert task.current_step == 3 and task.tool_calls == 3 and task.total_steps == 3
    assert task.total_credits == sum(r.credits for r in rows) == 15  # three http.get, each charged once
    assert sorted(s["step"] for s in task_trace(task)["steps"]) == [1, 2, 3]
    events = [e.payload for e in TaskEvent.objects.filter(task=task, type="step").order_by("seq")]
    assert sorted(e["step"] for e in events) == [1, 2, 3] and events[-1]["progress"] == 100
    assert set(task.result["outputs"]) == {"first", "second", "both"}


def test_a_failing_branch_fails_the_run_with_its_reason(user, hn_server, inline_engine):
    plan = diamond(hn_server.url)
    plan["steps"][1]["params"]["url"] = f"{hn_server.url}/nowhere"
    task = services.task_create(user=user, title="diamond", plan=plan)
    services.task_execute(task=task)
    task = wait_for(lambda: finished(task.id), timeout=30, what="the task to finish")
    assert task.status == "failed" and task.error.startswith("step 2 (http.get) failed: "), task.error
    assert not TaskExecution.objects.filter(task=task, step=3).exists()  # what needed it never ran


def run_on_worker(user, plan: dict) -> tuple[Task, float]:
    task = services.task_create(user=user, title="diamond", plan=plan)
    started = time.monotonic()
    services.task_execute(task=task)
    task = wait_for(lambda: finished(task.id), timeout=60, what="the worker to finish the task")
    return task, time.monotonic() - started


@pytest.mark.slow
def test_independent_steps_run_at_the_same_time_on_two_worker_processes(user, hn_server, celery_worker):
    hn_server.delays["/item/"] = 2.0  # long enough that the overlap shows on a loaded machine
    sequential = diamond(hn_server.url)
    for step in sequential["steps"]:
        step.pop("dependsOn")  # the same steps, one after another
    one_by_one, sequential_s = run_on_worker(user, sequential)
    task, parallel_s = run_on_worker(user, diamond(hn_server.url))
    assert task.status == one_by_one.status == "completed", f"{task.error}\n{celery_worker.tail()}"
    rows = {r.step: r for r in TaskExecution.objects.filter(task=task)}
    assert rows[1].duration >= 2000 and rows[2].duration >= 2000  # two two-second steps, then a quick one
    apart = abs((rows[1].completed_at - rows[2].completed_at).total_seconds())
    assert apart < 1, f"the two-second steps ended {apart:.2f}s apart: they did not overlap"
    # one step's time saved (2 s), less what a loaded machine adds: the same overheads in both runs
    assert parallel_s < sequential_s - 1.2, f"parallel {parallel_s:.2f}s against sequential {sequential_s:.2f}s"
    log = celery_worker.log_path.read_text()
    assert log.count("agents.tasks.run_branch") >= 3


@pytest.mark.slow
def test_a_worker_killed_mid_fan_out_loses_nothing_and_runs_each_step_once(user, hn_server, settings, tmp_path,
                                                                           transactional_db, loopback_allowed):
    from xantuus.celery import app

    settings.EMBEDDED = False
    settings.AGENT_LEASE_SECONDS = 3
    app.control.purge()
    hn_server.delays["/item/"] = 1.5
    env = processes.stack_env(AGENT_LEASE_SECONDS="3")  # a dead worker's claims lapse quickly
    worker = processes.celery_worker("worker", env, tmp_path)
    try:
        processes.wait_until_ready(worker, "ready.")
        task = services.task_create(user=user, title="diamond", plan=diamond(hn_server.url))
        services.task_execute(task=task)
        wait_for(lambda: sum(p.startswith("/item/") for p in hn_server.requests) >= 2, timeout=30,
                 what="both branches to be in their calls")
        worker.kill()  # kill -9 while both branches are in flight
        assert TaskExecution.objects.filter(task=task, status__in=["pending", "running"]).count() == 2
        worker = processes.celery_worker("worker2", env, tmp_path)

        def swept() -> Task | None:  # what celery-beat's sweeper does: wake the task nobody looks at
            sweep()
            return finished(task.id)

        task = wait_for(swept, timeout=90, what="the task to finish after the kill")
        assert task.status == "completed", f"{task.error}\n{worker.tail()}"
    finally:
        worker.stop()
    rows = list(TaskExecution.objects.filter(task=task).order_by("step"))
    assert [(r.step, r.status) for r in rows] == [(1, "completed"), (2, "completed"), (3, "completed")]
    assert hn_server.requests.count("/topstories.json") == 1  # the fan-in step ran once
    assert sorted(s["step"] for s in task_trace(task)["steps"]) == [1, 2, 3]  # each recorded once
    assert task.tool_calls == 3 and task.total_credits == sum(r.credits for r in rows) == 15
    assert sorted(e.payload["step"] for e in TaskEvent.objects.filter(task=task, type="step")) == [1, 2, 3]


def test_a_parallel_plan_is_estimated_by_its_longest_path():
    from agents.dag import critical_path

    plan = diamond("http://x.test")
    assert critical_path(plan, [1000, 1500, 200]) == 1700  # the two fetches overlap, then the third
    sequential = {"steps": [{"action": "http.get"}, {"action": "http.get"}]}
    assert critical_path(sequential, [1000, 1500]) == 1500 and not is_parallel(sequential)


def test_the_credit_check_counts_every_step_handed_out_at_once(user, hn_server, inline_engine):
    # planning costs 0 for a given plan; the two fetches cost 5 each: a budget of 8 covers one, not both
    task = services.task_create(user=user, title="diamond", plan=diamond(hn_server.url), credit_budget=8)
    services.task_execute(task=task)
    task = wait_for(lambda: Task.objects.filter(id=task.id, status="paused").first(), what="the credit pause")
    assert task.pause_reason == "credit_limit"
    assert not TaskExecution.objects.filter(task=task).exists()  # neither branch started
    assert not hn_server.requests


@pytest.mark.slow
def test_pause_acts_at_step_boundaries_of_a_parallel_plan(user, hn_server, celery_worker):
    hn_server.delays["/item/"] = 1.0
    task = services.task_create(user=user, title="diamond", plan=diamond(hn_server.url))
    services.task_execute(task=task)
    wait_for(lambda: sum(p.startswith("/item/") for p in hn_server.requests) >= 2, what="both branches to start")
    services.task_pause(task=task)
    paused = wait_for(lambda: Task.objects.filter(id=task.id, status="paused", current_step=2).first(),
                      timeout=30, what="the two steps in flight to finish")
    assert TaskExecution.objects.filter(task=task, status="completed").count() == 2
    assert not TaskExecution.objects.filter(task=task, step=3).exists()  # nothing new started while paused
    services.task_resume(task=paused)
    task = wait_for(lambda: finished(task.id), timeout=60, what="the resumed task to finish")
    assert task.status == "completed" and task.current_step == 3, task.error
    assert hn_server.requests.count("/topstories.json") == 1


def test_for_each_runs_one_step_per_item_in_parallel_and_gathers_their_results(user, hn_server, inline_engine):
    plan = {"steps": [
        {"id": "ids", "action": "http.get", "params": {"url": f"{hn_server.url}/topstories.json"}},
        {"id": "stories", "action": "http.get", "for_each": "{ids.result.slice(0,3)}",
         "params": {"url": f"{hn_server.url}/item/{{item}}.json"}},
        {"id": "titles", "action": "http.get",
         "params": {"url": f"{hn_server.url}/topstories.json",
                    "headers": {"X-Titles": "{stories.result.map('title').join('|')}"}}},
    ]}
    task = services.task_create(user=user, title="for each", plan=plan)
    services.task_execute(task=task)
    task = wait_for(lambda: finished(task.id), timeout=30, what="the task to finish")
    assert task.status == "completed", task.error
    rows = {r.step: r for r in TaskExecution.objects.filter(task=task)}
    assert sorted(rows) == [1, 2, 3, 4, 5, 6] and task.total_steps == 6  # 3 items appended as steps 4-6
    assert [rows[n].input["url"].rsplit("/", 1)[1] for n in (4, 5, 6)] == ["9001.json", "9002.json", "9003.json"]
    assert [s["title"] for s in rows[2].output] == ["Story number 1", "Story number 2", "Story number 3"]
    assert rows[3].input["headers"]["X-Titles"] == "Story number 1|Story number 2|Story number 3"
    assert task.tool_calls == 5  # the gathering step is no call of its own
    assert [p["kind"] for p in task_trace(task)["plans"]][-1] == "for_each"


def test_for_each_over_something_that_is_not_a_list_fails_clearly(user, hn_server, inline_engine):
    plan = {"steps": [
        {"id": "one", "action": "http.get", "params": {"url": f"{hn_server.url}/item/9001.json"}},
        {"action": "http.get", "forEach": "{one.result.title}", "params": {"url": "{item}"}},
    ]}
    task = services.task_create(user=user, title="for each", plan=plan)
    services.task_execute(task=task)
    task = wait_for(lambda: finished(task.id), timeout=30, what="the task to finish")
    assert task.status == "failed"
    assert task.error == "step 2 (http.get): for_each {one.result.title} is str, not a list"


def test_a_parallel_step_that_needs_approval_waits_and_runs_the_approved_call_once(user, hn_server, inline_engine):
    from agents.dispatch import INLINE
    from tasks_app.models import Approval
    from tests.fakes.webhook_receiver import WebhookReceiver

    with WebhookReceiver() as shop:
        plan = diamond(hn_server.url)
        plan["steps"][1] = {"id": "second", "action": "http.post", "dependsOn": [],
                            "params": {"url": f"{shop.url}/orders", "body": {"qty": 2}}}
        plan["steps"][2]["params"]["headers"]["X-Titles"] = "{first.result.title} + {second.status}"
        task = services.task_create(user=user, title="diamond", plan=plan)
        services.task_execute(task=task)
        approval = wait_for(lambda: Approval.objects.filter(task=task, status="pending").first(),
                            what="the write to ask first")
        assert INLINE.wait_idle(timeout=30)
        task.refresh_from_db()
        assert task.status == "awaiting_approval" and shop.received == []
        assert approval.step == 2 and approval.input == {"url": f"{shop.url}/orders", "body": {"qty": 2}}
        assert not TaskExecution.objects.filter(task=task, step=3).exists()
        services.approval_decide(approval=approval, user=user, approve=True)
        task = wait_for(lambda: finished(task.id), timeout=30, what="the approved run to finish")
        assert task.status == "completed", task.error
        assert len(shop.received) == 1  # the approved call, once
    rows = {r.step: r for r in TaskExecution.objects.filter(task=task)}
    assert [rows[n].status for n in (1, 2, 3)] == ["completed"] * 3
    assert rows[3].input["headers"]["X-Titles"] == f"{hn_server.stories[0]['title']} + completed"
