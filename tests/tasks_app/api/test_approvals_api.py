"""The approvals inbox (API, page, admin), policy overrides as data, and irreversible steps shown before a run."""
from __future__ import annotations

import json

import pytest

from agents.dispatch import INLINE
from tasks_app.models import Approval, Task
from tests.fakes.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.usefixtures("inline_engine", "loopback_allowed")

READERS = [f"reader{n}@example.com" for n in range(11)]
NEWSLETTER = {"title": "Newsletter", "plan": {"steps": [
    {"action": "email.send", "description": "Send it to the readers",
     "params": {"to": READERS, "subject": "News", "body": "Hello"}}]}}


def started(api, body: dict) -> dict:
    made = api.post("/api/workspace/tasks", body, format="json")
    assert made.status_code == 201, made.content
    assert api.post(f"/api/agent/execute/{made.json()['id']}", {}, format="json").status_code in (200, 202)
    assert INLINE.wait_idle(timeout=60)
    return made.json()


def test_the_inbox_lists_pending_approvals_with_what_will_be_used(api, intruder_api, smtp_sink):
    task = started(api, NEWSLETTER)
    inbox = api.get("/api/approvals").json()
    assert inbox["count"] == 1
    [item] = inbox["results"]
    assert (item["taskId"], item["taskTitle"], item["step"], item["action"], item["status"]) == (
        task["id"], "Newsletter", 1, "email.send", "pending")
    assert item["recipients"] == READERS and item["input"]["to"] == READERS and item["policy"] == "mass-email"
    assert "the run writes to 11 recipients (the limit is 10)" in item["why"]
    assert item["irreversible"] is True and item["warning"] == "This action cannot be undone."
    assert item["createdAt"] < item["expiresAt"] and item["scope"] == "step" and item["edited"] is False
    assert api.get("/api/approvals", {"status": "approved"}).json()["count"] == 0
    assert api.get("/api/approvals", {"status": "maybe"}).status_code == 400
    assert intruder_api.get("/api/approvals", {"status": "all"}).json()["count"] == 0

    bad = api.post(f"/api/approvals/{item['id']}/decide", {"approve": True, "input": {"to": "nobody"}},
                   format="json")
    assert bad.status_code == 400 and "input" in bad.json()["error"]["fields"]
    assert "invalid input for email.send" in bad.json()["error"]["message"]
    edit = {"to": READERS[:10], "subject": "News", "body": "Hello"}
    decided = api.post(f"/api/approvals/{item['id']}/decide", {"approve": True, "input": edit}, format="json")
    assert decided.status_code == 200, decided.content
    assert decided.json()["input"]["to"] == READERS[:10] and decided.json()["originalInput"]["to"] == READERS
    assert decided.json()["edited"] is True and decided.json()["decidedBy"] == "ada"
    assert INLINE.wait_idle(timeout=60)
    assert api.get(f"/api/agent/status/{task['id']}").json()["status"] == "completed"
    [mail] = [e for e, m in zip(smtp_sink.envelopes, smtp_sink.messages, strict=True)
              if not m["X-Xantuus-Notification"]]
    assert mail.rcpt_tos == READERS[:10]
    again = api.post(f"/api/approvals/{item['id']}/decide", {"approve": False}, format="json")
    assert again.status_code == 400 and "already decided" in again.json()["error"]["message"]


def test_irreversible_steps_are_listed_before_the_run_starts(api, client, user):
    made = api.post("/api/workspace/tasks", NEWSLETTER, format="json").json()
    expected = [{"step": 1, "id": "step1", "action": "email.send", "description": "Send it to the readers",
                 "why": "email.send cannot be undone (it is irreversible)", "requiresApproval": False}]
    assert made["irreversibleSteps"] == expected
    assert api.get(f"/api/agent/status/{made['id']}").json()["irreversibleSteps"] == expected
    client.force_login(user)
    page = client.get(f"/tasks/{made['id']}/").content.decode()
    assert "Cannot be undone" in page and "email.send cannot be undone (it is irreversible)" in page


def test_a_rejection_with_a_reason_is_in_the_trace(api):
    with WebhookReceiver() as shop:
        plan = {"steps": [{"action": "http.post", "params": {"url": f"{shop.url}/orders", "body": {"n": 1}}}]}
        task = started(api, {"title": "order", "plan": plan})
        [item] = api.get("/api/approvals").json()["results"]
        assert item["policy"] == "external-writes" and "which is not trusted" in item["why"]
        answer = api.post(f"/api/approvals/{item['id']}/decide", {"approve": False, "reason": "wrong shop"},
                          format="json")
        assert answer.json()["reason"] == "wrong shop" and answer.json()["status"] == "rejected"
        status = api.get(f"/api/agent/status/{task['id']}").json()
        assert status["status"] == "cancelled" and status["error"].endswith("rejected by ada: wrong shop")
        trace = api.get(f"/api/agent/{task['id']}/trace").json()
        assert trace["steps"][-1]["status"] == "rejected" and trace["steps"][-1]["reason"] == "wrong shop"
        assert shop.received == []


def test_policy_overrides_are_data_per_user_and_per_project(api, user):
    effective = api.get("/api/approvals/policies").json()["effective"]
    assert [p["name"] for p in effective] == ["payments", "mass-email", "data-deletion", "external-writes"]
    bad = api.put("/api/approvals/policies/external-writes", {"rule": {"outside": "yes"}}, format="json")
    assert bad.status_code == 400 and "outside must be true or false" in bad.json()["error"]["message"]
    project = api.post("/api/workspace/projects", {"name": "trusted shop"}, format="json").json()
    off = api.put("/api/approvals/policies/external-writes", {"enabled": False, "projectId": project["id"]},
                  format="json")
    assert off.status_code == 200 and off.json()["projectId"] == project["id"]
    assert "external-writes" not in [p["name"] for p in api.get(
        "/api/approvals/policies", {"projectId": project["id"]}).json()["effective"]]
    with WebhookReceiver() as shop:
        plan = {"steps": [{"action": "http.post", "params": {"url": f"{shop.url}/orders", "body": {"n": 1}}}]}
        inside = started(api, {"title": "in the project", "plan": plan, "projectId": project["id"]})
        outside = started(api, {"title": "elsewhere", "plan": plan})
        assert Task.objects.get(id=inside["id"]).status == "completed" and len(shop.received) == 1
        assert Task.objects.get(id=outside["id"]).status == "awaiting_approval", "the default holds elsewhere"
    assert api.delete(f"/api/approvals/policies/external-writes?projectId={project['id']}").status_code == 204
    assert api.delete("/api/approvals/policies/external-writes").status_code == 404
    audit = api.get("/api/audit").json()["results"]
    assert "approval_policy.set" in [e["verb"] for e in audit]


def test_the_inbox_page_approves_edits_and_rejects(client, user, smtp_sink):
    client.force_login(user)
    plan = {"steps": [{"action": "email.send", "params": {"to": r, "subject": "News", "body": "Hi"}}
                      for r in READERS]}
    from tests.tasks_app.api.conftest import client_for

    task = started(client_for(user), {"title": "one by one", "plan": plan})
    page = client.get("/approvals/").content.decode()
    assert "one by one" in page and READERS[10] in page and "This approval covers the run" in page
    approval = Approval.objects.get(task_id=task["id"])
    answer = client.post(f"/approvals/{approval.id}/decide", {"decision": "edit", "recipients": "\n".join(READERS[1:])})
    assert answer.status_code == 302
    assert INLINE.wait_idle(timeout=60)
    sent = [e.rcpt_tos for e, m in zip(smtp_sink.envelopes, smtp_sink.messages, strict=True)
            if not m["X-Xantuus-Notification"]]
    assert sent == [[r] for r in READERS[1:]]
    assert "No pending approvals" in client.get("/approvals/").content.decode()
    shown = client.get("/approvals/", {"status": "approved"}).content.decode()
    assert "one by one" in shown and "as edited" in shown


def test_the_admin_decides_as_the_inbox_does(admin_client, user, smtp_sink):
    from tests.tasks_app.api.conftest import client_for

    task = started(client_for(user), NEWSLETTER)
    approval = Approval.objects.get(task_id=task["id"])
    page = admin_client.get(f"/admin/tasks_app/approval/{approval.id}/change/")
    assert page.status_code == 200 and READERS[0] in page.content.decode()
    bad = admin_client.post(f"/admin/tasks_app/approval/{approval.id}/change/",
                            {"decision": "edit", "edited": "{not json"})
    assert bad.status_code == 200 and "not valid JSON" in bad.content.decode()
    edit = json.dumps({"to": READERS[:3], "subject": "News", "body": "Hello"})
    admin_client.post(f"/admin/tasks_app/approval/{approval.id}/change/", {"decision": "edit", "edited": edit})
    assert INLINE.wait_idle(timeout=60)
    approval.refresh_from_db()
    assert approval.status == "approved" and approval.edited_input["to"] == READERS[:3]
    assert Task.objects.get(id=task["id"]).status == "completed"
