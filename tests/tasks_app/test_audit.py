"""The audit log: what people did through the API, the admin and commands is recorded with
who and from where, each owner sees only their own entries, and no entry can be changed."""
from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from agents.dispatch import INLINE
from tasks_app.control_data import AuditImmutable
from tasks_app.models import AuditEntry, Task

from .api.conftest import client_for

pytestmark = pytest.mark.usefixtures("inline_engine")
SUMMARY_PLAN = {"steps": [{"action": "ai.summarize", "params": {"items": ["alpha", "beta"]}}]}
PLANTED_TOKEN = "ya29.planted-access-token-7f3a"


def mass_email_plan(recipients: int) -> dict:
    to = [f"reader{n}@example.com" for n in range(recipients)]
    return {"steps": [{"action": "email.send", "params": {"to": to, "subject": "News", "body": "Hello"}}]}


def start(api, title: str, plan: dict) -> str:
    task_id = api.post("/api/workspace/tasks", {"title": title, "plan": plan}, format="json").json()["id"]
    assert api.post(f"/api/agent/execute/{task_id}", {}, format="json").status_code == 202
    assert INLINE.wait_idle(timeout=30)
    return task_id


def approve(api, task_id: str) -> str:
    [approval] = api.get(f"/api/agent/{task_id}/approvals").json()
    answer = api.post(f"/api/approvals/{approval['id']}/decide", {"approve": True}, format="json")
    assert answer.status_code == 200, answer.content
    assert INLINE.wait_idle(timeout=30)
    return approval["id"]


def test_what_a_person_did_through_the_api_is_in_their_audit_log(user, loopback_allowed, django_user_model):
    api = client_for(user)
    assert api.put("/api/credentials/google", {"token": PLANTED_TOKEN}, format="json").status_code == 200
    hook = api.post("/api/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["failed"]}, format="json").json()
    sent = start(api, "newsletter", mass_email_plan(11))
    approval_id = approve(api, sent)
    assert Task.objects.get(id=sent).status == "completed"
    assert api.post(f"/api/agent/{sent}/rollback", {}, format="json").status_code == 200
    stopped = start(api, "second thoughts", mass_email_plan(12))
    assert api.post(f"/api/agent/{stopped}/cancel", format="json").status_code == 200

    log = api.get("/api/audit", {"pageSize": 100}).json()
    entries = [(e["verb"], e["targetType"], e["targetId"]) for e in reversed(log["results"])]
    assert entries == [
        ("credentials.changed", "credential", "google"), ("webhook.added", "webhook", hook["id"]),
        ("task.created", "task", sent), ("task.executed", "task", sent), ("approval.decided", "approval", approval_id),
        ("task.rollback", "task", sent), ("task.created", "task", stopped), ("task.executed", "task", stopped),
        ("task.cancelled", "task", stopped)]
    assert {(e["actorKind"], e["username"], e["userId"], e["address"]) for e in log["results"]} == {
        ("api", "ada", user.id, "127.0.0.1")}
    decided = next(e for e in log["results"] if e["verb"] == "approval.decided")
    assert decided["details"] | {"taskId": sent, "step": 1, "action": "email.send", "policy": "mass-email",
                                 "approve": True} == decided["details"]
    assert PLANTED_TOKEN not in json.dumps(log), "a credential's value never enters the log"

    only = api.get("/api/audit", {"verb": "task.cancelled"}).json()
    assert [e["targetId"] for e in only["results"]] == [stopped]
    assert api.get("/api/audit", {"verb": "task.*", "targetId": sent}).json()["count"] == 3
    assert api.get("/api/audit", {"targetType": "webhook"}).json()["count"] == 1
    eve = client_for(django_user_model.objects.create_user(username="eve", password="pw-eve-123"))
    assert eve.get("/api/audit").json()["count"] == 0


def test_an_entry_can_be_neither_changed_nor_deleted(user):
    client_for(user).post("/api/workspace/tasks", {"title": "kept", "plan": SUMMARY_PLAN}, format="json")
    entry = AuditEntry.objects.get()
    entry.verb = "task.forgotten"
    with pytest.raises(AuditImmutable):
        entry.save()
    with pytest.raises(AuditImmutable):
        entry.delete()
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.filter(id=entry.id).update(verb="task.forgotten")
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get().verb == "task.created"


def test_the_admin_shows_the_whole_log_read_only_and_records_its_own_actions(admin_client, admin_user, user):
    api = client_for(user)
    task_id = start(api, "held", mass_email_plan(11))
    answer = admin_client.post("/admin/tasks_app/task/", {"action": "cancel", "_selected_action": [task_id]})
    assert answer.status_code == 302
    cancelled = AuditEntry.objects.get(verb="task.cancelled")
    assert (cancelled.actor_kind, cancelled.username, cancelled.user_id, cancelled.owner_id) == (
        "admin", admin_user.username, admin_user.id, user.id)
    assert cancelled.address == "127.0.0.1"
    newest = api.get("/api/audit").json()["results"][0]
    assert newest["verb"] == "task.cancelled", "the owner sees what an operator did to their task"

    page = admin_client.get("/admin/tasks_app/auditentry/")
    assert page.status_code == 200 and "task.cancelled" in page.content.decode()
    assert admin_client.get(f"/admin/tasks_app/auditentry/{cancelled.id}/change/").status_code == 200
    assert admin_client.post(f"/admin/tasks_app/auditentry/{cancelled.id}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.post(f"/admin/tasks_app/auditentry/{cancelled.id}/change/", {"verb": "x"}).status_code == 403
    assert admin_client.get("/admin/tasks_app/auditentry/add/").status_code == 403
    assert AuditEntry.objects.filter(id=cancelled.id, verb="task.cancelled").exists()


def test_a_command_is_recorded_as_a_command(tmp_path, user):
    request = tmp_path / "task.json"
    request.write_text(json.dumps({"title": "from the shell", "plan": SUMMARY_PLAN}))
    call_command("run_task", str(request), "--user", "ada", "--json")
    assert [(e.verb, e.actor_kind, e.username, e.address) for e in AuditEntry.objects.order_by("id")] == [
        ("task.created", "command", "ada", ""), ("task.executed", "command", "ada", "")]
