"""The model plans a free-form goal through submit_plan, repairs a rejected plan, and replans the rest
of a run that hit a planning error: the real anthropic SDK against a local Messages API."""
from __future__ import annotations

import pytest

from agents import credits
from tasks_app import services
from tasks_app.models import PlanVersion, TaskEvent, TaskExecution
from tasks_app.selectors import task_trace
from tests.fakes.anthropic_server import reply_tool_use

from .helpers import run_inline

pytestmark = pytest.mark.usefixtures("inline_engine")

GOAL = "Which are the top 2 stories on Hacker News right now?"


def two_step_plan(hn_url: str, ids: str = "{ids.result.slice(0,2)}") -> dict:
    return {"steps": [
        {"id": "ids", "action": "http.get", "description": "The top story ids",
         "params": {"url": f"{hn_url}/topstories.json"}},
        {"id": "stories", "action": "http.getBatch", "description": "The first two stories",
         "params": {"ids": ids, "urlTemplate": f"{hn_url}/item/{{id}}.json"}, "dependsOn": ["ids"]},
    ], "estimatedCredits": 25, "estimatedDuration": 2_000}


def results_of(request) -> list[dict]:
    return request.tool_results()


def test_a_free_form_goal_is_planned_through_submit_plan_before_the_first_step(user, hn_server, fake_anthropic):
    fake_anthropic.enqueue(reply_tool_use("submit_plan", two_step_plan(hn_server.url), text="Two fetches will do.",
                                          input_tokens=1_500, output_tokens=300))
    task = run_inline(services.task_create(user=user, title=GOAL, agent_model="claude-test-model"))
    assert task.status == "completed", task.error
    assert [s["title"] for s in task.result["outputs"]["stories"]] == ["Story number 1", "Story number 2"]
    # the plan, its version and its tokens were stored before step 1, and every event knew the step count
    events = list(TaskEvent.objects.filter(task=task).order_by("seq"))
    plan_event = next(e for e in events if e.type == "plan")
    first_step = next(e for e in events if e.type == "step")
    assert plan_event.seq < first_step.seq and plan_event.payload["totalSteps"] == 2
    assert [e.payload["progress"] for e in events if e.type == "step"] == [50, 100]
    assert first_step.payload["totalSteps"] == 2
    assert task.total_steps == 2 and task.plan_tokens == 1_800
    assert task.plan_credits == credits.token_credits("claude-test-model", 1_500, 300) > 0
    [version] = PlanVersion.objects.filter(task=task)
    assert (version.version, version.kind, version.source, version.tokens) == (1, "initial", "model", 1_800)
    assert [s["action"] for s in version.plan["steps"]] == ["http.get", "http.getBatch"]
    assert set(TaskExecution.objects.filter(task=task).values_list("plan_version", flat=True)) == {1}
    # what the model was asked: the goal and accounts, the catalog with schemas, submit_plan's schema
    [request] = fake_anthropic.message_requests
    assert [t["name"] for t in request.json["tools"]] == ["submit_plan", "explore"]
    schema = request.json["tools"][0]["input_schema"]
    assert {"steps", "estimatedCredits", "estimatedDuration"} <= set(schema["properties"])
    assert {"id", "action", "params", "dependsOn", "when"} <= set(schema["properties"]["steps"]["items"]["properties"])
    assert '"action": "http.getBatch"' in request.json["system"] and '"urlTemplate"' in request.json["system"]
    assert GOAL in request.messages[0]["content"] and "Connected accounts: none" in request.messages[0]["content"]
    assert request.json["model"] == "claude-test-model"


def test_a_rejected_plan_goes_back_with_its_errors_and_the_repair_runs(user, hn_server, fake_anthropic):
    bad = {"steps": [{"action": "fax.send", "params": {"to": "123"}},
                     {"action": "http.get", "params": {"link": f"{hn_server.url}/topstories.json"}}]}
    fake_anthropic.enqueue(reply_tool_use("submit_plan", bad),
                           reply_tool_use("submit_plan", two_step_plan(hn_server.url)))
    task = run_inline(services.task_create(user=user, title=GOAL))
    assert task.status == "completed", task.error
    _, second = fake_anthropic.message_requests
    [sent_back] = results_of(second)
    assert sent_back["is_error"] is True
    assert sent_back["tool_use_id"] == second.messages[1]["content"][0]["id"]  # the call it answers
    assert "step 1 (fax.send): unknown tool 'fax'" in sent_back["content"]
    assert "step 2 (http.get): params.url: Field required (the input of http.get)" in sent_back["content"]
    assert "params.link: Extra inputs are not permitted" in sent_back["content"]
    version = PlanVersion.objects.get(task=task)
    assert version.reason == "the model planned 2 step(s) after 1 repair(s)"
    assert task.plan_tokens > 0 and task.total_steps == 2


def test_a_plan_still_invalid_after_the_replans_fails_clearly(user, hn_server, fake_anthropic, settings):
    settings.AGENT_MAX_REPLANS = 1
    bad = {"steps": [{"action": "http.get", "params": {"url": "{step2.result}"}}, {"action": "http.get"}]}
    fake_anthropic.enqueue(reply_tool_use("submit_plan", bad), reply_tool_use("submit_plan", bad))
    task = run_inline(services.task_create(user=user, title=GOAL))
    assert task.status == "failed"
    assert task.error.startswith("planning failed: the model gave no valid plan in 2 tries (AGENT_MAX_REPLANS): ")
    assert "step 1 (http.get): refers to 'step2', which is not an earlier step" in task.error
    assert len(fake_anthropic.message_requests) == 2 and TaskExecution.objects.filter(task=task).count() == 0
    assert task.plan_tokens > 0 and task.plan_credits > 0, "the tries spent tokens, and they are charged"
    assert task.total_credits == task.plan_credits


def test_a_reference_that_does_not_resolve_replans_the_rest_and_the_task_completes(user, hn_server, fake_anthropic):
    def responder(request):
        if len(fake_anthropic.message_requests) == 1:  # planning: a field that the ids list lacks
            return reply_tool_use("submit_plan", two_step_plan(hn_server.url, ids="{ids.result.items}"))
        asked = request["messages"][0]["content"]
        assert "step2 (id stories): http.getBatch" in asked and "FAILED: {ids.result.items}" in asked
        assert "result: [9001, 9002" in asked  # step 1's result, for the model to plan from
        return reply_tool_use("submit_plan", {"steps": [
            {"action": "http.getBatch", "params": {"ids": "{step1.result.slice(0,2)}",
                                                   "urlTemplate": f"{hn_server.url}/item/{{id}}.json"}}]},
            input_tokens=900, output_tokens=100)

    fake_anthropic.responder = responder
    task = run_inline(services.task_create(user=user, title=GOAL))
    assert task.status == "completed", task.error
    rows = list(TaskExecution.objects.filter(task=task).order_by("step"))
    assert [(r.action, r.status, r.plan_version) for r in rows] == [
        ("http.get", "completed", 1), ("http.getBatch", "failed", 1), ("http.getBatch", "completed", 2)]
    assert "no field 'items'" in rows[1].error
    assert [s["title"] for s in rows[2].output] == ["Story number 1", "Story number 2"]
    versions = list(PlanVersion.objects.filter(task=task).order_by("version"))
    assert [(v.version, v.kind, v.at_step) for v in versions] == [(1, "initial", 0), (2, "replan", 2)]
    assert versions[1].reason.startswith("step 2 (http.getBatch) failed: ") and versions[1].tokens == 1_000
    assert len(versions[1].plan["steps"]) == 3 and task.total_steps == 3
    assert task.plan_tokens == versions[0].tokens + 1_000
    trace = task_trace(task)
    assert [p["version"] for p in trace["plans"]] == [1, 2] and trace["plans"][1]["kind"] == "replan"
    assert [s["planVersion"] for s in trace["steps"]] == [1, 1, 2]
    assert fake_anthropic.message_requests[1].json["tools"][0]["name"] == "submit_plan"


def test_an_input_the_tool_rejects_in_a_persons_plan_is_replanned_and_their_plan_kept(user, hn_server,
                                                                                        fake_anthropic):
    plan = {"steps": [{"action": "http.get", "params": {"link": f"{hn_server.url}/topstories.json"}}]}
    fake_anthropic.enqueue(reply_tool_use("submit_plan", {"steps": [
        {"action": "http.get", "params": {"url": f"{hn_server.url}/topstories.json"}}]}))
    task = run_inline(services.task_create(user=user, title="the top ids", plan=plan))
    assert task.status == "completed", task.error
    assert [r.status for r in TaskExecution.objects.filter(task=task).order_by("step")] == ["failed", "completed"]
    asked = fake_anthropic.message_requests[0].messages[0]["content"]
    assert "invalid input for http.get: url: Field required" in asked
    assert task.plan["planning"]["by"] == "user" and task.plan["planning"]["base"]["steps"][0]["params"] == {
        "link": f"{hn_server.url}/topstories.json"}, "the next run starts from the person's plan again"
    assert [v.source for v in PlanVersion.objects.filter(task=task).order_by("version")] == ["user", "model"]


def test_replanning_stops_at_the_limit_with_the_reason(user, hn_server, fake_anthropic, settings):
    settings.AGENT_MAX_REPLANS = 1
    broken = {"steps": [{"action": "http.get", "params": {"url": "{step1.result.nothing}"}}]}
    fake_anthropic.enqueue(reply_tool_use("submit_plan", broken))
    plan = {"steps": [{"action": "http.get", "params": {"url": f"{hn_server.url}/topstories.json"}},
                      {"action": "http.get", "params": {"url": "{step1.result.missing}"}}]}
    task = run_inline(services.task_create(user=user, title="ids", plan=plan))
    assert task.status == "failed"
    assert task.error.startswith("step 3 (http.get) has a wrong plan: {step1.result.nothing}")
    assert task.error.endswith("(replanned 1 times already, the most AGENT_MAX_REPLANS allows)")
    assert len(fake_anthropic.message_requests) == 1


def test_offline_a_planning_error_fails_with_its_reason(user, hn_server):
    plan = {"steps": [{"action": "http.get", "params": {"url": f"{hn_server.url}/topstories.json"}},
                      {"action": "http.get", "params": {"url": "{step1.result.missing}"}}]}
    task = run_inline(services.task_create(user=user, title="ids", plan=plan))
    assert task.status == "failed" and task.error.startswith("step 2 (http.get) has a wrong plan: ")
    assert "no field 'missing'" in task.error


def test_the_model_ends_a_replan_honestly_when_the_goal_cannot_be_met(user, hn_server, fake_anthropic):
    plan = {"steps": [{"action": "http.get", "params": {"url": f"{hn_server.url}/beststories.json"}},
                      {"action": "ai.summarize", "params": {"items": "{step1.result}"}}]}
    fake_anthropic.enqueue(reply_tool_use("submit_plan", plan),
                           reply_tool_use("finish", {"goalMet": False, "result": "There is no best-stories list."}))
    task = run_inline(services.task_create(user=user, title="Summarize the best HN stories"))
    assert task.status == "failed" and task.error == "the goal was not met: There is no best-stories list."
    second = fake_anthropic.message_requests[1]
    assert [t["name"] for t in second.json["tools"]] == ["submit_plan", "explore", "finish"]
    assert "answered 404" in second.messages[0]["content"]
    assert task_trace(task)["plans"][-1]["decision"] == "finish" and task.plan_tokens > 0


def test_an_empty_result_the_plan_relies_on_is_refined(user, hn_server, fake_anthropic):
    plan = {"steps": [{"id": "first", "action": "http.get", "params": {"url": f"{hn_server.url}/item/1.json"}},
                      {"action": "http.get", "params": {"url": "{first.result.url}"}}]}
    fake_anthropic.enqueue(reply_tool_use("submit_plan", plan), reply_tool_use("submit_plan", {"steps": [
        {"action": "http.get", "params": {"url": f"{hn_server.url}/item/9001.json"}}]}))
    task = run_inline(services.task_create(user=user, title="the first story"))
    assert task.status == "completed", task.error
    refined = PlanVersion.objects.get(task=task, version=2)
    assert refined.kind == "refine" and refined.at_step == 1 and "found nothing (null)" in refined.reason
    assert [t["name"] for t in fake_anthropic.message_requests[1].json["tools"]] == [
        "submit_plan", "keep_plan", "finish"]
    assert TaskExecution.objects.get(task=task, step=2).output["title"] == "Story number 1"


def test_a_refinement_may_keep_the_plan(user, hn_server, fake_anthropic):
    plan = {"steps": [{"id": "first", "action": "http.get", "params": {"url": f"{hn_server.url}/item/1.json"}},
                      {"action": "http.get", "when": "{first.result}",
                       "params": {"url": f"{hn_server.url}/item/9001.json"}}]}
    fake_anthropic.enqueue(reply_tool_use("submit_plan", plan), reply_tool_use("keep_plan", {"reason": "fine"}))
    task = run_inline(services.task_create(user=user, title="the first story, if any"))
    assert task.status == "completed", task.error
    assert TaskExecution.objects.get(task=task, step=2).output["skipped"] is True
    assert PlanVersion.objects.filter(task=task).count() == 1
    assert task_trace(task)["plans"][-1]["decision"] == "keep" and task.plan["planning"]["replans"] == 1


def test_the_model_may_explore_instead_of_planning(user, hn_server, fake_anthropic):
    fake_anthropic.enqueue(
        reply_tool_use("explore", {"reason": "Which page to read depends on the first one."}),
        reply_tool_use("http__get", {"url": f"{hn_server.url}/topstories.json"}, text="Start with the ids."),
        reply_tool_use("finish", {"goalMet": True, "result": "8 stories."}),
    )
    task = run_inline(services.task_create(user=user, title="How many stories?"))
    assert task.status == "completed", task.error
    assert task.plan["mode"] == "react" and task.result["summary"] == "8 stories."
    version = PlanVersion.objects.get(task=task)
    assert version.reason == "the model chose to explore: Which page to read depends on the first one."


def test_a_planning_model_can_be_named(user, hn_server, fake_anthropic, settings):
    settings.AGENT_PLANNING_MODEL = "claude-opus-test"
    fake_anthropic.enqueue(reply_tool_use("submit_plan", two_step_plan(hn_server.url)))
    task = run_inline(services.task_create(user=user, title=GOAL, agent_model="claude-test-model"))
    assert task.status == "completed", task.error
    assert fake_anthropic.message_requests[0].json["model"] == "claude-opus-test"
    assert PlanVersion.objects.get(task=task).model == "claude-opus-test"


def test_offline_a_free_form_goal_needs_a_language_model(user):
    task = run_inline(services.task_create(user=user, title="Find me a flat in Lisbon"))
    assert task.status == "failed"
    assert task.error == ("planning failed: a free-form goal needs a language model: set ANTHROPIC_API_KEY, or "
                          "give the task an agentType or an explicit plan")


def test_a_typed_agent_keeps_its_template_offline_even_when_asked_for_the_model(user, hn_server):
    task = run_inline(services.task_create(user=user, title="Daily HN", agent_type="research",
                                           agent_config={"sources": ["hackernews"], "count": 2,
                                                         "planning": "model"}))
    assert task.status == "completed", task.error
    assert PlanVersion.objects.get(task=task).reason == "the research template (no model configured to plan it)"


def test_a_typed_agent_is_planned_by_the_model_with_its_template_as_guidance(user, hn_server, fake_anthropic):
    fake_anthropic.enqueue(reply_tool_use("submit_plan", two_step_plan(hn_server.url)))
    task = run_inline(services.task_create(user=user, title="Daily HN", agent_type="research",
                                           agent_config={"sources": ["hackernews"], "count": 2,
                                                         "planning": "model"}))
    assert task.status == "completed", task.error
    asked = fake_anthropic.message_requests[0].messages[0]["content"]
    assert "This is a research agent." in asked and '"action": "ai.summarize"' in asked
    assert PlanVersion.objects.get(task=task).source == "model"
    assert len(task.result["outputs"]["stories"]) == 2, "the model's own steps, not the template's result shape"


def test_a_bad_planning_mode_is_refused_at_creation(user):
    with pytest.raises(services.InvalidTask) as error:
        services.task_create(user=user, title="x", agent_config={"planning": "guess"})
    assert error.value.field == "agentConfig" and "planning must be model, react or template" in str(error.value)


def test_the_task_api_shows_plan_tokens_and_versions(user, hn_server, fake_anthropic):
    from tests.tasks_app.api.conftest import client_for

    fake_anthropic.enqueue(reply_tool_use("submit_plan", two_step_plan(hn_server.url), input_tokens=700,
                                          output_tokens=50))
    task = run_inline(services.task_create(user=user, title=GOAL))
    api = client_for(user)
    body = api.get(f"/api/workspace/tasks/{task.id}").json()
    assert body["planTokens"] == 750 and body["planCredits"] == task.plan_credits > 0
    plans = api.get(f"/api/agent/{task.id}/plans").json()
    assert plans["run"] == 1 and [(v["version"], v["source"]) for v in plans["versions"]] == [(1, "model")]
    steps = api.get(f"/api/workspace/tasks/{task.id}/executions").json()
    assert {s["planVersion"] for s in steps} == {1}
