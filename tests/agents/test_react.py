"""Free-form goals: the real anthropic SDK against a local Messages API, one tool call per step."""
from __future__ import annotations

import pytest

from tasks_app import services
from tasks_app.models import TaskExecution
from tests.fakes.anthropic_server import reply_error, reply_text, reply_tool_use

from .helpers import run_inline

pytestmark = pytest.mark.usefixtures("inline_engine")

GOAL = "What are the top 2 stories on Hacker News right now?"
# These runs are ReAct from the start (no plan first): agentConfig.planning "react" opts out of
# model planning (tests/agents/test_model_planner.py covers the planned runs).
REACT = {"planning": "react"}


def test_a_multi_step_react_run(user, hn_server, fake_anthropic):
    fake_anthropic.enqueue(
        reply_tool_use("http__get", {"url": f"{hn_server.url}/topstories.json"},
                       text="I will fetch the top story ids.", input_tokens=100, output_tokens=20),
        reply_tool_use("http__getBatch", {"ids": [9001, 9002], "urlTemplate": f"{hn_server.url}/item/{{id}}.json"},
                       text="Now the two stories.", input_tokens=200, output_tokens=30),
        reply_text("The top stories are Story number 1 and Story number 2.", input_tokens=300, output_tokens=15),
    )
    task = run_inline(services.task_create(user=user, title=GOAL, agent_model="claude-test-model",
                                           agent_config=REACT))
    assert task.status == "completed", task.error
    assert task.result["summary"] == "The top stories are Story number 1 and Story number 2."
    rows = list(TaskExecution.objects.filter(task=task).order_by("step"))
    assert [(r.action, r.reasoning) for r in rows] == [("http.get", "I will fetch the top story ids."),
                                                     ("http.getBatch", "Now the two stories.")]
    assert [r.tokens for r in rows] == [120, 230]
    assert task.total_tokens == 120 + 230 + 315, "the final answer's tokens count too"
    requests = fake_anthropic.message_requests
    assert len(requests) == 3 and {r.json["model"] for r in requests} == {"claude-test-model"}
    assert requests[0].messages == [{"role": "user", "content": GOAL}]
    assert any(tool["name"] == "http__getBatch" for tool in requests[0].json["tools"])
    # the observation of step 2 is what the model read before answering
    last_result = requests[2].tool_results()[-1]
    assert "Story number 2" in str(last_result["content"]) and not last_result.get("is_error")


def test_a_tool_error_goes_back_to_the_model_which_adapts(user, hn_server, fake_anthropic):
    def responder(request):
        results = [b for m in request["messages"] if isinstance(m["content"], list)
                   for b in m["content"] if b.get("type") == "tool_result"]
        if not results:
            return reply_tool_use("http__get", {"url": f"{hn_server.url}/beststories-typo.json"}, text="Try this.")
        if results[-1].get("is_error"):
            return reply_tool_use("http__get", {"url": f"{hn_server.url}/topstories.json"},
                                  text="That URL failed; the documented one is topstories.")
        return reply_text("Found 8 story ids.")

    fake_anthropic.responder = responder
    task = run_inline(services.task_create(user=user, title=GOAL, agent_config=REACT))
    assert task.status == "completed", task.error
    rows = list(TaskExecution.objects.filter(task=task).order_by("step"))
    assert [r.status for r in rows] == ["failed", "completed"]
    assert "answered 404" in rows[0].error
    error_result = fake_anthropic.message_requests[1].tool_results()[0]
    assert error_result["is_error"] is True and "answered 404" in str(error_result["content"])
    assert task.result["summary"] == "Found 8 story ids."


def test_api_errors_are_retried_by_the_client(user, hn_server, fake_anthropic):
    fake_anthropic.enqueue(
        reply_error(429, retry_after=0.001),
        reply_error(500, retry_after=0.001),
        reply_text("Nothing to do: the answer is 42."),
    )
    task = run_inline(services.task_create(user=user, title="What is the answer?", agent_config=REACT))
    assert task.status == "completed", task.error
    assert [r.status for r in fake_anthropic.message_requests] == [429, 500, 200]
    assert task.result["summary"] == "Nothing to do: the answer is 42."


def test_when_the_clients_retries_run_out_the_step_is_retried_later(user, fake_anthropic, settings):
    settings.AGENT_MAX_RETRIES = 1  # the client tries twice, then the engine's own backoff takes over
    fake_anthropic.enqueue(reply_error(529, retry_after=0.001), reply_error(500, retry_after=0.001),
                           reply_text("Done after the outage."))
    task = run_inline(services.task_create(user=user, title="ride out an outage", agent_config=REACT))
    assert task.status == "completed", task.error
    assert [r.status for r in fake_anthropic.message_requests] == [529, 500, 200]
    retried = TaskExecution.objects.get(task=task, step=1)
    assert retried.action == "llm.reason" and retried.attempts == 1 and "the model did not answer" in retried.error


def test_a_permanent_api_error_fails_the_task_with_its_reason(user, fake_anthropic):
    fake_anthropic.enqueue(reply_error(400, "invalid_request_error", "max_tokens is too large"))
    task = run_inline(services.task_create(user=user, title="anything", agent_config=REACT))
    assert task.status == "failed"
    assert "BadRequestError" in task.error and "max_tokens is too large" in task.error
    assert "sk-test-fake" not in task.error


def test_a_tool_the_registry_lacks_is_observed_as_an_error(user, fake_anthropic):
    fake_anthropic.enqueue(reply_tool_use("fax__send", {"to": "123"}, text="Fax it."),
                           reply_tool_use("finish", {"goalMet": False, "result": "I cannot fax."}))
    task = run_inline(services.task_create(user=user, title="fax the report", agent_config=REACT))
    row = TaskExecution.objects.get(task=task, step=1)
    assert row.status == "failed" and "unknown tool 'fax'" in row.error
    assert task.status == "failed" and task.error == "the goal was not met: I cannot fax."
    assert any(tool["name"] == "finish" for tool in fake_anthropic.message_requests[0].json["tools"])


def test_plain_text_after_a_failed_last_step_is_not_a_success(user, fake_anthropic):
    fake_anthropic.enqueue(reply_tool_use("fax__send", {"to": "123"}, text="Fax it."),
                           reply_text("I cannot fax; done."))
    task = run_inline(services.task_create(user=user, title="fax the report", agent_config=REACT))
    assert task.status == "failed"
    assert task.error == "step 1 (fax.send) failed and the model ended: I cannot fax; done."


def test_finishing_with_the_goal_met_completes_with_its_result(user, hn_server, fake_anthropic):
    fake_anthropic.enqueue(
        reply_tool_use("http__get", {"url": f"{hn_server.url}/topstories.json"}, text="Fetch the ids."),
        reply_tool_use("finish", {"goalMet": True, "result": "8 stories are on the front page."}),
    )
    task = run_inline(services.task_create(user=user, title="How many stories?", agent_config=REACT))
    assert task.status == "completed", task.error
    assert task.result["summary"] == "8 stories are on the front page."


def test_a_plan_step_that_fails_is_adapted_by_the_model(user, hn_server, fake_anthropic):
    """The seed: a tool error (selector not found, a 404) -> adapt the approach, try an alternative."""
    plan = {"steps": [{"action": "http.get", "description": "Fetch the best stories",
                       "params": {"url": f"{hn_server.url}/beststories.json"}},
                      {"action": "ai.summarize", "params": {"items": "{step1.result}"}}]}
    fake_anthropic.enqueue(
        reply_tool_use("http__get", {"url": f"{hn_server.url}/topstories.json"},
                       text="beststories is missing; topstories has what we need."),
        reply_tool_use("finish", {"goalMet": True, "result": "Fetched 8 top stories instead of the best ones."}),
    )
    task = run_inline(services.task_create(user=user, title="HN digest", plan=plan))
    assert task.status == "completed", task.error
    rows = list(TaskExecution.objects.filter(task=task).order_by("step"))
    assert [(r.action, r.status) for r in rows] == [("http.get", "failed"), ("http.get", "completed")]
    assert task.plan["mode"] == "react" and task.plan["adaptedAtStep"] == 1
    assert task.result["summary"] == "Fetched 8 top stories instead of the best ones."
    first = fake_anthropic.message_requests[0]
    assert "You were following this plan, and step 1 failed" in first.messages[0]["content"]
    assert "answered 404" in str(first.tool_results()[0]["content"]) and first.tool_results()[0]["is_error"]


@pytest.mark.parametrize(("ending", "error"), [
    (reply_text("Saved nothing, but here is a summary of the leads instead."),
     "step 1 (http.get) failed and the model ended without confirming that the goal was met: Saved nothing"),
    (reply_tool_use("finish", {"goalMet": False, "result": "The CRM refused every row."}),
     "the goal was not met: The CRM refused every row."),
])
def test_an_adapted_run_that_does_not_confirm_its_goal_fails(user, hn_server, fake_anthropic, ending, error):
    """Issue 10: a failed save "adapted" into a text answer must not end `completed`."""
    plan = {"steps": [{"action": "http.get", "description": "Fetch the leads to save",
                       "params": {"url": f"{hn_server.url}/leads-missing.json"}}]}
    fake_anthropic.enqueue(ending)
    task = run_inline(services.task_create(user=user, title="Save leads", plan=plan,
                                           agent_config={"adapt": True}))
    assert task.status == "failed", task.result
    assert task.error.startswith(error), task.error


def test_adapting_can_be_turned_off(user, hn_server, fake_anthropic):
    plan = {"steps": [{"action": "http.get", "params": {"url": f"{hn_server.url}/beststories.json"}}]}
    task = run_inline(services.task_create(user=user, title="strict", plan=plan, agent_config={"adapt": False}))
    assert task.status == "failed" and "answered 404" in task.error
    assert fake_anthropic.message_requests == []


def test_a_408_from_the_model_is_transient_and_retried_by_the_engine(user, fake_anthropic, settings):
    settings.AGENT_MAX_RETRIES = 1  # the client tries twice, then the engine's own backoff takes over
    fake_anthropic.enqueue(reply_error(408, "timeout_error", "request timed out", retry_after=0.001),
                           reply_error(408, "timeout_error", "request timed out", retry_after=0.001),
                           reply_text("Done."))
    task = run_inline(services.task_create(user=user, title="survive a request timeout", agent_config=REACT))
    assert task.status == "completed", task.error
    assert [r.status for r in fake_anthropic.message_requests] == [408, 408, 200]


def test_every_step_reuses_one_provider_client(fake_anthropic):
    from agents.llm import get_provider

    first = get_provider()
    assert get_provider() is first and first.client is get_provider().client
