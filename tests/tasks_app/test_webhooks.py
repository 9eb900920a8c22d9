"""Webhooks end to end on the embedded runner: register, run a task, a local receiver gets the
signed event (Standard Webhooks), a 500 is retried, the egress policy refuses private addresses,
and the secret is shown once and found nowhere else."""
from __future__ import annotations

import json
import logging

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from agents.dispatch import INLINE
from tasks_app import services, webhook_delivery
from tasks_app.models import Task, TaskEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.agents.helpers import wait_for
from tests.fakes.webhook_receiver import WebhookReceiver

from .api.conftest import client_for

pytestmark = pytest.mark.usefixtures("inline_engine")
SUMMARY_PLAN = {"steps": [{"action": "ai.summarize", "params": {"items": ["alpha news", "beta news"]}}]}
FAILING_PLAN = {"steps": [{"action": "http.get", "params": {"url": "http://127.0.0.1:9/nothing-listens"}}]}


@pytest.fixture
def fast_retries(settings):
    settings.AGENT_WEBHOOK_RETRY_BASE_S = 0.05
    settings.WORKER_POLL_INTERVAL = 200  # the embedded beat looks for due deliveries this often


@pytest.fixture
def api(user):
    return client_for(user)


def register(api, url: str, events: list[str]) -> dict:
    answer = api.post("/api/webhooks", {"url": url, "events": events, "description": "ops"}, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def run_task(api, title: str, plan: dict) -> dict:
    task = api.post("/api/workspace/tasks", {"title": title, "plan": plan}, format="json").json()
    api.post(f"/api/agent/execute/{task['id']}", {"async": False}, format="json")
    assert INLINE.wait_idle(timeout=30)
    return api.get(f"/api/agent/status/{task['id']}").json() | {"id": task["id"]}


def test_a_completed_run_is_delivered_signed_and_a_500_is_retried(api, user, fast_retries, loopback_allowed,
                                                                   caplog):
    caplog.set_level(logging.DEBUG)
    with WebhookReceiver(statuses=[500]) as receiver:
        hook = register(api, f"{receiver.url}/hooks/xantuus", ["completed", "failed"])
        secret = hook["secret"]
        assert secret.startswith("whsec_") and len(secret) > 40
        task = run_task(api, "Morning digest", SUMMARY_PLAN)
        assert task["status"] == "completed"
        wait_for(lambda: len(receiver.received) == 2, what="the retried delivery")
        wait_for(lambda: WebhookDelivery.objects.get().status == "delivered", what="the delivery settled")

    first, second = receiver.received
    assert (first.answered, second.answered) == (500, 200) and first.path == "/hooks/xantuus"
    assert first.headers["webhook-id"] == second.headers["webhook-id"], "a retry is the same message"
    for request in (first, second):
        event = Webhook(secret).verify(request.body, request.headers)
        assert event["type"] == "task.completed"
        assert event["data"]["taskId"] == task["id"] and event["data"]["status"] == "completed"
        assert event["data"]["title"] == "Morning digest" and "alpha news" in event["data"]["summary"]
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43).verify(second.body, second.headers)  # another secret does not verify

    deliveries = api.get(f"/api/webhooks/{hook['id']}/deliveries").json()
    [delivery] = deliveries["results"]
    assert (delivery["event"], delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == (
        "completed", "delivered", 2, 200)
    assert [(a["number"], a["statusCode"]) for a in delivery["attemptLog"]] == [(1, 500), (2, 200)]
    assert delivery["attemptLog"][0]["error"] == "the receiver answered 500"
    assert f"msg_{delivery['id']}" == first.headers["webhook-id"]
    assert_secret_nowhere(api, secret, hook["id"], caplog)


def assert_secret_nowhere(api, secret: str, hook_id: str, caplog) -> None:
    """Shown once: no later answer, row, event or log line carries it."""
    for path in ("/api/webhooks", f"/api/webhooks/{hook_id}", f"/api/webhooks/{hook_id}/deliveries", "/api/audit"):
        answer = api.get(path)
        assert answer.status_code == 200 and secret not in answer.content.decode(), path
    assert "secret" not in api.get(f"/api/webhooks/{hook_id}").json()
    raw = secret.removeprefix("whsec_")
    stored = [*WebhookEndpoint.objects.values_list("secret_ciphertext", flat=True),
              *(json.dumps(p) for p in WebhookDelivery.objects.values_list("payload", flat=True)),
              *WebhookAttempt.objects.values_list("error", flat=True),
              *(json.dumps(p) for p in TaskEvent.objects.values_list("payload", flat=True))]
    assert not [text for text in stored if raw in text]
    assert raw not in caplog.text


def test_the_egress_policy_refuses_a_private_address_and_the_delivery_fails_with_why(api, settings, fast_retries):
    settings.AGENT_EGRESS_ALLOWLIST = []
    refused = api.post("/api/webhooks", {"url": "http://10.1.2.3/hook", "events": ["completed"]}, format="json")
    assert refused.status_code == 400
    assert "10.1.2.3" in refused.json()["error"]["fields"]["url"][0] and "AGENT_EGRESS_ALLOWLIST" in refused.text
    with WebhookReceiver() as receiver:
        # a name is checked when it is delivered to: localhost resolves to a loopback address
        hook = register(api, f"http://localhost:{receiver.server.server_port}/hook", ["completed"])
        assert run_task(api, "private", SUMMARY_PLAN)["status"] == "completed"
        wait_for(lambda: WebhookDelivery.objects.get().status == "failed", what="the refused delivery")
        assert receiver.received == []
    [delivery] = api.get(f"/api/webhooks/{hook['id']}/deliveries").json()["results"]
    assert delivery["attempts"] == 1 and delivery["lastStatusCode"] is None
    assert delivery["lastError"].startswith("refused by the egress policy: localhost resolves to")
    assert "private, loopback or reserved" in delivery["attemptLog"][0]["error"]


def test_the_secret_is_shown_once_and_another_user_sees_no_webhook(api, loopback_allowed, django_user_model):
    hook = register(api, "http://127.0.0.1:9/hook", ["completed"])
    listed = api.get("/api/webhooks").json()
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    changed = api.patch(f"/api/webhooks/{hook['id']}", {"events": ["step", "failed"], "enabled": False}, format="json")
    assert changed.status_code == 200 and hook["secret"] not in changed.content.decode()
    assert (changed.json()["events"], changed.json()["enabled"]) == (["failed", "step"], False)
    eve = client_for(django_user_model.objects.create_user(username="eve", password="pw-eve-123"))
    assert eve.get("/api/webhooks").json() == []
    assert eve.get(f"/api/webhooks/{hook['id']}").status_code == 404
    assert eve.delete(f"/api/webhooks/{hook['id']}").status_code == 404
    assert eve.get(f"/api/webhooks/{hook['id']}/deliveries").status_code == 404
    assert api.delete(f"/api/webhooks/{hook['id']}").status_code == 204
    assert api.get(f"/api/webhooks/{hook['id']}").status_code == 404


def test_bad_registrations_name_the_field(api, loopback_allowed):
    cases = [({"url": "ftp://example.com/x", "events": ["completed"]}, "url"),
             ({"url": "http://127.0.0.1:9/x", "events": ["finished"]}, "events.0"),
             ({"url": "http://127.0.0.1:9/x", "events": []}, "events"),
             ({"url": "http://127.0.0.1:9/x", "events": ["completed"], "secret": "mine"}, "secret")]
    for body, field in cases:
        answer = api.post("/api/webhooks", body, format="json")
        assert answer.status_code == 400 and field in answer.json()["error"]["fields"], (body, answer.content)
    assert not WebhookEndpoint.objects.exists()


def test_step_events_reach_a_step_webhook_once_per_step(api, user, fast_retries, loopback_allowed):
    plan = {"steps": [*SUMMARY_PLAN["steps"], {"action": "ai.summarize", "params": {"items": "{step1.result}"}}]}
    with WebhookReceiver() as receiver:
        hook = register(api, receiver.url, ["step"])
        task = run_task(api, "two steps", plan)
        wait_for(lambda: len(receiver.received) == 2, what="two step deliveries")
    events = [Webhook(hook["secret"]).verify(r.body, r.headers) for r in receiver.received]
    assert sorted((e["type"], e["data"]["step"], e["data"]["status"]) for e in events) == [
        ("task.step", 1, "completed"), ("task.step", 2, "completed")]
    assert {e["data"]["taskId"] for e in events} == {task["id"]} and events[0]["data"]["totalSteps"] == 2


def test_preferences_choose_email_and_webhook_kinds(api, user, fast_retries, loopback_allowed, mailoutbox):
    assert api.get("/api/notifications/preferences").json() == {
        "emailKinds": ["failed", "approval_needed", "credit_limit"],
        "webhookKinds": ["completed", "failed", "approval_needed", "credit_limit", "step"]}
    bad = api.patch("/api/notifications/preferences", {"webhookKinds": ["sometimes"]}, format="json")
    assert bad.status_code == 400 and "sometimes" in bad.json()["error"]["fields"]["webhookKinds"][0]
    changed = api.patch("/api/notifications/preferences", {"emailKinds": ["completed"], "webhookKinds": ["failed"]},
                        format="json")
    assert changed.json() == {"emailKinds": ["completed"], "webhookKinds": ["failed"]}
    with WebhookReceiver() as receiver:
        register(api, receiver.url, ["completed", "failed"])
        assert run_task(api, "quiet", SUMMARY_PLAN)["status"] == "completed"
        assert run_task(api, "broken", FAILING_PLAN)["status"] == "failed"
        wait_for(lambda: len(receiver.received) == 1, what="the failed delivery")
        INLINE.wait_idle(timeout=10)
    [event] = [json.loads(r.body) for r in receiver.received]
    assert event["type"] == "task.failed" and event["data"]["title"] == "broken" and event["data"]["error"]
    assert [m.subject for m in mailoutbox] == ["Task completed: quiet"]


def test_a_delivery_is_sent_once_per_attempt_even_when_two_deliverers_race(api, user, loopback_allowed):
    with WebhookReceiver() as receiver:
        register(api, receiver.url, ["completed"])
        task = services.task_create(user=user, title="race", plan=SUMMARY_PLAN)
        from agents.notify import notify

        notify(Task.objects.get(id=task.id), "completed", "race: completed")
        [delivery_id] = WebhookDelivery.objects.values_list("id", flat=True)
        # this test, the embedded runner's beat and a redelivered message all try to send it
        outcomes = [webhook_delivery.deliver(delivery_id), webhook_delivery.deliver(delivery_id),
                    *webhook_delivery.tick()]
        wait_for(lambda: WebhookDelivery.objects.get().status == "delivered", what="the delivery")
    assert outcomes.count("delivered") <= 1 and "retry" not in outcomes
    assert len(receiver.received) == 1 and WebhookDelivery.objects.get().attempts == 1


@pytest.fixture
def fast_retrying_worker(monkeypatch, request):
    """The real celery worker, retrying webhooks after 50 ms (its settings come from the environment)."""
    monkeypatch.setenv("AGENT_WEBHOOK_RETRY_BASE_S", "0.05")
    return request.getfixturevalue("celery_worker")


@pytest.mark.slow
def test_on_the_real_stack_a_worker_delivers_and_retries_over_the_control_queue(user, settings, fast_retrying_worker):
    with WebhookReceiver(statuses=[503]) as receiver:
        hook = register(client_for(user), f"{receiver.url}/in", ["completed"])
        task = services.task_execute(task=services.task_create(user=user, title="stacked", plan=SUMMARY_PLAN))
        wait_for(lambda: len(receiver.received) == 2, timeout=60, what=f"two attempts\n{fast_retrying_worker.tail()}")
        delivery = wait_for(lambda: WebhookDelivery.objects.filter(status="delivered").first(), what="delivered")
    events = [Webhook(hook["secret"]).verify(r.body, r.headers) for r in receiver.received]
    assert [e["data"]["taskId"] for e in events] == [task.id, task.id] and events[0]["type"] == "task.completed"
    assert [(a.number, a.status_code) for a in delivery.attempt_rows.all()] == [(1, 503), (2, 200)]
    log = fast_retrying_worker.log_path.read_text()
    assert "agents.tasks.deliver_webhook" in log, "the worker process sent them, not this one"
