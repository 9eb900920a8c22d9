"""The executor on the embedded runner: plans run step by step, recorded, pausable, bounded."""
from __future__ import annotations

import pytest
from django.core import mail

from agents.dispatch import INLINE
from tasks_app import services
from tasks_app.models import Task, TaskEvent, TaskExecution
from tasks_app.selectors import task_trace
from tools.outbound_ids import message_id

from .helpers import run_inline, seed_hn_plan, wait_for

pytestmark = pytest.mark.usefixtures("inline_engine")


def test_the_seed_hn_plan_runs_end_to_end(user, hn_server):
    task = services.task_create(user=user, title="Daily HN Summary", plan=seed_hn_plan(hn_server.url))
    task = run_inline(task)
    assert task.status == "completed", task.error
    assert (task.current_step, task.total_steps, task.tool_calls) == (4, 4, 4)
    rows = list(TaskExecution.objects.filter(task=task).order_by("step"))
    assert [r.action for r in rows] == ["http.get", "http.getBatch", "ai.summarize", "email.send"]
    assert all(r.status == "completed" and r.duration >= 0 for r in rows)
    assert rows[1].input == {"ids": [9001, 9002, 9003, 9004, 9005]}
    assert [story["title"] for story in rows[1].output] == [f"Story number {n}" for n in range(1, 6)]
    assert task.total_credits == sum(r.credits for r in rows) == 5 + 20 + 100 + 10
    # the email that arrived carries the summary of exactly those five stories
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ada@example.com"]
    assert mail.outbox[0].subject == "Your Daily HN Summary"
    assert "Story number 5" in mail.outbox[0].body and "Story number 6" not in mail.outbox[0].body
    assert mail.outbox[0].extra_headers["Message-ID"] == message_id(f"task:{task.id}:run:1:step:4")
    # the trace in the seed's format
    trace = task_trace(task)
    assert trace["taskId"] == task.id
    assert [s["step"] for s in trace["steps"]] == [1, 2, 3, 4]
    assert set(trace["steps"][0]) >= {"step", "reasoning", "action", "input", "output", "timestamp"}
    assert trace["steps"][0]["reasoning"] == "Fetch top stories from HN API"
    # events: status changes and one per step, numbered without gaps
    events = list(TaskEvent.objects.filter(task=task).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.payload.get("status") for e in events if e.type == "status"] == ["planning", "executing", "completed"]
    assert [e.payload["progress"] for e in events if e.type == "step"] == [25, 50, 75, 100]


def test_the_research_agent_type_plans_the_seed_flow(user, hn_server):
    task = services.task_create(user=user, title="Daily HN Summary", agent_type="research",
                                agent_config={"sources": ["hackernews"], "count": 3, "schedule": "0 9 * * *"})
    task = run_inline(task)
    assert task.status == "completed", task.error
    assert task.result["storiesProcessed"] == 3 and task.result["emailedTo"] == ["ada@example.com"]
    assert "Story number 3" in task.result["summary"] and "offline summary" in task.result["summary"]
    assert task.plan_credits == 100 and task.total_credits == 100 + 5 + 20 + 100 + 10


def test_pause_waits_for_the_step_in_flight_and_resume_continues(user, hn_server):
    hn_server.delays["/item/"] = 0.5
    task = services.task_create(user=user, title="slow", plan=seed_hn_plan(hn_server.url))
    services.task_execute(task=task)
    wait_for(lambda: any(p.startswith("/item/") for p in hn_server.requests), what="step 2 to start")
    services.task_pause(task=task)
    assert INLINE.wait_idle(timeout=30)
    task.refresh_from_db()
    assert task.status == "paused" and task.current_step == 2, "step 2 finished; step 3 did not start"
    assert TaskExecution.objects.filter(task=task).count() == 2 and len(mail.outbox) == 0
    fetched = len(hn_server.requests)
    services.task_resume(task=services.Task.objects.get(id=task.id))
    assert INLINE.wait_idle(timeout=30)
    task.refresh_from_db()
    assert task.status == "completed" and len(mail.outbox) == 1
    assert len(hn_server.requests) == fetched, "steps 1 and 2 were not run again"


def test_cancel_stops_at_the_next_step_boundary(user, hn_server):
    hn_server.delays["/item/"] = 0.5
    task = services.task_create(user=user, title="cancel me", plan=seed_hn_plan(hn_server.url))
    services.task_execute(task=task)
    wait_for(lambda: any(p.startswith("/item/") for p in hn_server.requests), what="step 2 to start")
    services.task_cancel(task=task)
    assert INLINE.wait_idle(timeout=30)
    task.refresh_from_db()
    assert task.status == "cancelled" and task.current_step == 2 and task.lease_owner is None
    assert len(mail.outbox) == 0


def test_transient_errors_are_retried_with_backoff(user, hn_server, settings):
    hn_server.fail_next["/topstories.json"] = [503, 429]
    task = run_inline(services.task_create(user=user, title="flaky", plan=seed_hn_plan(hn_server.url)))
    assert task.status == "completed", task.error
    assert hn_server.requests.count("/topstories.json") == 3
    assert TaskExecution.objects.get(task=task, step=1).attempts == 2


def test_retries_give_up_after_agent_max_retries(user, hn_server, settings):
    settings.AGENT_MAX_RETRIES = 1
    hn_server.fail_next["/topstories.json"] = [503, 503, 503]
    task = run_inline(services.task_create(user=user, title="down", plan=seed_hn_plan(hn_server.url)))
    assert task.status == "failed"
    assert "step 1 (http.get) failed" in task.error and "answered 503 (gave up after 2 attempts)" in task.error
    assert hn_server.requests.count("/topstories.json") == 2
    assert task_trace(task)["steps"][-1]["status"] == "failed"


def test_a_tool_error_in_a_plan_fails_the_task_with_the_reason(user, hn_server):
    plan = {"steps": [{"action": "http.get", "params": {"url": f"{hn_server.url}/nope.json"}}]}
    task = run_inline(services.task_create(user=user, title="404", plan=plan))
    assert task.status == "failed" and "answered 404" in task.error
    assert TaskExecution.objects.get(task=task, step=1).status == "failed"


def test_tool_input_that_fails_its_schema_is_a_clear_error(user, hn_server):
    plan = {"steps": [{"action": "http.get", "params": {"link": "http://example.org"}}]}
    task = run_inline(services.task_create(user=user, title="bad input", plan=plan))
    assert task.status == "failed"
    assert "invalid input for http.get: url: Field required; link: Extra inputs are not permitted" in task.error


def test_the_tool_call_limit_is_enforced(user, hn_server, settings):
    settings.AGENT_MAX_TOOL_CALLS = 2
    task = run_inline(services.task_create(user=user, title="limited", plan=seed_hn_plan(hn_server.url)))
    assert task.status == "failed" and task.tool_calls == 2
    assert task.error == "task reached the limit of 2 tool calls (AGENT_MAX_TOOL_CALLS)"


def test_the_time_limit_is_enforced(user, hn_server, settings):
    settings.AGENT_TIMEOUT_MS = 200
    hn_server.delays["/topstories.json"] = 0.3
    task = run_inline(services.task_create(user=user, title="slow", plan=seed_hn_plan(hn_server.url)))
    assert task.status == "failed" and task.current_step == 0, "the slow first call was cut off at the limit"
    assert task.error == "step 1 (http.get) failed: task exceeded its time limit of 200 ms (AGENT_TIMEOUT_MS)"


def test_secrets_never_reach_the_trace_or_events(user, hn_server):
    plan = {"steps": [{"action": "http.get", "params": {"url": f"{hn_server.url}/topstories.json",
                                                        "headers": {"Authorization": "Bearer sk-live-secret"}}}]}
    task = run_inline(services.task_create(user=user, title="auth", plan=plan))
    assert task.status == "completed"
    assert "sk-live-secret" not in str(task_trace(task))
    assert "sk-live-secret" not in str(list(TaskExecution.objects.filter(task=task).values()))
    assert "sk-live-secret" not in str(list(TaskEvent.objects.filter(task=task).values()))


@pytest.mark.parametrize("kwargs, field, message", [
    ({"agent_type": "telepathy"}, "agentType", "unknown agent type 'telepathy'"),
    ({"agent_type": "research", "agent_config": {"count": 0}}, "agentConfig", "count: Input should be greater"),
    ({"plan": {"steps": [{"action": "http.get", "params": {"url": "{step3.result}"}}]}}, "plan",
     "refers to 'step3', which is not an earlier step"),
    ({"plan": {"steps": [{"action": "teleport.now"}]}}, "plan", "unknown tool 'teleport'"),
])
def test_bad_requests_are_refused_before_anything_is_stored(user, kwargs, field, message):
    with pytest.raises(services.InvalidTask) as error:
        services.task_create(user=user, title="bad", **kwargs)
    assert error.value.field == field and message in str(error.value)
    assert Task.objects.count() == 0


def test_a_free_form_goal_without_a_model_fails_clearly(user):
    task = run_inline(services.task_create(user=user, title="Find me a flat in Lisbon"))
    assert task.status == "failed"
    assert "a free-form goal needs a language model: set ANTHROPIC_API_KEY" in task.error


def test_replay_from_a_step_reuses_the_recorded_results(user, hn_server):
    first = run_inline(services.task_create(user=user, title="Daily HN Summary", plan=seed_hn_plan(hn_server.url)))
    requests_before = len(hn_server.requests)
    replay = services.task_replay(task=first, from_step=3)
    assert INLINE.wait_idle(timeout=30)
    replay.refresh_from_db()
    assert replay.status == "completed" and replay.id != first.id
    assert len(hn_server.requests) == requests_before, "steps 1-2 came from the recorded trace"
    assert len(mail.outbox) == 2
    assert list(TaskExecution.objects.filter(task=replay).values_list("step", flat=True)) == [1, 2, 3, 4]
