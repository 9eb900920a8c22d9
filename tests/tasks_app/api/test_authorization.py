"""Every endpoint: another user's objects are not found (404), nobody gets 401."""
from __future__ import annotations

import pytest

from tasks_app import credentials, uploads, webhooks
from tasks_app.agent_data import Contact, Lead
from tasks_app.api import urls as api_urls
from tasks_app.models import Approval, DeadLetter, Project, Task, WebhookEndpoint

pytestmark = pytest.mark.django_db

PUBLIC = {"auth/token", "schema/", "docs/"}


@pytest.fixture
def owned(user):
    project = Project.objects.create(user=user, name="mine")
    task = Task.objects.create(user=user, title="mine", project=project, status="completed",
                               plan={"steps": [{"action": "http.get", "params": {"url": "http://x"}}]})
    credentials.store(user_id=user.id, provider="google", secret={"token": "mine-secret"})
    webhooks.webhook_register(user=user, url="https://hooks.example.com/mine", events=["completed"])
    return task, project


def others(task):
    """The task's approval and dead letter, made once: their ids complete the walk."""
    approval = Approval.objects.get_or_create(task=task, run=1, step=1, defaults={"kind": "policy"})[0]
    dead_letter = DeadLetter.objects.get_or_create(task=task, run=1, step=1, defaults={"error": "x"})[0]
    return approval.id, dead_letter.id


def calls(task, project):
    """(method, path, body) for every object endpoint."""
    t, p = task.id, project.id
    a, d = others(task)
    return [
        ("get", f"/api/agent/{t}/approvals", None), ("post", f"/api/approvals/{a}/decide", {"approve": True}),
        ("get", f"/api/dead-letters/{d}", None), ("post", f"/api/dead-letters/{d}/requeue", None),
        ("get", f"/api/workspace/tasks/{t}", None), ("patch", f"/api/workspace/tasks/{t}", {"title": "x"}),
        ("delete", f"/api/workspace/tasks/{t}", None), ("get", f"/api/workspace/tasks/{t}/executions", None),
        ("get", f"/api/workspace/projects/{p}", None), ("patch", f"/api/workspace/projects/{p}", {"name": "x"}),
        ("delete", f"/api/workspace/projects/{p}", None),
        ("post", f"/api/agent/execute/{t}", {"async": True}), ("get", f"/api/agent/status/{t}", None),
        ("post", f"/api/agent/{t}/pause", None), ("post", f"/api/agent/{t}/resume", None),
        ("post", f"/api/agent/{t}/cancel", None), ("get", f"/api/agent/{t}/trace", None),
        ("post", f"/api/agent/{t}/replay", {"fromStep": 1}), ("get", f"/api/agent/{t}/events", None),
        ("post", f"/api/agent/{t}/rollback", {"dryRun": False}), ("get", f"/api/agent/{t}/plans", None),
        ("put", "/api/approvals/policies/mass-email", {"enabled": False, "projectId": p}),  # another user's project
        ("delete", "/api/credentials/google", None),  # another user's stored credential: not theirs to forget
        *contact_calls(task),
        *data_calls(task),
        *webhook_calls(task),
    ]


def webhook_calls(task):
    w = WebhookEndpoint.objects.get(user=task.user).id
    return [("get", f"/api/webhooks/{w}", None), ("patch", f"/api/webhooks/{w}", {"enabled": False}),
            ("delete", f"/api/webhooks/{w}", None), ("get", f"/api/webhooks/{w}/deliveries", None)]


def contact_calls(task):
    c = Contact.objects.get_or_create(owner=task.user, email="mine@example.com")[0].id
    return [("get", f"/api/contacts/{c}", None), ("patch", f"/api/contacts/{c}", {"name": "x"}),
            ("delete", f"/api/contacts/{c}", None)]


def data_ids(task):
    """The owner's uploaded file and CRM lead, made once."""
    upload = task.user.uploads.first() or uploads.save(owner_id=task.user_id, name="mine.csv", content=b"a\n1\n")
    return upload.id, Lead.objects.get_or_create(owner=task.user, email="lead@example.com")[0].id


def data_calls(task):
    f, lead = data_ids(task)
    return [("get", f"/api/files/{f}", None), ("get", f"/api/files/{f}/download", None),
            ("delete", f"/api/files/{f}", None), ("get", f"/api/crm/leads/{lead}", None),
            ("delete", f"/api/crm/leads/{lead}", None)]


COLLECTIONS = [("get", "/api/workspace/tasks", None), ("post", "/api/workspace/tasks", {"title": "x"}),
               ("get", "/api/workspace/projects", None), ("post", "/api/workspace/projects", {"name": "x"}),
               ("get", "/api/agent/metrics", None), ("get", "/api/tools", None), ("get", "/api/dead-letters", None),
               ("get", "/api/credentials", None), ("put", "/api/credentials/email_provider", {"provider": "gmail"}),
               ("get", "/api/contacts", None), ("post", "/api/contacts", {"email": "x@example.com"}),
               ("post", "/api/contacts/import", None),
               ("get", "/api/files", None), ("post", "/api/files", None), ("get", "/api/crm/leads", None),
               ("get", "/api/prices", None), ("get", "/api/audit", None), ("get", "/api/webhooks", None),
               ("get", "/api/credits", None), ("get", "/api/credits/ledger", None),
               ("post", "/api/webhooks", {"url": "https://hooks.example.com/x", "events": ["failed"]}),
               ("get", "/api/notifications/preferences", None),
               ("get", "/api/approvals", None), ("get", "/api/approvals/policies", None),
               ("patch", "/api/notifications/preferences", {"emailKinds": []})]


def test_the_walk_covers_every_api_route(owned):
    walked = {path for _, path, _ in calls(*owned) + COLLECTIONS}
    routes = {str(p.pattern) for p in api_urls.urlpatterns} - PUBLIC
    task, project = owned
    for route in routes:
        approval, dead_letter = others(task)
        concrete = "/api/" + (route.replace("<str:task_id>", task.id).replace("<str:id>", task.id)
                              .replace("<str:approval_id>", approval).replace("<str:dead_letter_id>", dead_letter)
                              .replace("<str:provider>", "google").replace("<str:name>", "mass-email")
                              .replace("<str:contact_id>", Contact.objects.get(email="mine@example.com").id)
                              .replace("<str:file_id>", data_ids(task)[0]).replace("<str:lead_id>", data_ids(task)[1])
                              .replace("<str:webhook_id>", WebhookEndpoint.objects.get(user=task.user).id))
        concrete_project = "/api/" + route.replace("<str:id>", project.id)
        concrete_provider = "/api/" + route.replace("<str:provider>", "email_provider")
        assert walked & {concrete, concrete_project, concrete_provider}, f"{route} is not walked"


def test_another_users_objects_are_404_and_unchanged(owned, intruder_api):
    task, project = owned
    for method, path, body in calls(task, project):
        response = getattr(intruder_api, method)(path, body, format="json")
        assert response.status_code == 404, (method, path, response.content)
        assert response.json()["error"]["code"] == "not_found"
    task.refresh_from_db()
    assert (task.title, task.status, task.attempts) == ("mine", "completed", 0)
    assert Project.objects.filter(id=project.id, name="mine").exists()
    assert Task.objects.count() == 1
    assert credentials.load_all(user_id=task.user_id) == {"google": {"token": "mine-secret"}}
    assert WebhookEndpoint.objects.filter(user=task.user, enabled=True).count() == 1


def test_another_users_collections_do_not_show_mine(owned, intruder_api):
    assert intruder_api.get("/api/workspace/tasks").json()["count"] == 0
    assert intruder_api.get("/api/workspace/tasks", {"projectId": owned[1].id}).json()["count"] == 0
    assert intruder_api.get("/api/workspace/projects").json() == []
    assert intruder_api.get("/api/agent/metrics").json()["byStatus"] == {}
    assert intruder_api.get("/api/credentials").json() == []
    assert intruder_api.get("/api/webhooks").json() == []
    assert intruder_api.get("/api/audit").json()["count"] == 0
    assert intruder_api.get("/api/approvals", {"status": "all"}).json()["count"] == 0
    assert intruder_api.get("/api/prices", {"taskId": owned[0].id}).json()["count"] == 0
    assert intruder_api.get("/api/credits/ledger", {"taskId": owned[0].id}).json()["count"] == 0
    assert intruder_api.put("/api/credentials/email_provider", {"provider": "gmail"}, format="json").status_code == 200
    assert set(credentials.load_all(user_id=owned[0].user_id)) == {"google"}, "the intruder wrote only their own"
    made = intruder_api.post("/api/workspace/tasks", {"title": "x", "projectId": owned[1].id}, format="json")
    assert made.status_code == 400 and "projectId" in made.json()["error"]["fields"]


def test_anonymous_gets_401_everywhere(owned, anon_api):
    for method, path, body in calls(*owned) + COLLECTIONS:
        response = getattr(anon_api, method)(path, body, format="json")
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "not_authenticated"
        assert response["WWW-Authenticate"] == "Token"
    assert Task.objects.count() == 1
    assert set(credentials.load_all(user_id=owned[0].user_id)) == {"google"}


def test_a_wrong_token_or_password_is_refused(anon_api, user):
    anon_api.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    response = anon_api.get("/api/workspace/tasks")
    assert response.status_code == 401 and response.json()["error"]["code"] == "authentication_failed"
    bad = anon_api.post("/api/auth/token", {"username": "ada", "password": "wrong"}, format="json")
    assert bad.status_code == 400 and "Unable to log in" in bad.json()["error"]["message"]


def test_session_login_works_too(client, user):
    client.force_login(user)
    assert client.get("/api/workspace/tasks").status_code == 200


def test_password_guessing_is_rate_limited(anon_api, user, settings):
    from django.core.cache import cache

    cache.clear()
    settings.AGENT_RATE_LOGIN = "3/min"
    guesses = [anon_api.post("/api/auth/token", {"username": "ada", "password": f"guess{n}"}, format="json")
               for n in range(4)]
    assert [r.status_code for r in guesses] == [400, 400, 400, 429]
    assert int(guesses[-1]["Retry-After"]) > 0 and guesses[-1].json()["error"]["code"] == "throttled"
    cache.clear()
