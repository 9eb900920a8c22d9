"""The durable queue on the embedded runner: failures, dead letters, limits, circuits, approvals, schedules."""
from __future__ import annotations

import json
from datetime import UTC, timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from agents import tasks as celery_tasks
from agents.dispatch import INLINE
from tasks_app import lifecycle, services
from tasks_app.models import Approval, DeadLetter, Notification, Task, TaskExecution, ToolCircuit
from tools.outbound_ids import message_id

from .helpers import seed_hn_plan, wait_for

pytestmark = pytest.mark.usefixtures("inline_engine")


def run(task: Task) -> Task:
    services.task_execute(task=task)
    assert INLINE.wait_idle(timeout=30)
    task.refresh_from_db()
    return task


def step_mail() -> list:
    """Emails the agents sent (notifications left out)."""
    return [m for m in mail.outbox if "X-Xantuus-Notification" not in m.extra_headers]


def two_step_plan(url: str) -> dict:
    return {"steps": [
        {"action": "http.get", "params": {"url": f"{url}/topstories.json"}},
        {"action": "http.getBatch", "params": {"ids": "{step1.result.slice(0,2)}"}},
    ]}


# --- fatal errors, planning errors, dead letters --------------------------------------------


def test_a_fatal_error_fails_the_task_records_it_and_notifies_the_owner(user):
    task = run(services.task_create(user=user, title="Find me a flat in Lisbon"))
    assert task.status == "failed" and "needs a language model" in task.error
    note = Notification.objects.get(task=task)
    assert note.kind == "failed" and note.user == user and not note.read and "needs a language model" in note.message
    [email] = mail.outbox
    assert email.to == ["ada@example.com"] and email.subject == "Task failed: Find me a flat in Lisbon"
    assert "needs a language model" in email.body
    letter = DeadLetter.objects.get(task=task)
    assert (letter.run, letter.step, letter.requeued_at) == (1, 1, None) and letter.error == task.error


def test_a_planning_error_at_run_time_fails_clearly(user, hn_server):
    plan = {"steps": [{"action": "http.get", "params": {"url": f"{hn_server.url}/item/9001.json"}},
                      {"action": "http.getBatch", "params": {"ids": "{step1.result.slice(0,2)}"}}]}
    task = run(services.task_create(user=user, title="wrong reference", plan=plan))
    assert task.status == "failed"
    assert task.error.startswith("step 2 (http.getBatch) has a wrong plan: {step1.result.slice(0,2)}")
    assert DeadLetter.objects.get(task=task).step == 2


def test_exhausted_retries_land_in_the_dead_letters_and_a_requeue_continues_at_that_step(user, hn_server, settings):
    settings.AGENT_MAX_RETRIES = 1
    hn_server.fail_next["/item/9001.json"] = [503, 503]
    task = run(services.task_create(user=user, title="flaky items", plan=two_step_plan(hn_server.url)))
    assert task.status == "failed" and "gave up after 2 attempts" in task.error
    letter = DeadLetter.objects.get(task=task)
    assert (letter.run, letter.step, letter.action) == (1, 2, "http.getBatch")
    assert letter.trace["steps"][-1]["status"] == "failed"
    assert Notification.objects.filter(task=task, kind="failed").count() == 1
    topstories = hn_server.requests.count("/topstories.json")

    services.dead_letter_requeue(dead_letter=letter)
    assert INLINE.wait_idle(timeout=30)
    task.refresh_from_db()
    assert task.status == "completed" and task.attempts == 1, task.error
    assert hn_server.requests.count("/topstories.json") == topstories, "step 1 was not run again"
    assert [r.status for r in TaskExecution.objects.filter(task=task, run=1)] == ["completed", "completed"]
    letter.refresh_from_db()
    assert letter.requeued_at is not None
    with pytest.raises(services.InvalidTask, match="requeued already"):
        services.dead_letter_requeue(dead_letter=letter)


# --- concurrency limits ------------------------------------------------------------------------


def test_runs_over_the_limits_wait_in_the_queue_and_start_in_priority_order(user, django_user_model, hn_server,
                                                                           settings):
    settings.AGENT_MAX_CONCURRENT, settings.AGENT_MAX_CONCURRENT_PER_USER = 2, 1
    hn_server.delays["/topstories.json"] = 0.3
    plan = two_step_plan(hn_server.url)
    first = services.task_create(user=user, title="first", plan=plan)
    waiting = {p: services.task_create(user=user, title=p, plan=plan, priority=p) for p in ["low", "urgent", "high"]}
    bob = django_user_model.objects.create_user(username="bob", email="bob@example.com", password="pw-bob-123")
    other = services.task_create(user=bob, title="bob's", plan=plan)
    for task in [first, *waiting.values(), other]:
        services.task_execute(task=task)
    statuses = dict(Task.objects.values_list("title", "status"))
    assert statuses["first"] in {"planning", "executing"} and statuses["bob's"] in {"planning", "executing"}
    assert [statuses[p] for p in ["low", "urgent", "high"]] == ["queued"] * 3, "ada is at her limit of 1"
    assert INLINE.wait_idle(timeout=60)
    tasks = {t.title: t for t in Task.objects.all()}
    assert {t.status for t in tasks.values()} == {"completed"}
    started = sorted(["low", "urgent", "high"], key=lambda p: tasks[p].started_at)
    assert started == ["urgent", "high", "low"]
    assert all(tasks[p].started_at >= tasks["first"].completed_at for p in started), "one at a time for ada"
    events = [e.payload["status"] for e in tasks["urgent"].events.filter(type="status").order_by("seq")]
    assert events == ["queued", "planning", "executing", "completed"]


def test_a_resume_over_the_limit_waits_and_then_continues_where_it_stopped(user, hn_server, settings):
    settings.AGENT_MAX_CONCURRENT_PER_USER = 1
    hn_server.delays["/item/"] = 0.4
    three_steps = two_step_plan(hn_server.url)
    three_steps["steps"].append({"action": "ai.summarize", "params": {"items": "{step2.result}"}})
    paused = services.task_create(user=user, title="paused", plan=three_steps)
    services.task_execute(task=paused)
    wait_for(lambda: any(p.startswith("/item/") for p in hn_server.requests), what="step 2 to start")
    services.task_pause(task=paused)
    assert INLINE.wait_idle(timeout=30)
    paused.refresh_from_db()
    assert (paused.status, paused.current_step) == ("paused", 2)
    busy = services.task_create(user=user, title="busy", plan=two_step_plan(hn_server.url))
    services.task_execute(task=busy)
    fetched = hn_server.requests.count("/topstories.json")
    resumed = services.task_resume(task=paused)
    assert resumed.status == "queued", "ada's one slot is taken by the busy task"
    assert INLINE.wait_idle(timeout=60)
    resumed.refresh_from_db()
    busy.refresh_from_db()
    assert resumed.status == busy.status == "completed"
    assert resumed.started_at >= busy.completed_at
    assert hn_server.requests.count("/topstories.json") == fetched + 1, "only the busy task fetched step 1 again"
    assert list(TaskExecution.objects.filter(task=resumed).values_list("step", flat=True)) == [1, 2, 3]
    assert "Story number 2" in resumed.result["final"]
    events = [e.payload["status"] for e in resumed.events.filter(type="status").order_by("seq")]
    assert events[-4:] == ["queued", "planning", "executing", "completed"]


def test_a_replay_over_the_limit_waits_its_turn(user, hn_server, settings):
    original = run(services.task_create(user=user, title="original", plan=two_step_plan(hn_server.url)))
    settings.AGENT_MAX_CONCURRENT_PER_USER = 1
    hn_server.delays["/topstories.json"] = 0.3
    busy = services.task_create(user=user, title="busy", plan=two_step_plan(hn_server.url))
    services.task_execute(task=busy)
    replay = services.task_replay(task=original, from_step=2)
    assert replay.status == "queued"
    with pytest.raises(lifecycle.TransitionNotAllowed):  # a run still waiting has nothing to replay yet
        services.task_replay(task=replay, from_step=1)
    assert INLINE.wait_idle(timeout=60)
    replay.refresh_from_db()
    busy.refresh_from_db()
    assert replay.status == "completed" and replay.started_at >= busy.completed_at
    assert TaskExecution.objects.get(task=replay, step=1).reasoning.startswith("(copied from task")


def test_the_tool_call_and_time_limits_still_hold(user, hn_server, settings):
    settings.AGENT_MAX_TOOL_CALLS = 1
    task = run(services.task_create(user=user, title="limited", plan=two_step_plan(hn_server.url)))
    assert task.status == "failed" and task.error.endswith("(AGENT_MAX_TOOL_CALLS)")
    settings.AGENT_MAX_TOOL_CALLS, settings.AGENT_TIMEOUT_MS = 100, 100
    hn_server.delays["/topstories.json"] = 0.2
    task = run(services.task_create(user=user, title="slow", plan=two_step_plan(hn_server.url)))
    assert task.status == "failed" and task.error.endswith("(AGENT_TIMEOUT_MS)")


# --- circuit breaker -----------------------------------------------------------------------------


def test_a_failing_tool_opens_its_circuit_steps_wait_and_a_probe_closes_it(user, hn_server, settings):
    settings.AGENT_MAX_RETRIES, settings.AGENT_CIRCUIT_FAILURES, settings.AGENT_CIRCUIT_COOLDOWN_S = 1, 2, 1
    hn_server.fail_next["/topstories.json"] = [503, 503]
    broken = run(services.task_create(user=user, title="broken", plan=two_step_plan(hn_server.url)))
    assert broken.status == "failed"
    circuit = ToolCircuit.objects.get(tool="http")
    assert circuit.key == f"http:127.0.0.1:{hn_server.server.server_port}"
    assert circuit.state == "open" and circuit.failures == 2 and "answered 503" in circuit.last_error
    requests_before = len(hn_server.requests)

    waiting = services.task_create(user=user, title="waits", plan=two_step_plan(hn_server.url))
    services.task_execute(task=waiting)
    wait_for(lambda: Task.objects.get(id=waiting.id).status == "executing", what="the plan")
    assert len(hn_server.requests) == requests_before, "no call while the circuit is open"
    assert INLINE.wait_idle(timeout=30)
    waiting.refresh_from_db()
    assert waiting.status == "completed", waiting.error
    first_step = TaskExecution.objects.get(task=waiting, step=1)
    assert first_step.created_at >= circuit.opened_until, "it ran only after the cool-down"
    circuit.refresh_from_db()
    assert (circuit.state, circuit.failures) == ("closed", 0)


def test_a_step_fails_clearly_when_its_tool_stays_unavailable(user, hn_server, settings):
    settings.AGENT_CIRCUIT_MAX_WAIT_S = 0
    ToolCircuit.objects.create(key=f"http:127.0.0.1:{hn_server.server.server_port}", tool="http", state="open",
                               failures=5, last_error="answered 503", opened_at=timezone.now() - timedelta(seconds=5),
                               opened_until=timezone.now() + timedelta(seconds=30))
    task = run(services.task_create(user=user, title="down", plan=two_step_plan(hn_server.url)))
    assert task.status == "failed"
    assert "tool 'http' is unavailable (http:127.0.0.1:" in task.error
    assert "its circuit breaker has been open since" in task.error
    assert hn_server.requests == []


# --- approvals ----------------------------------------------------------------------------------


def mass_email_plan(recipients: int) -> dict:
    to = [f"reader{n}@example.com" for n in range(recipients)]
    return {"steps": [{"action": "email.send", "params": {"to": to, "subject": "News", "body": "Hello"}}]}


def test_an_approval_policy_gates_the_action_until_a_person_approves(user):
    task = run(services.task_create(user=user, title="newsletter", plan=mass_email_plan(11)))
    assert task.status == "awaiting_approval" and step_mail() == []
    approval = Approval.objects.get(task=task)
    assert (approval.kind, approval.policy, approval.status, approval.step) == ("policy", "mass-email", "pending", 1)
    assert "more than 10 recipients" in approval.question
    assert Notification.objects.get(task=task).kind == "approval_needed"
    assert [m.subject for m in mail.outbox] == ["Approval needed: newsletter"]

    services.approval_decide(approval=approval, approve=True, user=user)
    assert INLINE.wait_idle(timeout=30)
    task.refresh_from_db()
    assert task.status == "completed", task.error
    [sent] = step_mail()
    assert len(sent.to) == 11
    approval.refresh_from_db()
    assert approval.status == "approved" and approval.decided_by == user and approval.decided_at


def test_rejecting_an_approval_cancels_the_task_and_ten_recipients_need_none(user):
    task = run(services.task_create(user=user, title="newsletter", plan=mass_email_plan(11),
                                    agent_config={"schedule": "0 9 * * *"}))
    assert task.error is None, "the question lives on the Approval, not in the task's error"
    services.approval_decide(approval=Approval.objects.get(task=task), approve=False, user=user)
    task.refresh_from_db()
    assert task.status == "cancelled" and step_mail() == []
    assert task.error == "cancelled: approval of step 1 was rejected"
    assert not PeriodicTask.objects.filter(name=f"xantuus-task-{task.id}").exists(), "its schedule went too"
    assert celery_tasks.run_scheduled(task.id) == "unscheduled"
    small = run(services.task_create(user=user, title="ten", plan=mass_email_plan(10)))
    assert small.status == "completed" and len(step_mail()) == 1


def crashed_mid_send(user) -> Task:
    """What a worker killed during an irreversible call leaves: its row 'running', its lease lapsed."""
    task = services.task_create(user=user, title="crashed", plan=mass_email_plan(1))
    lifecycle.require("start", task_id=task.id, attempts=1, started_at=timezone.now())
    lifecycle.require("planned", task_id=task.id, total_steps=1)
    Task.objects.filter(id=task.id).update(lease_owner="dead-worker:1", lease_expires_at=timezone.now())
    TaskExecution.objects.create(task=task, run=1, step=1, action="email.send", tool="email", status="running",
                                 side_effect="irreversible", idempotency_key=f"task:{task.id}:run:1:step:1",
                                 input=mass_email_plan(1)["steps"][0]["params"])
    return task


@pytest.mark.parametrize("done", [True, False])
def test_an_unknown_outcome_is_held_for_a_person_then_settled_or_run_again(user, done):
    task = crashed_mid_send(user)
    INLINE.start()  # its sweeper finds the lapsed lease
    wait_for(lambda: Task.objects.get(id=task.id).status == "awaiting_approval", what="the task to be held")
    approval = Approval.objects.get(task=task)
    assert approval.kind == "unknown_outcome" and "may or may not have happened" in approval.question
    assert step_mail() == [], "never sent again blindly"

    with pytest.raises(services.InvalidTask, match="done=true"):
        services.approval_decide(approval=approval, approve=True, done=None, user=user)
    services.approval_decide(approval=approval, approve=True, done=done, user=user)
    assert INLINE.wait_idle(timeout=30)
    task.refresh_from_db()
    row = TaskExecution.objects.get(task=task, step=1)
    assert task.status == "completed" and row.status == "completed", task.error
    if done:
        assert row.output == {"settledBy": "ada"} and step_mail() == []
    else:
        [sent] = step_mail()
        assert sent.extra_headers["Message-ID"] == message_id(f"task:{task.id}:run:1:step:1")


# --- schedules ------------------------------------------------------------------------------------


def research(schedule: str | None) -> dict:
    config = {"sources": ["hackernews"], "count": 2}
    return {**config, "schedule": schedule} if schedule else config


def test_a_schedule_gets_a_periodic_task_that_follows_the_config(user):
    task = services.task_create(user=user, title="Daily HN", agent_type="research", agent_config=research("0 9 * * *"))
    periodic = PeriodicTask.objects.get(name=f"xantuus-task-{task.id}")
    assert periodic.task == "agents.tasks.run_scheduled" and json.loads(periodic.args) == [task.id]
    cron = periodic.crontab
    assert (cron.minute, cron.hour, cron.day_of_month, cron.month_of_year, cron.day_of_week) == \
        ("0", "9", "*", "*", "*") and str(cron.timezone) == "UTC"

    services.task_update(task=task, changes={"agent_config": research("*/15 8-18 * * 1-5")})
    cron = PeriodicTask.objects.get(name=f"xantuus-task-{task.id}").crontab
    assert (cron.minute, cron.hour, cron.day_of_week) == ("*/15", "8-18", "1-5")
    with pytest.raises(services.InvalidTask) as error:
        services.task_update(task=task, changes={"agent_config": research("61 * * * *")})
    assert error.value.field == "agentConfig" and str(error.value).startswith("agentConfig.schedule: '61 * * * *'")
    services.task_update(task=task, changes={"agent_config": research(None)})
    assert not PeriodicTask.objects.filter(name=f"xantuus-task-{task.id}").exists()

    again = services.task_create(user=user, title="again", agent_type="research", agent_config=research("0 * * * *"))
    services.task_cancel(task=again)
    assert not PeriodicTask.objects.filter(name=f"xantuus-task-{again.id}").exists()
    third = services.task_create(user=user, title="third", agent_type="research", agent_config=research("0 * * * *"))
    services.task_delete(task=third)
    assert not PeriodicTask.objects.exists()


@pytest.mark.parametrize("schedule", ["every day", "0 9 * *", "0 25 * * *"])
def test_an_invalid_schedule_is_refused_at_creation(user, schedule):
    with pytest.raises(services.InvalidTask) as error:
        services.task_create(user=user, title="bad", agent_type="research", agent_config=research(schedule))
    assert error.value.field == "agentConfig" and str(error.value).startswith("agentConfig.schedule:")
    assert not Task.objects.exists() and not PeriodicTask.objects.exists()


def test_each_firing_starts_a_new_recorded_run(user, hn_server):
    task = services.task_create(user=user, title="Daily HN", agent_type="research", agent_config=research("0 9 * * *"))
    for run_number in (1, 2):
        assert celery_tasks.run_scheduled(task.id) == "started"
        assert INLINE.wait_idle(timeout=30)
        task.refresh_from_db()
        assert task.status == "completed" and task.attempts == run_number, task.error
    assert sorted(set(TaskExecution.objects.filter(task=task).values_list("run", flat=True))) == [1, 2]
    assert len(step_mail()) == 2
    from tasks_app.api.serializers import TaskSerializer

    body = TaskSerializer(task).data  # the run's totals restart; the lifetime ones keep every run
    assert body["lifetimeCredits"] == 2 * body["totalCredits"] > 0, "two runs of the same plan cost the same"
    assert body["lifetimeExecutionTime"] >= body["executionTime"]


def test_the_embedded_beat_fires_due_schedules_once_with_crons_semantics(user, hn_server):
    from datetime import datetime

    from agents import schedules

    task = services.task_create(user=user, title="Daily HN", agent_type="research", agent_config=research("0 9 * * *"))
    name = f"xantuus-task-{task.id}"
    utc = UTC
    PeriodicTask.objects.filter(name=name).update(last_run_at=datetime(2026, 12, 1, 9, 0, 30, tzinfo=utc))
    assert schedules.tick(datetime(2026, 12, 2, 8, 59, tzinfo=utc)) == [], "not due before 09:00"
    # missed firings (down since yesterday 09:00, now two days later) are caught up once, not twice
    assert schedules.tick(datetime(2026, 12, 3, 9, 0, 5, tzinfo=utc)) == [task.id]
    assert schedules.tick(datetime(2026, 12, 3, 9, 0, 40, tzinfo=utc)) == []
    assert INLINE.wait_idle(timeout=30)
    task.refresh_from_db()
    assert task.status == "completed" and task.attempts == 1, task.error
    assert PeriodicTask.objects.get(name=name).total_run_count == 1 and len(step_mail()) == 1


def test_the_embedded_runner_fires_a_schedule_by_itself(user, hn_server):
    task = services.task_create(user=user, title="Every minute", agent_type="research",
                                agent_config=research("* * * * *"))
    PeriodicTask.objects.filter(name=f"xantuus-task-{task.id}").update(
        last_run_at=timezone.now() - timezone.timedelta(minutes=2))
    INLINE.start()
    done = wait_for(lambda: Task.objects.filter(id=task.id, status="completed", attempts=1).first(),
                    what="the embedded beat's firing")
    assert TaskExecution.objects.filter(task=done, run=1).count() == 4


def test_the_embedded_sweeper_wakes_a_task_whose_lease_lapsed(user, hn_server):
    task = services.task_create(user=user, title="orphan", plan=seed_hn_plan(hn_server.url))
    lifecycle.require("start", task_id=task.id, attempts=1, started_at=timezone.now())
    lifecycle.require("planned", task_id=task.id, total_steps=4)
    Task.objects.filter(id=task.id).update(lease_owner="dead-worker:2", lease_expires_at=timezone.now())
    INLINE.start()
    done = wait_for(lambda: Task.objects.filter(id=task.id, status="completed").first(), what="the sweeper")
    assert done.current_step == 4 and len(step_mail()) == 1


def test_the_queue_snapshot_shows_circuits_dead_letters_and_approvals(user, hn_server, settings):
    from agents.metrics import queue_snapshot

    settings.AGENT_MAX_RETRIES, settings.AGENT_CIRCUIT_FAILURES = 0, 1
    hn_server.fail_next["/topstories.json"] = [503]
    run(services.task_create(user=user, title="broken", plan=two_step_plan(hn_server.url)))
    run(services.task_create(user=user, title="newsletter", plan=mass_email_plan(11)))
    snapshot = queue_snapshot()
    assert (snapshot["deadLetters"], snapshot["awaitingApproval"], snapshot["queued"]) == (1, 1, 0)
    assert [(c["tool"], c["state"]) for c in snapshot["circuits"]] == [("http", "open")]
    assert snapshot["circuits"][0]["key"] == f"http:127.0.0.1:{hn_server.server.server_port}"
