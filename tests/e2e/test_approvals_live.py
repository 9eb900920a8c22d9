"""Approvals on the real stack: PostgreSQL, Redis, a `celery worker` process, daphne serving the API,
an SMTP sink, a shop's API on loopback and a Messages API fake the worker's model calls reach.

What a careful operator checks: a gated email waits, shows in the inbox with its recipients, and
exactly the recipients they kept receive it; a rejection's reason reaches the model, which takes
another route; an approved model decision is what runs (the model is not asked again); a plan of
eleven one-recipient sends asks once.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from rest_framework.authtoken.models import Token

from tests.fakes import processes
from tests.fakes.anthropic_fixtures import FAKE_API_KEY
from tests.fakes.anthropic_server import FakeAnthropic, reply_tool_use
from tests.fakes.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.slow]
READERS = [f"reader{n}@example.com" for n in range(11)]
REACT = {"planning": "react"}


class Stack:
    def __init__(self, host: str, token: str, smtp: Any, model: FakeAnthropic, worker: processes.Server):
        self.base, self.headers = f"http://{host}/api", {"Authorization": f"Token {token}"}
        self.smtp, self.model, self.worker = smtp, model, worker

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        answer = requests.request(method, f"{self.base}{path}", json=body, params=params, headers=self.headers,
                                  timeout=30)
        assert answer.status_code < 300, (method, path, answer.status_code, answer.text)
        return answer.json()

    def run(self, body: dict[str, Any]) -> str:
        task = self.call("POST", "/workspace/tasks", body)
        self.call("POST", f"/agent/execute/{task['id']}", {})
        return str(task["id"])

    def until(self, task_id: str, *statuses: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.call("GET", f"/agent/status/{task_id}")
            if status["status"] in statuses:
                return status
            assert time.monotonic() < deadline, f"{status}\n{self.worker.tail()}"
            time.sleep(0.1)

    def pending(self) -> list[dict[str, Any]]:
        return self.call("GET", "/approvals")["results"]

    def delivered(self) -> list[list[str]]:
        """Each message a run sent, as its envelope's recipients (the owner's notifications left out)."""
        return [e.rcpt_tos for e, m in zip(self.smtp.envelopes, self.smtp.messages, strict=True)
                if not m["X-Xantuus-Notification"]]


@pytest.fixture
def stack(transactional_db, settings, loopback_allowed, smtp_sink, user, tmp_path) -> Iterator[Stack]:
    settings.EMBEDDED = False
    with FakeAnthropic(api_key=FAKE_API_KEY) as model:
        env = processes.stack_env(EMAIL_HOST=smtp_sink.host, EMAIL_PORT=str(smtp_sink.port),
                                  ANTHROPIC_API_KEY=FAKE_API_KEY, ANTHROPIC_BASE_URL=model.url,
                                  AGENT_LLM_PROVIDER="anthropic")
        from xantuus.celery import app

        app.control.purge()
        worker = processes.celery_worker("worker", env, tmp_path)
        server, host = processes.daphne(env, tmp_path)
        try:
            processes.wait_until_ready(worker, "ready.")
            yield Stack(host, Token.objects.get_or_create(user=user)[0].key, smtp_sink, model, worker)
        finally:
            server.stop()
            worker.stop()


def test_a_gated_email_waits_and_exactly_the_kept_ten_receive_it(stack):
    plan = {"steps": [{"action": "email.send", "params": {"to": READERS, "subject": "News", "body": "Hello"}}]}
    task_id = stack.run({"title": "Newsletter", "plan": plan})
    stack.until(task_id, "awaiting_approval")
    [item] = stack.pending()
    assert (item["taskTitle"], item["action"], item["recipients"]) == ("Newsletter", "email.send", READERS)
    assert item["irreversible"] and "more than 10 recipients" in item["question"]
    assert stack.delivered() == [], "nothing went out before the yes"
    kept = [r for r in READERS if r != READERS[4]]
    stack.call("POST", f"/approvals/{item['id']}/decide",
               {"approve": True, "input": {"to": kept, "subject": "News", "body": "Hello"}})
    stack.until(task_id, "completed")
    assert stack.delivered() == [kept] and len(kept) == 10, "exactly the ten kept recipients, once"
    [decided] = stack.call("GET", "/approvals", status="approved")["results"]
    assert decided["originalInput"]["to"] == READERS and decided["input"]["to"] == kept


def test_a_rejection_reaches_the_model_which_takes_another_route(stack):
    with WebhookReceiver() as shop:
        def responder(request: dict[str, Any]) -> Any:
            results = [b for m in request["messages"] if isinstance(m["content"], list)
                       for b in m["content"] if b.get("type") == "tool_result"]
            if not results:
                return reply_tool_use("http__post", {"url": f"{shop.url}/orders", "body": {"qty": 5}},
                                      text="I will place the order.")
            if results[-1].get("is_error"):
                return reply_tool_use("ask_person", {"question": "Shall I email the supplier instead?",
                                                     "choices": ["yes", "no"]}, text="The order was refused.")
            return reply_tool_use("finish", {"goalMet": True, "result": "Asked the owner; they said yes."})

        stack.model.responder = responder
        task_id = stack.run({"title": "Order five widgets", "agentConfig": REACT})
        stack.until(task_id, "awaiting_approval")
        [gated] = stack.pending()
        assert gated["decision"]["reasoning"] == "I will place the order."
        stack.call("POST", f"/approvals/{gated['id']}/decide",
                   {"approve": False, "reason": "not from this shop: ask me about the supplier"})
        stack.until(task_id, "awaiting_approval")
        [question] = stack.pending()
        assert (question["kind"], question["choices"]) == ("question", ["yes", "no"])
        stack.call("POST", f"/approvals/{question['id']}/decide", {"approve": True, "answer": "yes"})
        stack.until(task_id, "completed")
        assert shop.received == [], "the rejected order was never placed"
        seen = stack.model.message_requests[1].tool_results()[-1]
        assert seen["is_error"] and "not from this shop: ask me about the supplier" in str(seen["content"])
        steps = stack.call("GET", f"/workspace/tasks/{task_id}/executions")
        steps = steps["results"] if isinstance(steps, dict) else steps
        assert [(s["action"], s["status"]) for s in sorted(steps, key=lambda s: s["step"])] == [
            ("http.post", "failed"), ("ask_person", "completed")]


def test_an_approved_model_decision_runs_as_approved_and_the_model_is_not_asked_again(stack):
    with WebhookReceiver() as shop:
        asked: list[int] = []

        def responder(request: dict[str, Any]) -> Any:
            asked.append(len(request["messages"]))
            if len(request["messages"]) == 1:  # were it asked again for the same step, it would say 999
                return reply_tool_use("http__post", {"url": f"{shop.url}/orders",
                                                     "body": {"qty": 1 if len(asked) == 1 else 999}})
            return reply_tool_use("finish", {"goalMet": True, "result": "Ordered one."})

        stack.model.responder = responder
        task_id = stack.run({"title": "Order one widget", "agentConfig": REACT})
        stack.until(task_id, "awaiting_approval")
        [gated] = stack.pending()
        assert gated["input"]["body"] == {"qty": 1} and gated["decision"]["action"] == "http.post"
        stack.call("POST", f"/approvals/{gated['id']}/decide", {"approve": True})
        stack.until(task_id, "completed")
        assert [json.loads(r.body) for r in shop.received] == [{"qty": 1}], "exactly the approved call ran"
        assert asked == [1, 3], "asked once for the order, then once more after it ran; never again for step 1"


def test_a_plan_of_eleven_one_recipient_sends_asks_once(stack):
    plan = {"steps": [{"action": "email.send", "params": {"to": r, "subject": "News", "body": "Hello"}}
                      for r in READERS]}
    task_id = stack.run({"title": "One by one", "plan": plan})
    stack.until(task_id, "awaiting_approval")
    [item] = stack.pending()
    assert (item["step"], item["scope"], item["recipients"], item["steps"]) == (1, "run", READERS,
                                                                                list(range(1, 12)))
    stack.call("POST", f"/approvals/{item['id']}/decide", {"approve": True})
    stack.until(task_id, "completed")
    assert sorted(stack.delivered()) == sorted([r] for r in READERS)
    assert stack.call("GET", "/approvals", status="all")["count"] == 1, "asked once for the whole run"
