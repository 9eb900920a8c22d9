"""The seed's flow through the API, with the embedded runner: create, run, watch, control, replay."""
from __future__ import annotations

import pytest
from django.core import mail

from agents.dispatch import INLINE
from tasks_app.models import Task

from .conftest import client_for, research_task

pytestmark = pytest.mark.usefixtures("inline_engine", "hn_server")


def idle():
    assert INLINE.wait_idle(timeout=30)


def test_token_then_create_run_and_read_the_seed_flow(anon_api, user):
    token = anon_api.post("/api/auth/token", {"username": "ada", "password": "pw-ada-123"}, format="json")
    assert token.status_code == 200, token.content
    api = client_for()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")

    project = api.post("/api/workspace/projects", {"name": "News"}, format="json")
    assert project.status_code == 201 and project.json()["name"] == "News"
    created = api.post("/api/workspace/tasks", research_task(projectId=project.json()["id"], tags=["daily"]),
                       format="json")
    assert created.status_code == 201, created.content
    task = created.json()
    assert task["status"] == "pending" and task["agentType"] == "research" and task["projectId"] == project.json()["id"]
    assert task["agentConfig"]["schedule"] == "0 9 * * *" and task["tags"] == ["daily"] and task["priority"] == "medium"

    done = api.post(f"/api/agent/execute/{task['id']}", {"async": False}, format="json")
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["status"] == "completed" and body["progress"] == 100 and body["totalSteps"] == 4
    assert body["result"]["storiesProcessed"] == 5
    assert [s["action"] for s in body["steps"]] == ["http.get", "http.getBatch", "ai.summarize", "email.send"]
    summaries = [m for m in mail.outbox if m.subject == "Your Daily HN Summary"]
    assert len(summaries) == 1 and summaries[0].to == ["ada@example.com"] and "Story number 5" in summaries[0].body

    status = api.get(f"/api/agent/status/{task['id']}")
    assert status.status_code == 200
    stored = Task.objects.get(id=task["id"])
    assert status.json() == {
        "taskId": stored.id, "status": "completed", "currentStep": 4, "totalSteps": 4, "progress": 100,
        "executionTime": stored.execution_time, "creditsUsed": stored.total_credits,
        "tokensUsed": stored.total_tokens, "error": None, "pauseReason": None, "creditBudget": None,
        "estimatedCredits": body["estimatedCredits"], "estimatedDuration": body["estimatedDuration"],
        "irreversibleSteps": body["irreversibleSteps"],
    }

    trace = api.get(f"/api/agent/{task['id']}/trace").json()
    assert trace["taskId"] == task["id"] and [s["action"] for s in trace["steps"]][-1] == "email.send"
    steps = api.get(f"/api/workspace/tasks/{task['id']}/executions").json()
    assert [(s["step"], s["status"]) for s in steps] == [(1, "completed"), (2, "completed"), (3, "completed"),
                                                       (4, "completed")]

    listed = api.get("/api/workspace/tasks", {"status": "completed", "tag": "daily", "agentType": "research",
                                             "projectId": project.json()["id"]}).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == task["id"]
    assert api.get("/api/workspace/tasks", {"tag": "weekly"}).json()["count"] == 0


def test_events_are_numbered_without_gaps_and_refill_after_a_seq(api):
    task = api.post("/api/workspace/tasks", research_task(), format="json").json()
    assert api.post(f"/api/agent/execute/{task['id']}", {"async": True}, format="json").status_code == 202
    idle()
    events = api.get(f"/api/agent/{task['id']}/events").json()
    seqs = [e["seq"] for e in events["events"]]
    assert seqs == list(range(1, len(seqs) + 1)) and events["lastSeq"] == seqs[-1]
    statuses = [e["status"] for e in events["events"] if e["type"] == "status"]
    assert statuses == ["planning", "executing", "completed"]
    assert [e["step"] for e in events["events"] if e["type"] == "step"] == [1, 2, 3, 4]
    later = api.get(f"/api/agent/{task['id']}/events", {"after": 3}).json()["events"]
    assert [e["seq"] for e in later] == seqs[3:]


def test_async_execute_answers_202_with_the_status_then_completes(api):
    task = api.post("/api/workspace/tasks", research_task(agentConfig={"count": 2, "email": False}),
                    format="json").json()
    started = api.post(f"/api/agent/execute/{task['id']}", {}, format="json")
    assert started.status_code == 202
    assert started.json()["taskId"] == task["id"] and started.json()["status"] == "planning"
    idle()
    final = api.get(f"/api/workspace/tasks/{task['id']}").json()
    assert final["status"] == "completed" and final["result"]["storiesProcessed"] == 2 and final["attempts"] == 1


def test_pause_resume_cancel_and_409_when_not_allowed(api, hn_server):
    hn_server.delays["/item/"] = 0.3  # step 2 takes a while: time to pause between steps
    task = api.post("/api/workspace/tasks", research_task(), format="json").json()
    api.post(f"/api/agent/execute/{task['id']}", format="json")
    paused = api.post(f"/api/agent/{task['id']}/pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    again = api.post(f"/api/agent/{task['id']}/pause")
    assert again.status_code == 409 and "cannot pause task" in again.json()["error"]["message"]
    assert again.json()["error"]["code"] == "conflict"
    resumed = api.post(f"/api/agent/{task['id']}/resume")
    assert resumed.status_code == 200 and resumed.json()["status"] == "executing"
    cancelled = api.post(f"/api/agent/{task['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    idle()
    assert api.get(f"/api/agent/status/{task['id']}").json()["status"] == "cancelled"
    refused = api.post(f"/api/agent/{task['id']}/resume")
    assert refused.status_code == 409
    assert "cannot resume task" in refused.json()["error"]["message"] and "it is cancelled" in \
        refused.json()["error"]["message"]


def test_resume_a_completed_task_is_409_and_retry_and_replay_run_again(api):
    task = api.post("/api/workspace/tasks", research_task(agentConfig={"count": 3, "email": False}),
                    format="json").json()
    assert api.post(f"/api/agent/execute/{task['id']}", {"async": False}, format="json").status_code == 200
    refused = api.post(f"/api/agent/{task['id']}/resume")
    assert refused.status_code == 409 and "it is completed" in refused.json()["error"]["message"]

    retried = api.post(f"/api/agent/execute/{task['id']}", {"async": False}, format="json")
    assert retried.status_code == 200 and retried.json()["status"] == "completed"
    assert api.get(f"/api/workspace/tasks/{task['id']}").json()["attempts"] == 2

    replay = api.post(f"/api/agent/{task['id']}/replay", {"fromStep": 2}, format="json")
    assert replay.status_code == 201, replay.content
    assert replay.json()["id"] != task["id"] and f"replay-of:{task['id']}" in replay.json()["tags"]
    idle()
    replayed = api.get(f"/api/agent/status/{replay.json()['id']}").json()
    assert replayed["status"] == "completed" and replayed["totalSteps"] == 3
    bad = api.post(f"/api/agent/{task['id']}/replay", {"fromStep": 9}, format="json")
    assert bad.status_code == 400 and "fromStep" in bad.json()["error"]["fields"]


def test_edit_delete_and_metrics(api):
    task = api.post("/api/workspace/tasks", research_task(agentConfig={"count": 1, "email": False}),
                    format="json").json()
    edited = api.patch(f"/api/workspace/tasks/{task['id']}", {"title": "Hourly HN", "priority": "high"},
                       format="json")
    assert edited.status_code == 200 and edited.json()["title"] == "Hourly HN" and edited.json()["priority"] == "high"
    api.post(f"/api/agent/execute/{task['id']}", {"async": False}, format="json")
    metrics = api.get("/api/agent/metrics").json()
    assert metrics["byStatus"] == {"completed": 1} and metrics["successRate"] == 100.0
    assert metrics["errorRate"] == 0.0 and metrics["queueDepth"] == 0 and metrics["activeAgents"] == 0
    assert metrics["byAgentType"][0]["agentType"] == "research" and metrics["byAgentType"][0]["completed"] == 1
    assert metrics["creditsUsed"]["last24h"] > 0
    assert metrics["creditsUsed"]["last24h"] == metrics["creditsUsed"]["last30d"]

    assert api.delete(f"/api/workspace/tasks/{task['id']}").status_code == 204
    gone = api.get(f"/api/workspace/tasks/{task['id']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert not Task.objects.filter(id=task["id"]).exists()


def test_tools_catalog(api):
    tools = api.get("/api/tools").json()
    actions = {t["action"] for t in tools}
    assert {"http.get", "ai.summarize", "email.send"} <= actions
    assert all({"sideEffect", "credits", "inputSchema"} <= set(t) for t in tools)
