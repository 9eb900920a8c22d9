"""The dead-letter API: list, inspect and requeue failed runs; owners only."""
from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from agents.dispatch import INLINE
from tasks_app import services
from tasks_app.models import DeadLetter

pytestmark = pytest.mark.usefixtures("inline_engine")


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def test_a_failed_run_is_listed_inspected_and_requeued(user, django_user_model, hn_server, settings):
    settings.AGENT_MAX_RETRIES = 0
    hn_server.fail_next["/topstories.json"] = [503]
    plan = {"steps": [{"action": "http.get", "params": {"url": f"{hn_server.url}/topstories.json"}}]}
    task = services.task_execute(task=services.task_create(user=user, title="flaky", plan=plan))
    assert INLINE.wait_idle(timeout=30)
    api = client_for(user)

    listed = api.get("/api/dead-letters", {"requeued": "false"}).json()
    assert listed["count"] == 1
    [letter] = listed["results"]
    assert (letter["taskId"], letter["run"], letter["step"], letter["action"]) == (task.id, 1, 1, "http.get")
    assert "answered 503" in letter["error"] and letter["taskStatus"] == "failed" and letter["requeuedAt"] is None
    assert api.get(f"/api/dead-letters/{letter['id']}").json()["trace"]["steps"][-1]["status"] == "failed"

    eve = django_user_model.objects.create_user(username="eve", email="eve@example.com", password="pw-eve-123")
    assert client_for(eve).get("/api/dead-letters").json()["count"] == 0
    assert client_for(eve).post(f"/api/dead-letters/{letter['id']}/requeue").status_code == 404

    requeued = api.post(f"/api/dead-letters/{letter['id']}/requeue")
    assert requeued.status_code == 200 and requeued.json()["requeuedAt"]
    assert INLINE.wait_idle(timeout=30)
    task.refresh_from_db()
    assert task.status == "completed" and task.attempts == 1
    again = api.post(f"/api/dead-letters/{letter['id']}/requeue")
    assert again.status_code == 400 and "requeued already" in again.json()["error"]["message"]
    assert DeadLetter.objects.count() == 1


def test_the_admin_lists_dead_letters_and_circuits_and_requeues(user, admin_client, hn_server, settings):
    settings.AGENT_MAX_RETRIES, settings.AGENT_CIRCUIT_FAILURES, settings.AGENT_CIRCUIT_COOLDOWN_S = 0, 1, 0
    hn_server.fail_next["/topstories.json"] = [503]
    plan = {"steps": [{"action": "http.get", "params": {"url": f"{hn_server.url}/topstories.json"}}]}
    task = services.task_execute(task=services.task_create(user=user, title="flaky", plan=plan))
    assert INLINE.wait_idle(timeout=30)
    letter = DeadLetter.objects.get(task=task)
    assert "flaky" in admin_client.get("/admin/tasks_app/deadletter/").content.decode()
    circuits = admin_client.get("/admin/tasks_app/toolcircuit/").content.decode()
    assert "http" in circuits and "open" in circuits

    answer = admin_client.post("/admin/tasks_app/deadletter/",
                               {"action": "requeue", "index": 0, "_selected_action": [letter.id]}, follow=True)
    assert "Requeued 1 run(s)" in answer.content.decode()
    assert INLINE.wait_idle(timeout=30)
    task.refresh_from_db()
    assert task.status == "completed", task.error
