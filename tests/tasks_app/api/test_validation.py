"""Every bad request is a 4xx in the one error format, and its body names the problem."""
from __future__ import annotations

import json

import pytest
from django.test import override_settings

from tasks_app.models import Task

from .conftest import research_task

pytestmark = pytest.mark.django_db

TASKS = "/api/workspace/tasks"


def error_of(response, status):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


@pytest.mark.parametrize(("body", "field", "words"), [
    ({}, "title", "required"),
    ({"title": ""}, "title", "blank"),
    ({"title": "x" * 201}, "title", "200 characters"),
    ({"title": 5}, "title", "Not a valid string"),
    ({"title": "t", "priority": "whenever"}, "priority", "not a valid choice"),
    ({"title": "t", "tags": "daily"}, "tags", "list"),
    ({"title": "t", "tags": ["x" * 51]}, "tags.0", "50 characters"),
    ({"title": "t", "dueDate": "tomorrow"}, "dueDate", "format"),
    ({"title": "t", "agentConfig": "count=5"}, "agentConfig", "dictionary"),
    ({"title": "t", "projectId": "nope"}, "projectId", "no project"),
    ({"title": "t", "colour": "red"}, "colour", "unknown field"),
    (research_task(agentConfig={"schedule": "every morning"}), "agentConfig.schedule", "invalid cron"),
    (research_task(agentConfig={"schedule": "61 9 * * *"}), "agentConfig.schedule", "invalid cron"),
    (research_task(agentConfig={"count": 500}), "agentConfig", "count"),
    (research_task(agentType="astrology"), "agentType", "unknown agent type"),
    ({"title": "t", "plan": {"steps": [{"action": "teleport.now"}]}}, "plan", "teleport"),
    ({"title": "t", "agentConfig": {"note": "a\x00b"}}, "agentConfig", "NUL"),
])
def test_each_invalid_task_field_is_named(api, body, field, words):
    error = error_of(api.post(TASKS, body, format="json"), 400)
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    assert words.lower() in " ".join(error["fields"][field]).lower()
    assert field in error["message"]
    assert not Task.objects.exists()


def test_bad_json_is_400_parse_error(api):
    error = error_of(api.post(TASKS, '{"title": ', content_type="application/json"), 400)
    assert error["code"] == "parse_error" and "JSON" in error["message"]


def test_a_json_array_body_is_400(api):
    error = error_of(api.post(TASKS, "[1, 2]", content_type="application/json"), 400)
    assert "body" in error["fields"] and "dictionary" in error["message"]


def test_form_bodies_are_415(api):
    error = error_of(api.post(TASKS, {"title": "t"}), 415)
    assert error["code"] == "unsupported_media_type"


def test_unknown_paths_and_methods_answer_in_the_format(api):
    assert error_of(api.get("/api/nothing/here"), 404)["code"] == "not_found"
    assert error_of(api.put(TASKS, {}, format="json"), 405)["code"] == "method_not_allowed"


def test_execute_and_replay_bodies_are_checked(api, user):
    task = Task.objects.create(user=user, title="t")
    error = error_of(api.post(f"/api/agent/execute/{task.id}", {"async": "sometimes"}, format="json"), 400)
    assert "async" in error["fields"]
    error = error_of(api.post(f"/api/agent/execute/{task.id}", {"sync": True}, format="json"), 400)
    assert error["fields"] == {"sync": ["unknown field"]}
    error = error_of(api.post(f"/api/agent/{task.id}/replay", {"fromStep": 0}, format="json"), 400)
    assert "fromStep" in error["fields"]
    assert Task.objects.get(id=task.id).status == "pending"


def test_query_parameters_are_checked(api, user):
    task = Task.objects.create(user=user, title="t")
    assert "status" in error_of(api.get(TASKS, {"status": "sleeping"}), 400)["fields"]
    assert "ordering" in error_of(api.get(TASKS, {"ordering": "password"}), 400)["fields"]
    assert "pageSize" in error_of(api.get(TASKS, {"pageSize": 1000}), 400)["fields"]
    assert error_of(api.get(TASKS, {"page": 7}), 404)["code"] == "not_found"
    assert "after" in error_of(api.get(f"/api/agent/{task.id}/events", {"after": -1}), 400)["fields"]
    assert "after" in error_of(api.get(f"/api/agent/{task.id}/events", {"after": 2**40}), 400)["fields"]


def test_running_tasks_cannot_be_deleted_or_re_agented(api, user):
    task = Task.objects.create(user=user, title="t", status="executing", agent_type="research")
    error = error_of(api.delete(f"{TASKS}/{task.id}"), 409)
    assert error["code"] == "conflict" and "while it is executing" in error["message"]
    error = error_of(api.patch(f"{TASKS}/{task.id}", {"agentConfig": {"count": 2}}, format="json"), 409)
    assert "cancel it" in error["message"]
    edited = api.patch(f"{TASKS}/{task.id}", {"title": "renamed"}, format="json")
    assert edited.status_code == 200 and edited.json()["status"] == "executing"
    error = error_of(api.post(f"/api/agent/execute/{task.id}", format="json"), 409)
    assert "cannot start task" in error["message"]


def test_patch_validates_the_merged_agent(api, user):
    task = Task.objects.create(user=user, title="t", agent_type="research", agent_config={"count": 2})
    error = error_of(api.patch(f"{TASKS}/{task.id}", {"agentConfig": {"count": 0}}, format="json"), 400)
    assert "agentConfig" in error["fields"]
    error = error_of(api.patch(f"{TASKS}/{task.id}", {"agentConfig": {"schedule": "* *"}}, format="json"), 400)
    assert "agentConfig.schedule" in error["fields"]
    ok = api.patch(f"{TASKS}/{task.id}", {"agentConfig": {"count": 7, "schedule": "*/5 * * * *"}}, format="json")
    assert ok.status_code == 200 and ok.json()["agentConfig"]["count"] == 7


@override_settings(AGENT_RATE_CREATE="2/min", AGENT_RATE_EXECUTE="1/min")
def test_rate_limits_answer_429_with_retry_after(api, user):
    assert [api.post(TASKS, {"title": f"t{n}"}, format="json").status_code for n in range(2)] == [201, 201]
    limited = api.post(TASKS, {"title": "t3"}, format="json")
    error = error_of(limited, 429)
    assert error["code"] == "throttled" and 0 < int(limited["Retry-After"]) <= 60
    assert api.get(TASKS).status_code == 200  # reading is not limited
    task = Task.objects.create(user=user, title="t", status="completed")
    api.post(f"/api/agent/{task.id}/replay", format="json")  # counts against execution (400: no plan)
    error_of(api.post(f"/api/agent/execute/{task.id}", format="json"), 429)
    assert Task.objects.get(id=task.id).attempts == 0


def test_django_error_pages_on_api_paths_use_the_format(rf):
    from tasks_app.api import errors

    crashed = errors.server_error(rf.get("/api/workspace/tasks"))
    assert crashed.status_code == 500
    assert json.loads(crashed.content) == {"error": {"code": "server_error", "message": "internal server error",
                                                     "fields": {}}}
    assert json.loads(errors.bad_request(rf.get("/api/x"), ValueError()).content)["error"]["code"] == "bad_request"
    assert b"<h1>Server Error (500)</h1>" in errors.server_error(rf.get("/admin/")).content
